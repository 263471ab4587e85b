"""Text from a cluster, a repository or a bucket, made safe to write into a report file.

Reasons, messages, S3 keys and script output may hold control characters. XML 1.0 forbids most
of them and ElementTree writes them anyway, so junit.xml would no longer parse; in Markdown,
HTML or on a terminal they can carry escape sequences. They are kept visible as `\\xNN`.
Bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, the marks U+200E, U+200F,
U+061C) would reorder what a reader sees (a name that displays as something else): they are
written out as `\\uNNNN` too.
"""

from __future__ import annotations

import re

# C0 controls except tab, newline and carriage return; DEL and C1; what XML 1.0 never allows.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
    r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_controls(text: str) -> str:
    """`text` with every control character (but tab, newline, CR) written out as `\\xNN`."""
    return _CONTROL.sub(_shown, text)
