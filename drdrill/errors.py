"""One exception tree for the whole tool; the exit code of each kind is decided here only.

Exit codes (documented in the README):
    0  the drill passed
    1  the drill ran and failed or breached its SLA
    2  bad input (scenario or flags): nothing was started
    3  the drill could not be carried out (missing prerequisite, infrastructure error, interrupt)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    PASSED = 0
    FAILED = 1
    BAD_INPUT = 2
    NOT_CARRIED_OUT = 3


class DrdrillError(Exception):
    """Base of every error drdrill raises on purpose; its message is one line for a human."""

    exit_code: ExitCode = ExitCode.NOT_CARRIED_OUT


class BadInputError(DrdrillError):
    """The scenario file or a flag is wrong; nothing has been started."""

    exit_code = ExitCode.BAD_INPUT


class PrerequisiteError(DrdrillError):
    """Something drdrill needs is missing (a binary, credentials, a writable directory)."""


class InfrastructureError(DrdrillError):
    """A system the drill depends on misbehaved (a process that would not start, an API down)."""


class PhaseFailure(DrdrillError):
    """A phase ran and the platform did not recover as required; the drill continues to report."""

    exit_code = ExitCode.FAILED


class DrillInterrupted(BaseException):
    """SIGINT or SIGTERM arrived; a BaseException so that broad `except Exception` lets it pass."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name


def exit_code_for(error: BaseException) -> ExitCode:
    """The one place that maps an error to the process exit code."""
    if isinstance(error, DrdrillError):
        return error.exit_code
    return ExitCode.NOT_CARRIED_OUT


def exit_code_for_verdict(verdict: str) -> ExitCode:
    """pass -> 0, fail -> 1; a drill that errored or was interrupted was not carried out -> 3."""
    if verdict == "pass":
        return ExitCode.PASSED
    if verdict == "fail":
        return ExitCode.FAILED
    return ExitCode.NOT_CARRIED_OUT
