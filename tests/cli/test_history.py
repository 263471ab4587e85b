"""`drdrill history` through a real subprocess: the table, JSON, the exit code for CI, and the
HTML page rendered by headless Chromium (Debian's package) with one point per run."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from drdrill.report.writer import write_reports
from drdrill.results import Verdict
from tests.report_samples import START, make_report


def drdrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drdrill", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def write_runs(report_dir: Path, rtos: list[float | None], **kwargs: object) -> None:
    for i, rto in enumerate(rtos):
        verdict = Verdict.PASS if rto is not None else Verdict.FAIL
        write_reports(make_report(rto=rto, verdict=verdict,  # type: ignore[arg-type]
                                  started_at=START + timedelta(days=i), **kwargs),
                      report_dir=report_dir)


def test_steady_history_exits_0_and_lists_every_run(tmp_path: Path) -> None:
    write_runs(tmp_path, [60, 62, 61, 63, 60])
    done = drdrill("history", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "2026-11-" in line]
    assert len(lines) == 5
    assert all("PASS (simulated pods)" in line and "0123456789ab" in line for line in lines)
    assert "REGRESSION" not in done.stdout


def test_regression_in_the_newest_run_exits_1_and_says_so(tmp_path: Path) -> None:
    write_runs(tmp_path, [60, 62, 61, 63, 95])
    done = drdrill("history", str(tmp_path), "--format", "json")
    assert done.returncode == 1
    rows = json.loads(done.stdout)
    assert [r["regression"] for r in rows] == [False] * 4 + [True]
    assert rows[-1]["baselineSeconds"] == 61.5
    assert "RTO regression in ml-platform" in done.stderr
    # a looser threshold accepts it
    assert drdrill("history", str(tmp_path), "--threshold", "60").returncode == 0


def test_no_reports_is_bad_input(tmp_path: Path) -> None:
    done = drdrill("history", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("drdrill error: ") and "no drill reports" in done.stderr


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is not installed: `make test` installs it "
                "(tools/debian-packages.sh), or apt-get install chromium")


def run_chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={cwd / 'chromium-profile'}", *args],
        capture_output=True, text=True, timeout=180, check=False, cwd=cwd)


def test_history_page_renders_one_point_per_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    write_runs(reports, [60, 64, 58, 66, 61, 70, 63, 95], rto_budget=90)
    write_runs(reports, [300, 310, None, 305], drill="serving-kind", provider="kind",
               simulated=False)
    done = drdrill("history", str(reports), "--html")
    assert done.returncode == 1  # ml-platform's newest run regressed
    page = reports / "history.html"
    html = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # self-contained

    dom = run_chromium("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    sections = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(
        r'data-drill="([^"]+)" data-runs="(\d+)" data-visible-points="(\d+)"', dom.stdout)}
    # every run with a measured RTO is one point laid out inside its chart
    assert sections == {"ml-platform": (8, 8), "serving-kind": (4, 3)}
    assert dom.stdout.count('class="regression-ring"') == 1
    assert dom.stdout.count('class="sla"') == 2
    assert dom.stdout.count('class="phase-bar"') == 4 * 12

    shot = run_chromium("--window-size=1000,1500", f"--screenshot={tmp_path / 'history.png'}",
                        page.as_uri(), cwd=tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
