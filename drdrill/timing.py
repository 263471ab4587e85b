"""Durations as people write them, and deadlines measured on the monotonic clock."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Parse `90s`, `15m`, `2h`, `1h30m` or `250ms` into seconds; the unit is mandatory."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("empty duration; write a number with a unit, e.g. 90s, 15m, 2h")
    position = 0
    total = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned):
        raise ValueError(
            f"invalid duration {text!r}; write a number with a unit (ms, s, m, h, d), e.g. 90s"
        )
    if total <= 0:
        raise ValueError(f"duration {text!r} must be greater than zero")
    return total


def format_duration(seconds: float) -> str:
    """Short human form of a number of seconds, for terminals and Markdown."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which something must be done."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def sooner(self, seconds: float) -> Deadline:
        """The earlier of this deadline and `seconds` from now."""
        return Deadline(min(self.at, time.monotonic() + seconds))
