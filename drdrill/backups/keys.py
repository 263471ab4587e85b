"""Object keys are untrusted text: turn them into paths that stay inside the restore folder.

S3 keys may hold `../`, a leading `/`, backslashes, NUL or other control characters, or be
longer than a file name may be. Such a key is refused (and reported as a failure), never
"cleaned up", so a restore can neither write outside its folder nor silently rename data.
Files are created relative to an open directory descriptor with O_NOFOLLOW and O_EXCL, so a
symlink planted inside the folder is not followed and nothing existing is overwritten.
"""

from __future__ import annotations

import contextlib
import os

MAX_NAME_BYTES = 255
MAX_KEY_BYTES = 1024


class UnsafeKeyError(ValueError):
    """The key cannot be restored as a local file without leaving or confusing the folder."""


def key_components(relative_key: str) -> tuple[str, ...]:
    """Split a key (relative to the set's prefix) into path components, or refuse it."""
    if not relative_key:
        raise UnsafeKeyError("empty key")
    if len(relative_key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise UnsafeKeyError(f"key longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in relative_key):
        raise UnsafeKeyError("key holds NUL or control characters")
    if "\\" in relative_key:
        raise UnsafeKeyError("key holds a backslash")
    if relative_key.startswith("/"):
        raise UnsafeKeyError("key starts with '/'")
    parts = tuple(relative_key.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafeKeyError(f"key has a {part or 'empty'!r} path component")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafeKeyError(f"a path component is longer than {MAX_NAME_BYTES} bytes")
    return parts


def safe_key_problem(relative_key: str) -> str | None:
    """Why the key is refused, or None when it is safe to restore."""
    try:
        key_components(relative_key)
    except UnsafeKeyError as err:
        return str(err)
    return None


def create_restore_file(root_fd: int, parts: tuple[str, ...]) -> int:
    """Create `parts` below the directory `root_fd`; return it open for reading and writing.

    Read as well as write: large objects are written through a mapping of the file.

    Intermediate folders are created as needed and opened with O_NOFOLLOW; the file itself
    is created with O_EXCL, so an existing file or symlink makes this fail with OSError.
    """
    file_flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    if len(parts) == 1:  # most keys of a flat set: one call
        return os.open(parts[0], file_flags, 0o600, dir_fd=root_fd)
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    current = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=current)
            child = os.open(part, dir_flags, dir_fd=current)
            os.close(current)
            current = child
        return os.open(parts[-1], file_flags, 0o600, dir_fd=current)
    finally:
        os.close(current)
