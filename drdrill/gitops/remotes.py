"""Does a git remote answer at all? Asked once per unmapped remote, before any budget is spent.

A GitRepository in Git that points at a remote the scenario does not map is left as it is:
Flux will clone it from the new cluster. If it does not even answer (no route, refused, no
DNS name, time-out), the drill would only find out after waiting out its budget, so it stops
first and names the remote. Any HTTP answer counts as answering (a 401 needs credentials
that Git or the cluster may provide); for ssh a TCP connection to the port is enough.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from drdrill.gitops.layout import SCP_LIKE

PROBE_TIMEOUT_SECONDS = 5.0


def remote_problem(url: str, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """None when the remote answers; else why it does not, in a few words."""
    if url.startswith(("http://", "https://")):
        # Credentials in the URL are not needed to see that it answers (a 401 counts), and
        # urllib would take `user:password@host` for the host name.
        parts = urlsplit(url)
        bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        probe = bare.rstrip("/") + "/info/refs?service=git-upload-pack"
        try:
            with urllib.request.urlopen(probe, timeout=timeout):  # noqa: S310 - http(s) only
                return None
        except urllib.error.HTTPError:
            return None
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            return str(reason) or type(err).__name__
    host, port = _ssh_host(url)
    if host is None:
        return f"not a git URL drdrill can reach ({url})"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        return err.strerror or str(err) or type(err).__name__


def _ssh_host(url: str) -> tuple[str | None, int]:
    if url.startswith("ssh://"):
        parts = urlsplit(url)
        return parts.hostname, parts.port or 22
    match = SCP_LIKE.match(url)
    return (match["host"], 22) if match else (None, 22)
