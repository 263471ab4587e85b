"""Every report format says what was simulated next to the verdict and the RTO, and only then.

Each format is parsed back (JSON, Markdown lines, HTML, JUnit XML, terminal text) rather than
searched as a string, so a label in the wrong place, or a file that no longer parses, fails.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from junitparser import Failure, JUnitXml, TestCase
from rich.console import Console

from drdrill.report.terminal import render_terminal, rto_line, verdict_line
from drdrill.report.untrusted import visible_controls
from drdrill.report.writer import ReportPaths, load_report, write_reports
from drdrill.results import (
    BackupFailure,
    BackupResult,
    DrillReport,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    SimulatedResource,
    Simulation,
    ToolVersions,
    Verdict,
    WorkloadResult,
)

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LABEL = "PASS (simulated pods and 2 custom resources)"
RTO_NOTE = "measured on a simulated cluster"
SCALE_UP = "waited 40s for the gpu pool to scale up"
# A reason as a cluster might send it: a terminal escape, NUL, BEL, and markup.
HOSTILE = "Back-off\x1b[31m pulling\x00 image\x07 <script>alert(1)</script>"
HOSTILE_KEY = "models/w\x01.bin"


def _report(*, provider: str, simulation: Simulation | None,
            verdict: Verdict = Verdict.PASS) -> DrillReport:
    simulated = simulation is not None and simulation.any
    return DrillReport(
        drill="ml-platform",
        verdict=verdict,
        summary="the platform came back within its SLA",
        started_at=START,
        finished_at=START,
        provider=provider,
        rto=RtoResult(budget_seconds=900, actual_seconds=41.5, met=True),
        rpo=RpoResult(budget_seconds=86400, worst_age_seconds=3600, met=True),
        phases=[
            PhaseResult(name="cluster", status=PhaseStatus.PASSED, started_at=START,
                        duration_seconds=4.2, budget_seconds=120, ended_after_seconds=4.2),
            PhaseResult(name="workloads", status=PhaseStatus.PASSED, started_at=START,
                        duration_seconds=37.3, ended_after_seconds=41.5),
        ],
        workloads=[
            WorkloadResult(kind="InferenceService", namespace="serving", name="sklearn-iris",
                           healthy=True, ready_after_seconds=41.0, rule="InferenceService",
                           simulated=simulated, notes=[SCALE_UP]),
            WorkloadResult(kind="ConfigMap", namespace="serving", name="settings", healthy=True,
                           ready_after_seconds=0.0, rule="no-status"),
        ],
        simulation=simulation,
        versions=ToolVersions(drdrill="0.1.0", scenario_api_version="drdrill/v1alpha1"),
    )


def simulated_report() -> DrillReport:
    """kwok: pods simulated, and two custom resources whose status drdrill wrote."""
    return _report(provider="kwok", simulation=Simulation(
        pods=True,
        description="kwok ran the pods: Ready after 1s whatever their image.",
        custom_resources=[
            SimulatedResource(api_version="serving.kserve.io/v1beta1", kind="InferenceService",
                              namespace="serving", name="sklearn-iris", outcome="ready",
                              simulator="drdrill inferenceservice"),
            SimulatedResource(api_version="kubeflow.org/v1", kind="Notebook",
                              namespace="team-a", name="lab", outcome="ready",
                              simulator="drdrill notebook"),
        ],
    ))


def real_report() -> DrillReport:
    """An existing cluster: nothing simulated, simulation is None."""
    return _report(provider="existing", simulation=None)


def hostile_report() -> DrillReport:
    """A simulated FAIL whose reason, notes and backup key hold control characters and markup."""
    base = simulated_report()
    bad = WorkloadResult(kind="Deployment", namespace="serving", name="api", healthy=False,
                         reason=HOSTILE, rule="Deployment", simulated=True, notes=[HOSTILE])
    backup = BackupResult(name="models", bucket="ml", prefix="m/", holds="artifacts",
                          verified=False, rpo_met=True,
                          failures=[BackupFailure(key=HOSTILE_KEY, problem="sha256 mismatch")])
    return base.model_copy(update={
        "verdict": Verdict.FAIL, "summary": "phase workloads failed",
        "workloads": [*base.workloads, bad], "backups": [backup],
    })


def _write(report: DrillReport, tmp_path: Path) -> ReportPaths:
    return write_reports(report, report_dir=tmp_path)


# --- report.json -----------------------------------------------------------------------------


def test_json_records_what_was_simulated_and_matches_the_schema(tmp_path: Path) -> None:
    schema = DrillReport.model_json_schema(by_alias=True, mode="serialization")
    assert "simulation" in schema["properties"]
    simulated = json.loads(_write(simulated_report(), tmp_path / "s").json.read_text())
    real = json.loads(_write(real_report(), tmp_path / "r").json.read_text())
    jsonschema.validate(simulated, schema)
    jsonschema.validate(real, schema)

    assert simulated["simulation"]["pods"] is True
    assert [(r["kind"], r["namespace"], r["name"], r["outcome"])
            for r in simulated["simulation"]["customResources"]] == [
        ("InferenceService", "serving", "sklearn-iris", "ready"),
        ("Notebook", "team-a", "lab", "ready"),
    ]
    assert simulated["workloads"][0]["rule"] == "InferenceService"
    assert simulated["workloads"][0]["simulated"] is True
    assert simulated["workloads"][0]["notes"] == [SCALE_UP]
    assert "simulation" in real and real["simulation"] is None
    assert real["workloads"][0]["simulated"] is False


def test_json_reads_back_with_the_same_label(tmp_path: Path) -> None:
    paths = _write(simulated_report(), tmp_path)
    assert load_report(paths.json).verdict_label() == LABEL
    assert load_report(paths.json).rto_note() == RTO_NOTE


# --- report.md -------------------------------------------------------------------------------


def _md_lines(report: DrillReport, tmp_path: Path) -> list[str]:
    return _write(report, tmp_path).markdown.read_text().splitlines()


def _section(lines: list[str], heading: str) -> list[str]:
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(("#", "**", "|"))),
               len(lines))
    return lines[start:end]


def test_markdown_labels_the_verdict_and_rto_of_a_simulated_drill(tmp_path: Path) -> None:
    lines = _md_lines(simulated_report(), tmp_path)
    assert lines[0] == f"## drdrill `ml-platform`: {LABEL}"
    rto = next(line for line in lines if line.startswith("- **RTO**"))
    assert rto == f"- **RTO** 41.5s of 15m00s: met ({RTO_NOTE})"
    simulated = _section(lines, "### Simulated")
    assert "kwok ran the pods: Ready after 1s whatever their image." in simulated
    assert "- InferenceService serving/sklearn-iris: ready" in simulated
    assert "- Notebook team-a/lab: ready" in simulated


def test_markdown_caps_the_list_of_simulated_resources(tmp_path: Path) -> None:
    many = [SimulatedResource(api_version="kubeflow.org/v1", kind="Notebook", namespace="team-a",
                              name=f"lab-{index}", outcome="ready", simulator="drdrill notebook")
            for index in range(15)]
    report = _report(provider="kwok", simulation=Simulation(custom_resources=many))
    lines = _md_lines(report, tmp_path)
    assert lines[0] == "## drdrill `ml-platform`: PASS (15 simulated custom resources)"
    listed = [line for line in _section(lines, "### Simulated") if line.startswith("- ")]
    assert len(listed) == 11
    assert listed[-1] == "- ... and 5 more (see report.json)"


def test_markdown_workload_lines_carry_rule_notes_and_simulated_marker(tmp_path: Path) -> None:
    lines = _md_lines(simulated_report(), tmp_path)
    assert "**Workloads:** 2/2 healthy (1 with simulated status)." in lines
    assert ("- InferenceService serving/sklearn-iris: healthy after 41.0s "
            f"(rule: InferenceService; simulated status). Notes: {SCALE_UP}") in lines
    # Healthy and without notes: counted, not listed.
    assert not [line for line in lines if "settings" in line]


def test_markdown_of_a_real_cluster_has_no_label(tmp_path: Path) -> None:
    lines = _md_lines(real_report(), tmp_path)
    assert lines[0] == "## drdrill `ml-platform`: PASS"
    rto = next(line for line in lines if line.startswith("- **RTO**"))
    assert rto == "- **RTO** 41.5s of 15m00s: met"
    assert "### Simulated" not in lines
    assert "**Workloads:** 2/2 healthy." in lines
    assert ("- InferenceService serving/sklearn-iris: healthy after 41.0s "
            f"(rule: InferenceService). Notes: {SCALE_UP}") in lines
    assert not [line for line in lines if "simulated" in line.lower()]


def test_markdown_with_an_empty_simulation_has_no_label(tmp_path: Path) -> None:
    report = _report(provider="kind", simulation=Simulation())
    lines = _md_lines(report, tmp_path)
    assert lines[0] == "## drdrill `ml-platform`: PASS"
    assert not [line for line in lines if "simulated" in line.lower()]


def test_markdown_keeps_hostile_text_inert(tmp_path: Path) -> None:
    text = _write(hostile_report(), tmp_path).markdown.read_text()
    assert "<script>" not in text
    assert not [c for c in text if ord(c) < 0x20 and c != "\n"]
    line = next(line for line in text.splitlines() if line.startswith("- Deployment serving/api"))
    # Backslashes and brackets are escaped for Markdown; rendered, the line reads as written.
    assert line.startswith(
        "- Deployment serving/api: NOT healthy, Back-off\\\\x1b\\[31m pulling\\\\x00")
    assert "&lt;script&gt;" in line and "(rule: Deployment; simulated status)" in line


# --- report.html -----------------------------------------------------------------------------


class _Page(HTMLParser):
    """What a reader sees: headings, the verdict badge, tables by section, visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.verdict = ""
        self.headings: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self.starttags: list[str] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starttags.append(tag)
        self._stack.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            section = self.headings[-1] if self.headings else ""
            self.tables.setdefault(section, []).append(self._row)
            self._row = None
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        tags = [tag for tag, _ in self._stack]
        if "style" in tags or not data.strip():
            return
        text = data.strip()
        if tags and tags[-1] == "title" and "svg" not in tags:
            self.title += text
        if tags and tags[-1] == "h2":
            self.headings.append(text)
        if tags and tags[-1] == "span" and "verdict" in (self._stack[-1][1].get("class") or ""):
            self.verdict = text
        if self._cell is not None:
            self._cell.append(text)
        self.text.append(text)


