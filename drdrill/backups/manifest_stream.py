"""Read a drdrill manifest entry by entry from its HTTP body, never holding the document.

The manifest of a million objects is over 100 MB of JSON and several times that once parsed;
the set check only needs one entry at a time (it walks the manifest and the listing side by
side, `mergejoin`). This reader is strict and gives up rather than guess: anything the whole
parse (`manifest.parse_manifest`) would refuse or would need the whole document to judge (a
duplicate JSON key, an unknown field, a bad value, the format or createdAt missing) raises
`NotStreamable`, and the caller reads the manifest whole, which refuses it with today's
message or accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

import ijson
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from drdrill.backups.manifest import MANIFEST_FORMAT, MAX_OBJECT_BYTES, ManifestEntry
from drdrill.timing import Deadline

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ENTRY_FIELDS = frozenset({"key", "size", "sha256"})
_HEADER_FIELDS = frozenset({"format", "createdAt", "algorithm"})
_STAMP: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
_CHUNK = 256 * 1024


class NotStreamable(Exception):
    """The manifest cannot be judged entry by entry; read it whole instead."""


class OutOfTime(Exception):
    """The manifest was not read within the deadline."""


class _Body(Protocol):
    def read(self, amt: int = ..., /) -> bytes: ...


class _TimedReader:
    """A file-like view of the body that stops at the deadline and counts what it read."""

    def __init__(self, body: _Body, *, deadline: Deadline | None, what: str) -> None:
        self._body, self._deadline, self._what = body, deadline, what
        self.bytes_read = 0

    def read(self, size: int = _CHUNK) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether the stream gives bytes
            return b""
        if self._deadline is not None and self._deadline.expired():
            raise OutOfTime(f"manifest {self._what} not read within the phase budget "
                            f"({self.bytes_read} bytes so far)")
        chunk = self._body.read(min(size, _CHUNK) if size > 0 else _CHUNK)
        self.bytes_read += len(chunk)
        return chunk


class StreamedManifest:
    """`entries()` yields each entry as it is parsed; `finish()` then reads what follows the
    entries and returns createdAt. Entries are yielded in document order, unchecked for order
    (the merge-join checks it)."""

    def __init__(self, body: _Body, *, deadline: Deadline | None, what: str) -> None:
        self._reader = _TimedReader(body, deadline=deadline, what=what)
        self._events: Iterator[tuple[str, str, Any]] = ijson.parse(self._reader,
                                                                   buf_size=_CHUNK)
        self._header: dict[str, Any] = {}
        self._seen: set[str] = set()
        self._entries_done = False

    @property
    def bytes_read(self) -> int:
        return self._reader.bytes_read

    def _next(self) -> tuple[str, str, Any]:
        try:
            return next(self._events)
        except StopIteration:
            raise NotStreamable("the document ended early") from None
        except ijson.JSONError as err:
            raise NotStreamable(f"not JSON ({type(err).__name__})") from err

    def _top_level(self, *, until_entries: bool) -> bool:
        """Read top-level fields; True when positioned at the start of the entries array."""
        while True:
            prefix, event, value = self._next()
            if prefix == "" and event == "start_map" and not self._seen and not self._header:
                continue
            if prefix == "" and event == "end_map":
                return False
            if prefix != "" or event != "map_key":
                raise NotStreamable("not a manifest object")
            if value in self._seen:
                raise NotStreamable(f"duplicate JSON key {value!r}")
            self._seen.add(value)
            if value == "entries":
                if not until_entries:
                    raise NotStreamable("entries after entries")
                _, event, _ = self._next()
                if event != "start_array":
                    raise NotStreamable("entries is not an array")
                return True
            if value not in _HEADER_FIELDS:
                raise NotStreamable(f"unknown field {value!r}")
            _, event, scalar = self._next()
            if event != "string":
                raise NotStreamable(f"{value} is not a string")
            self._header[value] = scalar

    def entries(self) -> Iterator[ManifestEntry]:
        if not self._top_level(until_entries=True):
            raise NotStreamable("no entries")
        while True:
            prefix, event, _ = self._next()
            if event == "end_array" and prefix == "entries":
                self._entries_done = True
                return
            if event != "start_map" or prefix != "entries.item":
                raise NotStreamable("an entry is not an object")
            yield self._entry()

    def _entry(self) -> ManifestEntry:
        fields: dict[str, Any] = {}
        while True:
            prefix, event, value = self._next()
            if event == "end_map" and prefix == "entries.item":
                break
            if event != "map_key" or value in fields or value not in _ENTRY_FIELDS:
                raise NotStreamable("an entry has an unexpected or repeated field")
            _, event, scalar = self._next()
            if event not in ("string", "number"):
                raise NotStreamable("an entry field is not a string or a number")
            fields[value] = scalar
        key, size, sha = fields.get("key"), fields.get("size"), fields.get("sha256")
        if (set(fields) != _ENTRY_FIELDS or not isinstance(key, str) or not key
                or type(size) is not int or not 0 <= size <= MAX_OBJECT_BYTES
                or not isinstance(sha, str) or not _SHA256.fullmatch(sha)):
            raise NotStreamable("an entry is invalid")
        return ManifestEntry(key=key, size=size, sha256=sha)

    def finish(self) -> datetime:
        """Read the rest of the document and return createdAt; NotStreamable if the whole
        document is not a valid manifest."""
        if not self._entries_done:
            raise NotStreamable("entries not read to the end")
        if self._top_level(until_entries=False):
            raise NotStreamable("entries twice")
        try:
            for _ in self._events:
                raise NotStreamable("data after the document")
        except ijson.JSONError as err:
            raise NotStreamable(f"not JSON ({type(err).__name__})") from err
        if (self._header.get("format") != MANIFEST_FORMAT
                or self._header.get("algorithm") != "sha256" or "createdAt" not in self._header):
            raise NotStreamable("header fields missing or wrong")
        try:
            return _STAMP.validate_python(self._header["createdAt"])
        except ValidationError as err:
            raise NotStreamable("createdAt is not a time with a zone") from err
