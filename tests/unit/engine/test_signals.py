"""Signals: the first raises, later ones (and any during teardown) hurry the cleanup; an
interrupted command exits 3 whatever it was doing; saved pids are checked before a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drdrill.clusters.base import ClusterInfo
from drdrill.clusters.state import save_state, state_file, with_live_process_groups
from drdrill.engine.runner import run_drill
from drdrill.engine.signals import interrupts_deferred, interrupts_raise
from drdrill.errors import DrillInterrupted
from drdrill.proc import (
    Command,
    process_identity,
    run_streaming,
    start_process,
    stop_normally,
    stop_process_group,
    stops_hurried,
)
from drdrill.results import Verdict
from drdrill.timing import Deadline
from tests.unit.engine.fakes import FakePhase, make_context

ROOT = Path(__file__).resolve().parents[3]
# A child that ignores SIGTERM: only SIGKILL ends it.
STUBBORN = ("bash", "-c", "trap '' TERM; while true; do sleep 0.1; done")


@pytest.fixture(autouse=True)
def _calm() -> None:
    stop_normally()
    yield
    stop_normally()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    return state != "Z"


def test_only_the_first_signal_raises_later_ones_hurry() -> None:
    unwound = []
    with pytest.raises(DrillInterrupted), interrupts_raise():
        try:
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)
        except DrillInterrupted:
            signal.raise_signal(signal.SIGINT)  # the second Ctrl-C, during the unwinding
            unwound.append("cleanup ran to its end")
            raise
    assert unwound == ["cleanup ran to its end"]
    assert stops_hurried()


def test_a_signal_during_cleanup_hurries_it() -> None:
    with interrupts_deferred():
        signal.raise_signal(signal.SIGTERM)
    assert stops_hurried()


def test_a_hurried_stop_does_not_wait_out_the_grace_period() -> None:
    process = start_process(Command(STUBBORN))
    time.sleep(0.2)
    started = time.monotonic()
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    with interrupts_deferred():
        process.stop(grace=30.0)
    assert time.monotonic() - started < 3.0
    assert not _alive(process.pid)


def test_a_running_command_ends_at_once_when_hurried() -> None:
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    with interrupts_deferred():
        result = run_streaming(Command(STUBBORN), deadline=Deadline.after(60),
                               on_line=lambda _: None)
    assert result.timed_out and time.monotonic() - started < 4.0


def test_sigterm_during_teardown_is_obeyed_by_hurrying(tmp_path: Path) -> None:
    """CI sends SIGTERM and, some seconds later, SIGKILL: teardown must end in between and
    still stop what the drill started."""
    ctx = make_context(tmp_path)
    process = start_process(Command(STUBBORN))
    time.sleep(0.3)  # until bash has set its trap: before that, SIGTERM ends it at once

    def slow_undo() -> None:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        process.stop(grace=60.0)

    phase = FakePhase("cluster", on_run=lambda c: c.cleanup.push("stop stubborn", slow_undo))
    started = time.monotonic()
    outcome = run_drill(ctx, [phase], report_dir=tmp_path)
    assert time.monotonic() - started < 5.0
    assert not _alive(process.pid)
    assert outcome.report.verdict is Verdict.INTERRUPTED  # exit 3: CI cancelled it
    assert outcome.paths.json.is_file()


def test_cluster_down_leaves_a_reused_pid_alone(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    process = start_process(Command(("sleep", "60")))
    try:
        info = ClusterInfo(name="reuse", provider="kwok", kubeconfig=tmp_path / "k",
                           process_groups=(process.pid,))
        save_state(info)
        assert with_live_process_groups(info)[0].process_groups == (process.pid,)
        # The pid now belongs to "another program": its saved identity no longer matches.
        data = json.loads(state_file("reuse").read_text())
        data["process_identities"][str(process.pid)] = "another-boot:12345"
        state_file("reuse").write_text(json.dumps(data))
        kept, dropped = with_live_process_groups(info)
        assert kept.process_groups == () and dropped == [process.pid]
        assert process_identity(process.pid) is not None and _alive(process.pid)
    finally:
        stop_process_group(process.pid, grace=1.0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_command_outside_run_exits_3(tmp_path: Path, signum: int) -> None:
    fifo = tmp_path / "drill.yaml"
    os.mkfifo(fifo)  # `validate` blocks opening it: a command interrupted while loading
    child = subprocess.Popen([sys.executable, "-m", "drdrill", "validate", str(fifo)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wchan = Path(f"/proc/{child.pid}/wchan")
        ends = time.monotonic() + 60
        while wchan.read_text() != "wait_for_partner" and time.monotonic() < ends:
            time.sleep(0.1)  # until it waits in open() for the FIFO's other end
        child.send_signal(signum)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == 3, err
    assert err.strip().splitlines() == [
        f"drdrill error: interrupted by {signal.Signals(signum).name}"]


def test_an_interrupt_while_held_is_raised_when_the_held_block_ends() -> None:
    from drdrill.proc import interrupts_held

    done = []
    with pytest.raises(DrillInterrupted) as raised, interrupts_raise():
        with interrupts_held():
            signal.raise_signal(signal.SIGINT)
            done.append("created")  # not broken off between creating and recording
            with interrupts_held():  # nested: raised only as the outermost block ends
                done.append("inner")
            done.append("recorded")
        done.append("after the block")  # never reached
    assert done == ["created", "inner", "recorded"]
    assert raised.value.signal_name == "SIGINT"


def test_a_held_block_without_a_signal_changes_nothing() -> None:
    from drdrill.proc import interrupts_held

    with interrupts_raise():
        with interrupts_held():
            pass
        with pytest.raises(DrillInterrupted):
            signal.raise_signal(signal.SIGTERM)  # outside a held block: raised at once
