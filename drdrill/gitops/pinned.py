"""Install manifests given as a URL, fetched once per drill and checked against their pin.

A release URL can be re-pointed or tampered with; what the bootstrap script applies to the
cluster is the file downloaded here, whose sha256 must be the one the scenario pins
(`installManifestsSha256`). The download is streamed with a size limit and a deadline, and
honours HTTPS_PROXY / NO_PROXY like every other request drdrill makes.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from drdrill.errors import InfrastructureError, PrerequisiteError
from drdrill.timing import Deadline

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


def fetch_pinned(url: str, *, sha256: str, folder: Path, deadline: Deadline) -> Path:
    """Download `url` into `folder`; return the file once its sha256 is the pinned one."""
    if not url.startswith(("https://", "http://")):
        raise PrerequisiteError(f"install manifests {url}: only http(s) URLs are fetched")
    target = folder / "install.yaml"
    digest = hashlib.sha256()
    size = 0
    try:
        timeout = max(1.0, min(60.0, deadline.remaining()))
        with urllib.request.urlopen(url, timeout=timeout) as answer, (  # noqa: S310 - http(s)
                target.open("wb")) as out:
            while chunk := answer.read(_CHUNK):
                size += len(chunk)
                if size > MAX_MANIFEST_BYTES:
                    raise PrerequisiteError(
                        f"install manifests at {url} are larger than {MAX_MANIFEST_BYTES} bytes")
                if deadline.expired():
                    raise InfrastructureError(f"install manifests at {url}: download too slow")
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as err:
        raise InfrastructureError(f"cannot download the install manifests at {url}: {err}") from err
    if digest.hexdigest() != sha256.lower():
        target.unlink(missing_ok=True)
        raise PrerequisiteError(
            f"install manifests at {url} have sha256 {digest.hexdigest()}, not the pinned "
            f"{sha256.lower()}: the release changed or was tampered with; check it and update "
            "spec.gitops.installManifestsSha256"
        )
    return target
