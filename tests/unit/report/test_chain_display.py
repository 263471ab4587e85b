"""Every report format shows the chain of GitOps objects that applied a workload."""

from __future__ import annotations

from pathlib import Path

from junitparser import JUnitXml

from drdrill.report.writer import write_reports
from drdrill.results import (
    BootstrapRecord,
    DrillReport,
    LayerReady,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    ToolVersions,
    Verdict,
    WorkloadResult,
)
from tests.unit.report.test_simulation_label import START

CHAIN = ["Kustomization flux-system/flux-system", "Kustomization flux-system/apps",
         "HelmRelease ml/iris", "Deployment ml/iris"]


def _report() -> DrillReport:
    return DrillReport(
        drill="fleet", verdict=Verdict.FAIL, summary="workloads failed", started_at=START,
        finished_at=START, provider="kwok",
        rto=RtoResult(budget_seconds=900, actual_seconds=40, met=True),
        rpo=RpoResult(), phases=[PhaseResult(name="workloads", status=PhaseStatus.FAILED)],
        workloads=[WorkloadResult(kind="Deployment", namespace="ml", name="iris",
                                  healthy=False, reason="pod crash-looping", chain=CHAIN)],
        bootstrap=BootstrapRecord(
            engine="flux", version="v2.7", script="b.sh", sha256="0" * 64,
            layout="a `flux bootstrap` layout",
            rewrites=["GitRepository flux-system/flux-system: ssh://a -> http://127.0.0.1:1/r"],
            layers=[LayerReady(kind="Kustomization", namespace="flux-system", name="infra",
                               ready_after_seconds=4.0),
                    LayerReady(kind="Kustomization", namespace="flux-system", name="apps",
                               depends_on=["Kustomization flux-system/infra"],
                               ready_after_seconds=12.5)]),
        versions=ToolVersions(drdrill="0", scenario_api_version="drdrill/v1alpha1"),
    )


def test_chain_in_markdown_html_junit_and_json(tmp_path: Path) -> None:
    paths = write_reports(_report(), report_dir=tmp_path)
    folder = paths.directory
    applied = "Kustomization flux-system/flux-system → Kustomization flux-system/apps → " \
              "HelmRelease ml/iris"
    markdown = (folder / "report.md").read_text()
    [line] = [x for x in markdown.splitlines() if x.startswith("- Deployment")]
    assert line.endswith(f"Applied by: {applied}")
    assert "- rewritten: GitRepository flux-system/flux-system" in markdown
    assert ("Layers in the order they became ready: Kustomization flux-system/infra 4.0s, "
            "Kustomization flux-system/apps 12.5s.") in markdown
    html = (folder / "report.html").read_text()
    assert f"applied by {applied}" in html
    assert "(after Kustomization flux-system/infra): ready" in html
    cases = [case for suite in JUnitXml.fromfile(str(folder / "junit.xml")) for case in suite
             if case.name == "Deployment ml/iris"]
    assert cases and f"applied by: {applied}" in (cases[0].system_out or "")
    assert '"chain": [' in (folder / "report.json").read_text()
