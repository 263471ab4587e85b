"""`drdrill` entry point: global options, command registration, errors and exit codes."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Annotated

import structlog
import typer

from drdrill.cli import (
    backups_cmd,
    cluster_cmd,
    history_cmd,
    report_cmd,
    run_cmd,
    scenario_cmd,
    version_cmd,
)
from drdrill.engine.signals import interrupts_raise
from drdrill.errors import DrdrillError, DrillInterrupted, ExitCode, exit_code_for
from drdrill.logs import (
    LogFormat,
    configure_logging,
    describe_exception,
    redact_text,
    register_environment_secrets,
)

app = typer.Typer(
    name="drdrill",
    help="Disaster-recovery drills for GitOps-managed ML platforms on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
app.command("run")(run_cmd.run)
app.command("plan")(scenario_cmd.plan)
app.command("validate")(scenario_cmd.validate)
app.command("schema")(scenario_cmd.schema)
app.command("history")(history_cmd.history)
app.command("version")(version_cmd.version)
app.add_typer(report_cmd.app, name="report")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(backups_cmd.app, name="backups")

_state = {"verbose": 0}


@app.callback()
def _global_options(
    log_format: Annotated[
        str, typer.Option("--log-format", help="console or json; default: console on a terminal")
    ] = "auto",
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More detail.")] = 0,
) -> None:
    if log_format not in ("auto", "console", "json"):
        raise typer.BadParameter("must be console or json", param_hint="--log-format")
    fmt: LogFormat = log_format  # type: ignore[assignment]
    _state["verbose"] = verbose
    configure_logging(log_format=fmt, verbose=verbose)


def _traceback_if_verbose() -> None:
    """With -v, the traceback of the error being handled, through the redacting logger."""
    if _state["verbose"]:
        structlog.get_logger("drdrill").error("traceback", exc_info=True)


def _exit_interrupted(_signum: int, _frame: FrameType | None) -> None:
    """Outside the handled block (start-up, the last moments of exit): leave at once, exit 3."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(int(ExitCode.NOT_CARRIED_OUT))


def main() -> None:
    """Run the CLI; turn drdrill's errors into one line on stderr and the right exit code.

    SIGINT and SIGTERM raise `DrillInterrupted` in every command (not only `run`), so an
    interrupted `validate`, `cluster down` or `backups manifest` exits 3, not click's 1.
    Nothing, not even an unexpected error, prints a raw traceback: with -v it is logged
    (and so redacted), without -v the error is one line. The process ends with `os._exit`
    once its output is flushed: interpreter shutdown restores the default signal actions, and
    a late second Ctrl-C or CI's follow-up SIGTERM would then turn exit 3 into -2 or -15.
    """
    code = _run_cli()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_cli() -> int:
    configure_logging()
    register_environment_secrets(os.environ)
    # What the handled block restores when it ends: a signal after it still means exit 3.
    for handled in (signal.SIGINT, signal.SIGTERM):
        signal.signal(handled, _exit_interrupted)
    try:
        with interrupts_raise():
            app()
    except SystemExit as done:
        return _exit_status(done.code)
    except DrdrillError as err:
        _traceback_if_verbose()
        one_line = " ".join(str(err).split())  # an error is one line, whatever it quotes
        print(f"drdrill error: {redact_text(one_line)}", file=sys.stderr)
        return int(exit_code_for(err))
    except (DrillInterrupted, KeyboardInterrupt) as stop:
        print(f"drdrill error: {stop or 'interrupted'}", file=sys.stderr)
        return int(ExitCode.NOT_CARRIED_OUT)
    except Exception as err:
        _traceback_if_verbose()
        print(f"drdrill error: unexpected {describe_exception(err)} (a bug in drdrill; run with "
              "-v for the traceback)", file=sys.stderr)
        return int(ExitCode.NOT_CARRIED_OUT)
    return 0
