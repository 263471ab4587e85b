"""The live view's model: drill events in, the text a terminal shows out (rich's recording
console, no terminal needed); when the view is shown at all; and the runner's events reaching an
observer in order."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import structlog
from rich.console import Console

from drdrill.cli.live import WAITING_SHOWN, DrillBoard, LiveView, live_view_wanted
from drdrill.engine.events import DrillObserver, PlannedPhase, WorkloadState
from drdrill.engine.runner import run_drill
from drdrill.results import PhaseResult, PhaseStatus, Verdict
from tests.report_samples import make_report
from tests.unit.engine.fakes import FakePhase, make_context

PHASES = [PlannedPhase("cluster", 120), PlannedPhase("bootstrap", 180),
          PlannedPhase("workloads", 240), PlannedPhase("backups", 180)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def shown(board: DrillBoard, *, styles: bool = False, width: int = 110) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=styles,
                      color_system="standard" if styles else None)
    console.print(board.render())
    return console.export_text(styles=styles)


def lines_with(text: str, word: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if word in line]


def started_board(clock: Clock) -> DrillBoard:
    board = DrillBoard(clock=clock)
    board.drill_started("demo", phases=PHASES, rto_seconds=600)
    return board


def test_phases_show_their_clock_against_their_budget() -> None:
    clock = Clock()
    board = started_board(clock)
    board.phase_started("cluster", 120)
    clock.now += 8.25
    board.phase_finished(PhaseResult(name="cluster", status=PhaseStatus.PASSED,
                                     duration_seconds=8.25, budget_seconds=120))
    board.phase_started("bootstrap", 180)
    clock.now += 41.5
    text = shown(board)
    assert lines_with(text, "drdrill run") == ["drdrill run demo 49.8s of RTO 10m00s"]
    assert lines_with(text, "cluster") == ["cluster passed 8.2s 2m00s"]
    assert lines_with(text, "bootstrap") == ["bootstrap running 41.5s 3m00s"]
    assert lines_with(text, "workloads") == ["workloads pending 4m00s"]
    assert "verdict" not in text


def test_a_phase_over_its_budget_is_shown_in_red() -> None:
    clock = Clock()
    board = started_board(clock)
    board.phase_started("cluster", 120)
    clock.now += 60
    assert "\x1b[1;36mrunning" in shown(board, styles=True)
    clock.now += 61
    assert "\x1b[1;31mrunning" in shown(board, styles=True)


def test_workloads_still_waited_on_show_why() -> None:
    clock = Clock()
    board = started_board(clock)
    board.phase_started("workloads", 240)
    board.workloads_waiting([
        WorkloadState("Deployment", "ml-serving", name, "unknown", "not listed yet")
        for name in ("fraud", "iris", "ranker")])
    board.workload_changed(WorkloadState("Deployment", "ml-serving", "iris", "current",
                                         "2/2 ready"))
    board.workload_changed(WorkloadState("Deployment", "ml-serving", "fraud", "in-progress",
                                         "0/2 ready: readiness probe failing"))
    text = shown(board)
    assert lines_with(text, "waiting on") == ["waiting on 2 of 3 workloads (1 healthy)"]
    assert lines_with(text, "fraud") == [
        "Deployment ml-serving/fraud 0/2 ready: readiness probe failing"]
    assert lines_with(text, "ranker") == ["Deployment ml-serving/ranker not listed yet"]
    assert "iris" not in text, "a healthy workload is no longer waited on"


def test_a_workload_the_label_selectors_leave_out_is_no_longer_waited_on() -> None:
    board = started_board(Clock())
    board.workloads_waiting([WorkloadState("Deployment", "ml", name, "unknown", "-")
                             for name in ("kept", "skipped")])
    board.workload_excluded("Deployment", "ml", "skipped")
    text = shown(board)
    assert lines_with(text, "waiting on") == ["waiting on 1 of 1 workload (0 healthy)"]
    assert "skipped" not in text


def test_failed_workloads_come_first_and_a_long_list_is_cut() -> None:
    board = started_board(Clock())
    board.workloads_waiting([WorkloadState("Job", "train", f"job-{i:02d}", "unknown", "waiting")
                             for i in range(WAITING_SHOWN + 5)])
    board.workload_changed(WorkloadState("Job", "train", "job-16", "failed",
                                         "pod job-16-x: ImagePullBackOff"))
    text = shown(board)
    rows = lines_with(text, "Job train/")
    assert rows[0] == "Job train/job-16 pod job-16-x: ImagePullBackOff"
    assert len(rows) == WAITING_SHOWN
    assert lines_with(text, "more") == ["... and 5 more"]
    assert lines_with(text, "waiting on") == ["waiting on 16 of 17 workloads (0 healthy, 1 failed)"]


def test_text_from_the_cluster_is_neither_markup_nor_a_control_sequence() -> None:
    board = started_board(Clock())
    board.workloads_waiting([WorkloadState("Deployment", "ml", "[bold]x[/bold]", "in-progress",
                                           "\x1b[2Jcleared the screen")])
    text = shown(board, styles=True)
    assert "[bold]x[/bold]" in text
    assert "\x1b[2J" not in text and "\\x1b[2Jcleared the screen" in text


def test_the_last_frame_says_the_verdict_and_what_did_not_recover() -> None:
    clock = Clock()
    board = started_board(clock)
    board.phase_started("workloads", 240)
    board.workloads_waiting([WorkloadState("Deployment", "ml", "a", "unknown", "-"),
                             WorkloadState("Deployment", "ml", "b", "unknown", "-")])
    board.workload_changed(WorkloadState("Deployment", "ml", "a", "current", "ready"))
    board.workload_changed(WorkloadState("Deployment", "ml", "b", "failed", "CrashLoopBackOff"))
    board.phase_finished(PhaseResult(
        name="workloads", status=PhaseStatus.FAILED, duration_seconds=30, budget_seconds=240,
        message="1/2 workloads not healthy; first: Deployment ml/b: CrashLoopBackOff"))
    board.teardown_started()
    clock.now += 3
    assert lines_with(shown(board), "tearing down") == ["tearing down (3.0s)"]
    board.phase_finished(PhaseResult(name="teardown", status=PhaseStatus.PASSED,
                                     duration_seconds=3.2, required=False))
    board.drill_finished(make_report(drill="demo", verdict=Verdict.FAIL,
                                     failed_phase="workloads"))
    clock.now += 100  # the clocks stop with the drill
    text = shown(board)
    assert lines_with(text, "verdict") == ["verdict: FAIL (simulated pods)"]
    assert lines_with(text, "teardown") == ["teardown passed 3.2s -"]
    assert lines_with(text, "workloads (") == ["2 workloads (1 healthy, 1 failed)"]
    assert lines_with(text, "Deployment") == [
        "workloads: 1/2 workloads not healthy; first: Deployment ml/b: CrashLoopBackOff",
        "Deployment ml/b CrashLoopBackOff"]
    assert lines_with(text, "drdrill run") == ["drdrill run demo 3.0s of RTO 10m00s"]


def test_when_every_workload_is_healthy_only_the_count_remains() -> None:
    board = started_board(Clock())
    board.workloads_waiting([WorkloadState("Deployment", "ml", "a", "unknown", "-")])
    board.workload_changed(WorkloadState("Deployment", "ml", "a", "current", "ready"))
    board.phase_finished(PhaseResult(name="workloads", status=PhaseStatus.PASSED))
    text = shown(board)
    assert lines_with(text, "healthy") == ["1 workload (1 healthy)"]
    assert not lines_with(text, "state")


@pytest.mark.parametrize(("env", "tty", "no_live", "step", "wanted"), [
    ({"TERM": "xterm-256color"}, True, False, False, True),
    ({"TERM": "xterm-256color", "NO_COLOR": "1"}, True, False, False, True),
    ({"TERM": "xterm-256color"}, False, False, False, False),
    ({"TERM": "xterm-256color"}, True, True, False, False),
    ({"TERM": "xterm-256color"}, True, False, True, False),
    ({"TERM": "dumb"}, True, False, False, False),
    ({"TERM": "xterm", "CI": "true"}, True, False, False, False),
    ({"TERM": "xterm", "CI": "false"}, True, False, False, True),
])
def test_when_the_live_view_is_shown(env: dict[str, str], tty: bool, no_live: bool, step: bool,
                                     wanted: bool) -> None:
    assert live_view_wanted(no_live=no_live, step=step, environ=env,
                            stderr_is_terminal=tty) is wanted


class Recorder(DrillObserver):
    def __init__(self) -> None:
        self.events: list[str] = []

    def drill_started(self, drill: str, *, phases: object, rto_seconds: float) -> None:
        self.events.append(f"drill {drill}")

    def phase_started(self, name: str, budget_seconds: float) -> None:
        self.events.append(f"start {name}")

    def phase_finished(self, result: PhaseResult) -> None:
        self.events.append(f"end {result.name} {result.status.value}")

    def teardown_started(self) -> None:
        self.events.append("teardown")

    def drill_finished(self, report: object) -> None:
        self.events.append("finished")


def test_the_runner_tells_the_observer_every_step_in_order(tmp_path: Path) -> None:
    recorder = Recorder()
    phases = [FakePhase("cluster"), FakePhase("bootstrap", behaviour="fail"),
              FakePhase("workloads", needs=("bootstrap",))]
    run_drill(make_context(tmp_path), phases, report_dir=tmp_path, observer=recorder)
    assert recorder.events[1:] == [
        "start cluster", "end cluster passed", "start bootstrap", "end bootstrap failed",
        "end workloads skipped", "teardown", "end teardown passed", "finished"]
    assert recorder.events[0].startswith("drill ")


def test_only_the_live_view_owns_the_terminal() -> None:
    from drdrill.cli.progress import TerminalProgress

    assert LiveView(console=Console(file=io.StringIO())).owns_terminal
    assert not TerminalProgress().owns_terminal and not DrillObserver().owns_terminal


def test_live_view_prints_log_lines_above_the_board_and_gives_logging_back() -> None:
    out = io.StringIO()
    before = structlog.get_config()["logger_factory"]
    view = LiveView(console=Console(file=out, force_terminal=True, width=100))
    view.drill_started("demo", phases=PHASES, rto_seconds=600)
    view.phase_started("cluster", 120)
    structlog.get_logger("drdrill.test").warning("a log line during the drill")
    view.drill_finished(make_report(drill="demo"))
    view.close()
    assert structlog.get_config()["logger_factory"] is before
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "a log line during the drill" in text
    assert text.rindex("verdict: PASS") > text.index("a log line during the drill")