def _page(report: DrillReport, tmp_path: Path) -> tuple[_Page, str]:
    html = _write(report, tmp_path).html.read_text()
    page = _Page()
    page.feed(html)
    page.close()
    return page, html


def _rows(page: _Page, section: str) -> dict[str, dict[str, str]]:
    """Rows by their name column, each as {header: cell}."""
    header, *rows = page.tables[section]
    return {row[1]: dict(zip(header, row, strict=True)) for row in rows}


def test_html_labels_the_verdict_rto_and_simulated_workloads(tmp_path: Path) -> None:
    page, _ = _page(simulated_report(), tmp_path)
    assert page.verdict == LABEL
    assert page.title == f"drdrill ml-platform: {LABEL}"
    sla = {row[0]: row for row in page.tables["SLA"]}
    assert f"RTO {RTO_NOTE}" in sla
    assert "Simulated" in page.headings
    assert page.tables["Simulated"][1:] == [
        ["InferenceService", "serving/sklearn-iris", "serving.kserve.io/v1beta1", "ready",
         "drdrill inferenceservice"],
        ["Notebook", "team-a/lab", "kubeflow.org/v1", "ready", "drdrill notebook"],
    ]
    assert page.tables["Workloads"][0] == [
        "kind", "name", "healthy", "ready after", "rule", "reason"]
    workloads = _rows(page, "Workloads")
    iris = workloads["serving/sklearn-iris"]
    assert iris == {"kind": "InferenceService", "name": "serving/sklearn-iris",
                    "healthy": "yes simulated", "ready after": "41.0s",
                    "rule": "InferenceService", "reason": SCALE_UP}
    assert workloads["serving/settings"]["rule"] == "no-status"
    assert workloads["serving/settings"]["healthy"] == "yes"


