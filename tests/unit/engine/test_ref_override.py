"""`drdrill run --ref`: parsed strictly, applied to the scenario, recorded in the report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from drdrill.engine.ref_override import parse_ref_override, with_ref
from drdrill.engine.runner import run_drill
from drdrill.errors import BadInputError
from drdrill.scenario.models import GitRef
from tests.unit.engine.fakes import FakePhase, make_context


@pytest.mark.parametrize(("text", "ref"), [
    ("tag=v1.4.0", GitRef(tag="v1.4.0")),
    ("branch=release/1.4", GitRef(branch="release/1.4")),
    ("commit=0123abc", GitRef(commit="0123abc")),
    ("commit=" + "a" * 40, GitRef(commit="a" * 40)),
])
def test_good_refs(text: str, ref: GitRef) -> None:
    assert parse_ref_override(text) == ref


@pytest.mark.parametrize("text", [
    "v1.4.0", "tag=", "sha=abc1234", "commit=xyz1234", "commit=abc", "branch=-x",
    "tag=a..b", "branch=a b", "tag=v1\n", "branch=x.lock", "tag=a@{1}", "branch=a:b",
])
def test_bad_refs_are_bad_input(text: str) -> None:
    with pytest.raises(BadInputError, match="--ref"):
        parse_ref_override(text)


def test_override_is_drilled_and_recorded(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.scenario = ctx.scenario.with_source(tmp_path / "drill.yaml")
    assert ctx.scenario.spec.gitops is not None
    original = ctx.scenario.spec.gitops.ref
    ctx.scenario = with_ref(ctx.scenario, parse_ref_override("tag=v1.4.0"))
    ctx.options = replace(ctx.options, ref_override="tag=v1.4.0")
    assert ctx.scenario.spec.gitops is not None
    assert ctx.scenario.spec.gitops.ref == GitRef(tag="v1.4.0") != original
    assert ctx.scenario.source == tmp_path / "drill.yaml"  # relative paths resolve as before
    report = run_drill(ctx, [FakePhase("cluster")], report_dir=tmp_path).report
    assert report.git_ref == "tag v1.4.0"
    assert report.ref_override == "tag=v1.4.0"


def test_without_override_the_scenario_ref_is_recorded(tmp_path: Path) -> None:
    report = run_drill(make_context(tmp_path), [FakePhase("cluster")],
                       report_dir=tmp_path).report
    assert report.ref_override is None
    assert report.git_ref is not None


def test_markdown_and_html_say_which_ref_was_drilled(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    ctx.scenario = with_ref(ctx.scenario, parse_ref_override("tag=v1.4.0"))
    ctx.options = replace(ctx.options, ref_override="tag=v1.4.0")
    paths = run_drill(ctx, [FakePhase("cluster")], report_dir=tmp_path).paths
    assert "Git ref: tag v1.4.0 (--ref tag=v1.4.0)." in paths.markdown.read_text()
    assert "Git ref tag v1.4.0 (<code>--ref tag=v1.4.0</code>)" in paths.html.read_text()
