"""Where the locally built test-bed binaries live (built by `make testbed`, cached by version).

The cache key is the sha256 of testbed/versions.env, so a changed pin means a new folder.
`DRDRILL_TESTBED_DIR` points elsewhere (a pre-built copy); it must hold `bin/`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from drdrill.errors import PrerequisiteError

# drdrill/bundled/versions.env links to the checkout's testbed/versions.env; a wheel holds a copy.
VERSIONS_FILE = Path(__file__).resolve().parent / "bundled" / "versions.env"


def cache_root() -> Path:
    explicit = os.environ.get("DRDRILL_TESTBED_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "drdrill" / "testbed"


def pinned_versions() -> dict[str, str]:
    try:
        lines = VERSIONS_FILE.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PrerequisiteError(f"{VERSIONS_FILE}: cannot read test-bed pins") from err
    pins: dict[str, str] = {}
    for line in lines:
        stripped = line.split("#", 1)[0].strip()
        if "=" in stripped:
            key, value = stripped.split("=", 1)
            pins[key.strip()] = value.strip()
    return pins


def testbed_dir() -> Path:
    explicit = os.environ.get("DRDRILL_TESTBED_DIR")
    if explicit:
        return Path(explicit)
    digest = hashlib.sha256(VERSIONS_FILE.read_bytes()).hexdigest()[:16]
    return cache_root() / digest


def testbed_binary(name: str) -> Path:
    """Path of a built binary; a clear error if it is missing or not executable."""
    path = testbed_dir() / "bin" / name
    if not path.is_file():
        raise PrerequisiteError(
            f"test-bed binary {name} not found at {path}; run `make testbed` to build it"
        )
    if not os.access(path, os.X_OK):
        raise PrerequisiteError(f"test-bed binary {path} is not executable; run `make testbed`")
    return path
