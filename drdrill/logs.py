"""structlog to stderr (stdout is for data): console on a terminal, JSON otherwise.

Redaction runs on every event just before it is rendered, so no credential, token or signed URL
reaches a log: values under secret-sounding keys, secret-looking text (signed URL parameters,
`user:password@`, key ids, bearer tokens) at any depth of nested values, tracebacks, and every
value registered with `register_secret` (the AWS keys of the environment, the contents of a
drill's secret files), also in its base64 form. Records of the standard `logging` module go
through the same processors, so they are redacted and rendered in the same format.

`redact_text` / `redact_value` are also what reports pass their texts through.
"""

from __future__ import annotations

import base64
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping, MutableMapping
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
    # user:password@ and token@ in URLs.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),
    (re.compile(r"(https?://)[^/\s:@]+@"), r"\1[redacted]@"),
    # AWS access key ids.
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "[redacted-key-id]"),
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1[redacted]"),
    # key=value / "key": "value" pairs whose key names a secret.
    (re.compile(r"""((?:secret|token|password|passwd|api[_-]?key)["']?\s*[=:]\s*["']?)"""
                r"""[^\s"'&,;]{4,}""", re.IGNORECASE), r"\1[redacted]"),
]
# Shorter values would redact ordinary words; every real secret is longer.
MIN_SECRET_LENGTH = 6
# Environment variables whose values are credentials, wherever they end up quoted.
SECRET_ENVIRONMENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                      "AWS_SECURITY_TOKEN")
_MAX_DEPTH = 20

_known_lock = threading.Lock()
_known: frozenset[str] = frozenset()
_known_pattern: re.Pattern[str] | None = None


def _forms(value: str) -> Iterable[str]:
    """The value, and how it looks base64-encoded at any alignment inside a longer payload
    (a Kubernetes Secret echoed in an API error, a basic-auth header)."""
    yield value
    raw = value.encode("utf-8")
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        total = shift + len(raw)
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        yield encoded[skip:4 * (total // 3)]


def register_secret(value: str | None) -> None:
    """Never show `value` (nor its base64 form) in a log line, a report or an error message.

    A multi-line value (a private key file) is registered line by line as well.
    """
    if not value:
        return
    candidates = {value.strip(), *(line.strip() for line in value.splitlines())}
    fresh = {
        form for candidate in candidates
        if len(candidate) >= MIN_SECRET_LENGTH and not candidate.startswith("-----")
        for form in _forms(candidate) if len(form) >= MIN_SECRET_LENGTH
    }
    global _known, _known_pattern
    with _known_lock:
        if fresh <= _known:
            return
        _known = _known | fresh
        ordered = sorted(_known, key=len, reverse=True)  # the longest form wins
        _known_pattern = re.compile("|".join(re.escape(v) for v in ordered))


def register_environment_secrets(environ: Mapping[str, str]) -> None:
    for name in SECRET_ENVIRONMENT:
        register_secret(environ.get(name))


def forget_registered_secrets() -> None:
    """For tests: start again with no registered values."""
    global _known, _known_pattern
    with _known_lock:
        _known, _known_pattern = frozenset(), None


def redact_text(text: str) -> str:
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub("[redacted]", text)
    for secret_text, replacement in _SECRET_TEXT:
        text = secret_text.sub(replacement, text)
    return text


def redact_value(value: Any, *, _depth: int = 0) -> Any:
    """`value` with every string redacted and every secret-named key's value replaced, at any
    depth of dicts, lists, tuples and sets; other values are left as they are."""
    if isinstance(value, str):
        return redact_text(value)
    if _depth > _MAX_DEPTH:
        return "[redacted: nested too deep]"
    if isinstance(value, Mapping):
        return {
            key: ("[redacted]" if isinstance(key, str) and _SECRET_KEY.search(key)
                  else redact_value(item, _depth=_depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [redact_value(item, _depth=_depth + 1) for item in value]
        return items if isinstance(value, list) else type(value)(items)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def describe_exception(err: BaseException) -> str:
    """One redacted line for an error nobody planned for.

    A Kubernetes `ApiException` prints its HTTP headers and the whole response body; only its
    status, reason and the API's own message are kept.
    """
    status, reason = getattr(err, "status", None), getattr(err, "reason", None)
    if status is not None and hasattr(err, "body") and hasattr(err, "headers"):
        message = _status_message(getattr(err, "body", None))
        text = f"{type(err).__name__}: HTTP {status} {reason or ''}".rstrip()
        text += f": {message}" if message else ""
    else:
        text = f"{type(err).__name__}: {err}"
    return redact_text(" ".join(text.split()))[:1000]


def _status_message(body: object) -> str:
    """The `message` of a Kubernetes Status body, or nothing."""
    import json

    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return ""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    message = document.get("message") if isinstance(document, dict) else None
    return str(message)[:300] if message else ""


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    redacted: dict[str, Any] = redact_value(event)
    return redacted


def _format_exception(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Turn `exc_info` into an `exception` text now, so that redaction sees the traceback."""
    exc_info = event.pop("exc_info", None)
    if not exc_info:
        return event
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event["exception"] = "".join(traceback.format_exception(*exc_info)).rstrip()
    return event


def _renderer(use_console: bool) -> Any:
    if use_console:
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                             exception_formatter=structlog.dev.plain_traceback)
    return structlog.processors.JSONRenderer()


def configure_logging(*, log_format: LogFormat = "auto", verbose: int = 0) -> None:
    level = logging.DEBUG if verbose > 0 else logging.INFO
    use_console = sys.stderr.isatty() if log_format == "auto" else log_format == "console"
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _format_exception,
        _redact,
    ]
    structlog.configure(
        processors=[*shared, _renderer(use_console)],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(shared, _renderer(use_console), level=level)


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time of the record (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _route_standard_logging(shared: list[Any], renderer: Any, *, level: int) -> None:
    """Records of the `logging` module (libraries, older modules) get the same processors."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder(),
                           *shared[:-1]],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redact,
                    renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("drdrill")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "drdrill"]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Libraries say only what goes wrong (their DEBUG lines carry request headers); drdrill's
    # own modules that use `logging` follow -v.
    root.setLevel(logging.WARNING)
    logging.getLogger("drdrill").setLevel(level)
