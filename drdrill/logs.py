"""structlog to stderr (stdout is for data): console on a terminal, JSON otherwise.

A redaction processor runs last-but-one so no credential, token or signed URL reaches a log.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

import structlog

LogFormat = Literal["console", "json", "auto"]

_SECRET_KEY = re.compile(r"(secret|token|password|passwd|credential|authorization|signature)",
                         re.IGNORECASE)
_SECRET_TEXT = [
    # Query-string credentials of pre-signed URLs (SigV4 and SigV2).
    (re.compile(r"(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"']+", re.IGNORECASE),
     r"\1[redacted]"),
    (re.compile(r"((?:Signature|AWSAccessKeyId)=)[^&\s\"']+"), r"\1[redacted]"),
    # user:password@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),
    # AWS access key ids.
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "[redacted-key-id]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[redacted]"),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


def configure_logging(*, log_format: LogFormat = "auto", verbose: int = 0) -> None:
    level = logging.DEBUG if verbose > 0 else logging.INFO
    use_console = sys.stderr.isatty() if log_format == "auto" else log_format == "console"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if not use_console else _identity,
        _redact,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def _identity(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    return event