def test_html_of_a_real_cluster_has_no_label(tmp_path: Path) -> None:
    page, _ = _page(real_report(), tmp_path)
    assert page.verdict == "PASS"
    assert page.title == "drdrill ml-platform: PASS"
    assert "Simulated" not in page.headings
    assert [row[0] for row in page.tables["SLA"]][1] == "RTO"
    assert _rows(page, "Workloads")["serving/sklearn-iris"]["healthy"] == "yes"
    assert _rows(page, "Workloads")["serving/sklearn-iris"]["rule"] == "InferenceService"
    assert not [text for text in page.text if "simulated" in text.lower()]


def test_html_escapes_markup_and_shows_control_characters(tmp_path: Path) -> None:
    page, html = _page(hostile_report(), tmp_path)
    assert "script" not in page.starttags
    assert "<script>" not in html
    assert not [c for c in html if ord(c) < 0x20 and c not in "\n\t"]
    api = _rows(page, "Workloads")["serving/api"]
    shown = visible_controls(HOSTILE)
    assert api["reason"] == f"{shown} {shown}"  # the reason, then the note
    assert api["healthy"] == "no simulated"
    assert page.verdict == "FAIL (simulated pods and 2 custom resources)"


# --- junit.xml -------------------------------------------------------------------------------


def _suite(report: DrillReport, tmp_path: Path) -> tuple[ET.Element, str]:
    text = _write(report, tmp_path).junit.read_text()
    root = ET.fromstring(text)  # strict: a control character would make this raise
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0], text


