"""Hostile names (HTML, Markdown, XML, control and bidi characters) in workload names, reasons,
phase messages, S3 keys and URIs: all four report formats stay valid and inert, checked with
real parsers (XML, HTML, a Markdown renderer, the JSON Schema), over generated text too."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from drdrill.report.writer import write_reports
from drdrill.results import (
    BackupFailure,
    BackupResult,
    BootstrapRecord,
    DrillReport,
    InClusterRestoreResult,
    ModelReference,
    PhaseResult,
    PhaseStatus,
    RpoResult,
    RtoResult,
    ToolVersions,
    Verdict,
    WorkloadResult,
)

HOSTILE = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
    "[click me](javascript:alert(1))", "[login](https://evil.example/phish)",
    "![x](https://evil.example/t.png)", "`code` *bold* _i_",
    "| a | b |", "# heading", "]]><!--", "<![CDATA[x]]>", "&amp;&lt;&#0;", "\x00\x01\x07\x1b[31m",
    "\x0b\x0c\x7f\x85\x9f", "\ufffe\uffff", "\u202eevil\u202c", "\u2066iso\u2069", "\u200f",
    "line\nbreak\r\n", "\\", "\\|", "{{ 7*7 }}", "{% raw %}", "%s%n", "' OR 1=1 --",
]
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def report_with(text: str) -> DrillReport:
    start = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    return DrillReport(
        drill="ml-platform", verdict=Verdict.FAIL, summary=f"phase workloads failed: {text}",
        started_at=start, finished_at=start, provider="kwok",
        rto=RtoResult(budget_seconds=900, actual_seconds=40, met=True),
        rpo=RpoResult(budget_seconds=3600, worst_age_seconds=60, met=True),
        phases=[PhaseResult(name="workloads", status=PhaseStatus.FAILED, message=text,
                            duration_seconds=3, ended_after_seconds=3),
                PhaseResult(name="backups", status=PhaseStatus.ERROR, message=text)],
        workloads=[WorkloadResult(kind=f"Deployment{text}", namespace=text, name=text,
                                  healthy=False, reason=text, rule=text, notes=[text])],
        backups=[BackupResult(name=text, bucket="b", prefix=text, holds="artifacts",
                              failures=[BackupFailure(key=text, problem=text)],
                              in_cluster=InClusterRestoreResult(
                                  namespace=text, job=text, claim=text, image=text,
                                  verified=False, message=text))],
        references=[ModelReference(uri=f"s3://b/{text}", source=text, restorable=False)],
        bootstrap=BootstrapRecord(engine="flux", version="v2.7", script="b.sh", sha256="0" * 64,
                                  output_tail=[text]),
        versions=ToolVersions(drdrill="0", scenario_api_version="drdrill/v1alpha1"),
    )


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _markdown_tokens(text: str) -> list[Any]:
    tokens = []
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        tokens.append(token)
        tokens.extend(token.children or [])
    return tokens


def check_reports(tmp_path: Path, text: str) -> None:
    paths = write_reports(report_with(text), report_dir=tmp_path)
    # report.json: valid JSON, matching the report's own schema, the text kept as it was.
    saved = json.loads(paths.json.read_text())
    jsonschema.validate(saved, DrillReport.model_json_schema(by_alias=True, mode="serialization"))
    # junit.xml: parses as XML (ElementTree and junitparser both), no raw control characters.
    junit = paths.junit.read_text()
    ET.fromstring(junit.encode())
    assert not _CONTROL.search(junit) and not _BIDI.search(junit)
    # report.html: only the page's own tags and attributes, no script, no raw bidi/controls.
    page = _Elements()
    page.feed(paths.html.read_text())
    assert page.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
                         "code", "span", "p", "a", "table", "tr", "th", "td", "div", "ul",
                         "li", "svg", "rect", "line", "text", "strong", "section", "small",
                         "br", "details", "summary", "pre", "em", "g"}, page.tags
    assert "onerror" not in page.attributes and "onload" not in page.attributes
    html_text = "".join(page.text)
    assert not _BIDI.search(html_text) and not _CONTROL.search(html_text.replace("\n", ""))
    # report.md: renders without links, images or HTML from the hostile text.
    markdown = paths.markdown.read_text()
    assert not _BIDI.search(markdown) and not _CONTROL.search(markdown.replace("\n", ""))
    kinds = {t.type for t in _markdown_tokens(markdown)}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}, kinds


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_keeps_every_report_valid(tmp_path: Path, text: str) -> None:
    check_reports(tmp_path, text)


def test_all_hostile_text_at_once(tmp_path: Path) -> None:
    check_reports(tmp_path, " ".join(HOSTILE))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
                    | st.sampled_from(list("<>&\"'`*_[]()|\\#!\x00\x1b\u202e\u2066")),
                    max_size=60))
def test_generated_text_keeps_every_report_valid(tmp_path_factory: pytest.TempPathFactory,
                                                 text: str) -> None:
    check_reports(tmp_path_factory.mktemp("r"), text)
