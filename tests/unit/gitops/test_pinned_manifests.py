"""Install manifests given as a URL must be pinned (exit 2 otherwise) and are applied only from
a download whose sha256 matches the pin."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from drdrill.errors import BadInputError, PrerequisiteError
from drdrill.gitops.pinned import fetch_pinned
from drdrill.scenario.loader import scenario_from_data
from drdrill.timing import Deadline
from tests.unit.scenario.samples import valid_data

RELEASE = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n"


@pytest.fixture
def release_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(RELEASE)))
            self.end_headers()
            self.wfile.write(RELEASE)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/install.yaml"
    server.shutdown()
    server.server_close()


def test_a_url_without_a_pin_is_bad_input() -> None:
    data = valid_data()
    data["spec"]["gitops"]["installManifests"] = "https://example.com/flux/install.yaml"
    with pytest.raises(BadInputError, match="installManifestsSha256"):
        scenario_from_data(data, where="drill.yaml")
    data["spec"]["gitops"]["installManifestsSha256"] = "a" * 64
    assert scenario_from_data(data, where="drill.yaml").spec.gitops is not None


def test_the_pinned_download_is_what_gets_applied(release_server: str, tmp_path: Path) -> None:
    pin = hashlib.sha256(RELEASE).hexdigest()
    path = fetch_pinned(release_server, sha256=pin, folder=tmp_path, deadline=Deadline.after(30))
    assert path.read_bytes() == RELEASE


def test_a_changed_release_is_refused(release_server: str, tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteError, match="not the pinned"):
        fetch_pinned(release_server, sha256="0" * 64, folder=tmp_path,
                     deadline=Deadline.after(30))
    assert list(tmp_path.iterdir()) == []