def _properties(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.findall("properties/property")}


def _case(suite: ET.Element, name: str) -> ET.Element:
    [case] = [case for case in suite.findall("testcase") if case.get("name") == name]
    return case


def test_junit_carries_the_simulation_as_properties_and_system_out(tmp_path: Path) -> None:
    suite, _ = _suite(simulated_report(), tmp_path)
    assert _properties(suite) == {
        "verdict": LABEL,
        "simulation": "simulated pods and 2 custom resources",
        "rto-note": RTO_NOTE,
    }
    out = (suite.findtext("system-out") or "").splitlines()
    assert out[0] == f"verdict: {LABEL}: the platform came back within its SLA"
    assert out[1] == f"RTO 41.5s of 15m00s, {RTO_NOTE}"
    assert out[2] == "simulation: simulated pods and 2 custom resources"
    assert out[-2:] == ["simulated InferenceService serving/sklearn-iris: ready",
                        "simulated Notebook team-a/lab: ready"]
    assert _case(suite, "rto").findtext("system-out") == RTO_NOTE
    iris = _case(suite, "InferenceService serving/sklearn-iris")
    assert _properties(iris) == {"rule": "InferenceService", "simulated": "true"}
    assert (iris.findtext("system-out") or "").splitlines() == [
        "rule: InferenceService",
        "status written by drdrill's simulation, not by a controller",
        SCALE_UP,
    ]
    assert _properties(_case(suite, "ConfigMap serving/settings")) == {
        "rule": "no-status", "simulated": "false"}


