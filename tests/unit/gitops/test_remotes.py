"""Does a git remote answer? Credentials in the URL must not change the answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drdrill.gitops.remotes import remote_problem
from drdrill.ports import free_port


class _NeedsAuth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def git_host() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NeedsAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_remote_with_credentials_in_its_url_answers(git_host: int) -> None:
    assert remote_problem(f"http://bot:s3cret-pass@127.0.0.1:{git_host}/team.git") is None
    assert remote_problem(f"http://bot@127.0.0.1:{git_host}/team.git") is None
    assert remote_problem(f"http://127.0.0.1:{git_host}/team.git") is None


def test_a_remote_that_does_not_answer_is_named_by_why() -> None:
    problem = remote_problem(f"http://bot:s3cret-pass@127.0.0.1:{free_port()}/team.git",
                             timeout=2)
    assert problem is not None and "refused" in problem.lower()
