from __future__ import annotations

import os
from pathlib import Path

import pytest

from drdrill.backups.keys import UnsafeKeyError, create_restore_file, key_components

UNSAFE = [
    "",
    "../x",
    "a/../../x",
    "a/..",
    "./a",
    "/etc/passwd",
    "a//b",
    "a/",
    "a\\..\\b",
    "a\x00b",
    "a\nb",
    "a\x7fb",
    "x" * 256,
    ("abc/" * 300)[:-1],
]


@pytest.mark.parametrize("key", UNSAFE)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(UnsafeKeyError):
        key_components(key)


@pytest.mark.parametrize(
    ("key", "parts"),
    [("model.bin", ("model.bin",)), ("a/b/c.json", ("a", "b", "c.json")),
     ("..hidden/x..y", ("..hidden", "x..y")), ("ünï cödé/x", ("ünï cödé", "x"))],
)
def test_safe_keys_split_into_components(key: str, parts: tuple[str, ...]) -> None:
    assert key_components(key) == parts


def _root_fd(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


def test_creates_nested_file_inside_the_root(tmp_path: Path) -> None:
    root = _root_fd(tmp_path)
    try:
        fd = create_restore_file(root, ("a", "b", "c.bin"))
        os.write(fd, b"data")
        os.close(fd)
    finally:
        os.close(root)
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"data"


def test_does_not_follow_a_symlinked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "a").symlink_to(outside)
    root = _root_fd(restore)
    try:
        with pytest.raises(OSError):
            create_restore_file(root, ("a", "x.bin"))
    finally:
        os.close(root)
    assert list(outside.iterdir()) == []


def test_does_not_overwrite_or_follow_a_symlinked_file(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    restore = tmp_path / "restore"
    restore.mkdir()
    (restore / "x.bin").symlink_to(target)
    root = _root_fd(restore)
    try:
        with pytest.raises(OSError):
            create_restore_file(root, ("x.bin",))
    finally:
        os.close(root)
    assert target.read_text() == "keep"


def test_not_enough_disk_fails_before_downloading_with_the_numbers(tmp_path: Path) -> None:
    from drdrill.backups.restore import check_free_space
    from drdrill.errors import PrerequisiteError

    with pytest.raises(PrerequisiteError) as caught:
        check_free_space(tmp_path, needed=10**18, what="backup set models")
    message = str(caught.value)
    assert "backup set models" in message and "free" in message and "TiB" in message


def test_restore_folder_must_not_exist(tmp_path: Path) -> None:
    from drdrill.backups.restore import fresh_restore_root
    from drdrill.errors import BadInputError

    with pytest.raises(BadInputError, match="already exists"):
        fresh_restore_root(tmp_path)
    created, temporary = fresh_restore_root(tmp_path / "new" / "restore")
    assert created.is_dir() and not temporary
    assert oct(created.stat().st_mode & 0o777) == "0o700"
