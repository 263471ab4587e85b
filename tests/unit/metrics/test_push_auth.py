"""Pushgateway basic auth comes only from the environment, is sent as a header, and the
password appears in no log line or error; a 4xx is not retried, a 5xx is."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import structlog

from drdrill.errors import InfrastructureError
from drdrill.logs import configure_logging, forget_registered_secrets
from drdrill.metrics import push_metrics
from tests.report_samples import make_report

PASSWORD = "pushgw-pass-9c1e2d"


class Gateway:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[str, str, str | None]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gateway.requests.append(("POST", self.path, self.headers.get("Authorization")))
                self.send_response(gateway.statuses.pop(0) if gateway.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(autouse=True)
def _logs_back_to_defaults() -> Iterator[None]:
    """These tests point the logs at pytest's captured stderr, which closes after them."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    served = Gateway()
    yield served
    served.server.shutdown()
    served.server.server_close()
    forget_registered_secrets()


def test_basic_auth_from_the_environment(gateway: Gateway,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format="json", verbose=1)
    environ = {"DRDRILL_PUSHGATEWAY_USERNAME": "drdrill", "DRDRILL_PUSHGATEWAY_PASSWORD": PASSWORD}
    push_metrics(make_report(drill="nightly"), gateway=gateway.url, environ=environ)
    method, path, auth = gateway.requests[0]
    assert (method, path) == ("POST", "/metrics/job/drdrill/drill/nightly")
    assert auth == "Basic " + base64.b64encode(f"drdrill:{PASSWORD}".encode()).decode()

    gateway.statuses = [401]
    with pytest.raises(InfrastructureError, match="HTTP 401") as caught:
        push_metrics(make_report(drill="nightly"), gateway=gateway.url, environ=environ)
    assert len(gateway.requests) == 2  # a refusal is not retried
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err + str(caught.value)


def test_server_errors_are_retried(gateway: Gateway) -> None:
    gateway.statuses = [503, 502]
    push_metrics(make_report(), gateway=gateway.url, environ={})
    assert [auth for _, _, auth in gateway.requests] == [None, None, None]


def test_basic_auth_the_scenario_names_and_the_environment_pair_wins(gateway: Gateway) -> None:
    from drdrill.metrics import BasicAuth

    scenario_auth = BasicAuth(username="from-scenario", password=PASSWORD)
    assert PASSWORD not in repr(scenario_auth)
    push_metrics(make_report(), gateway=gateway.url, environ={}, auth=scenario_auth)
    push_metrics(make_report(), gateway=gateway.url, auth=scenario_auth, environ={
        "DRDRILL_PUSHGATEWAY_USERNAME": "from-env", "DRDRILL_PUSHGATEWAY_PASSWORD": "envpass"})
    sent = [base64.b64decode((auth or "Basic ").split()[1]).decode()
            for _, _, auth in gateway.requests]
    assert sent == [f"from-scenario:{PASSWORD}", "from-env:envpass"]