def test_junit_of_a_real_cluster_has_no_label(tmp_path: Path) -> None:
    suite, text = _suite(real_report(), tmp_path)
    assert _properties(suite) == {"verdict": "PASS", "simulation": "", "rto-note": ""}
    assert (suite.findtext("system-out") or "").splitlines()[:2] == [
        "verdict: PASS: the platform came back within its SLA", "RTO 41.5s of 15m00s"]
    assert _case(suite, "rto").find("system-out") is None
    assert "simulated" not in text.replace('name="simulated" value="false"', "")


def test_junit_stays_well_formed_with_hostile_text(tmp_path: Path) -> None:
    suite, text = _suite(hostile_report(), tmp_path)
    assert not [c for c in text if ord(c) < 0x20 and c not in "\n\t\r"]
    assert "<script>" not in text
    failure = _case(suite, "Deployment serving/api").find("failure")
    assert failure is not None
    assert failure.get("message") == visible_controls(HOSTILE)
    assert "\\x1b[31m" in (failure.get("message") or "")
    backup = _case(suite, "models").find("failure")
    assert backup is not None and "models/w\\x01.bin: sha256 mismatch" in (
        backup.get("message") or "")
    # junitparser, as a CI tool would use it, reads it back too.
    xml = JUnitXml.fromstring(text)
    cases = {case.name: case for suite in xml for case in suite if isinstance(case, TestCase)}
    assert isinstance(cases["Deployment serving/api"].result[0], Failure)


# --- terminal and CLI lines ------------------------------------------------------------------


def _terminal(report: DrillReport) -> list[str]:
    out = StringIO()
    render_terminal(report, Console(file=out, width=200, color_system=None))
    return out.getvalue().splitlines()


def test_terminal_shows_the_label_and_rto_note() -> None:
    lines = _terminal(simulated_report())
    assert lines[0] == f"drdrill ml-platform: {LABEL} - the platform came back within its SLA"
    assert lines[2].startswith(f"RTO 41.5s of 15m00s (met, {RTO_NOTE});")
    assert lines[3].startswith("simulated: simulated pods and 2 custom resources")
    assert [line for line in lines if "sklearn-iris" in line and "(simulated)" in line
            and "InferenceService" in line]


def test_terminal_of_a_real_cluster_has_no_label() -> None:
    lines = _terminal(real_report())
    assert lines[0] == "drdrill ml-platform: PASS - the platform came back within its SLA"
    assert lines[2].startswith("RTO 41.5s of 15m00s (met);")
    assert not [line for line in lines if "simulated" in line.lower()]


def test_terminal_shows_control_characters_instead_of_sending_them() -> None:
    text = "\n".join(_terminal(hostile_report()))
    assert "\x1b" not in text and "\x00" not in text
    assert "\\x1b[31m" in text


@pytest.mark.parametrize(("report", "verdict", "rto"), [
    (simulated_report(), f"{LABEL}: the platform came back within its SLA",
     f"RTO 41.5s of 15m00s: met, {RTO_NOTE}"),
    (real_report(), "PASS: the platform came back within its SLA", "RTO 41.5s of 15m00s: met"),
], ids=["simulated", "real"])
def test_cli_verdict_and_rto_lines(report: DrillReport, verdict: str, rto: str) -> None:
    assert verdict_line(report) == verdict
    assert rto_line(report) == rto


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text", "plain text"),
    ("tab\tnewline\ncr\r", "tab\tnewline\ncr\r"),
    ("nul\x00bel\x07esc\x1b[0m", "nul\\x00bel\\x07esc\\x1b[0m"),
    ("del\x7fcsi\x9b", "del\\x7fcsi\\x9b"),
    ("lone surrogate \ud800, noncharacter \uffff", "lone surrogate \\ud800, noncharacter \\uffff"),
    ("unicode stays: é ✓", "unicode stays: é ✓"),
])
def test_visible_controls(raw: str, shown: str) -> None:
    assert visible_controls(raw) == shown
