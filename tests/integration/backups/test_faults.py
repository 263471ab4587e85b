"""Network faults between drdrill and S3, made by toxiproxy: a broken download never passes."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from drdrill.backups.ranged import stream_ranged
from drdrill.backups.restore import Engine, RestoreTarget, restore_objects
from drdrill.backups.s3client import S3Endpoint, make_s3_client
from drdrill.backups.signed_get import SignedGetter
from drdrill.backups.streaming import BROKEN_STREAM
from drdrill.timing import Deadline
from tests.integration.backups.helpers import (
    backup_result,
    backup_set,
    latest_report,
    new_bucket,
    payload,
    put,
    put_set,
    run_cli,
    write_scenario,
)
from tests.integration.http_forward import forward
from tests.integration.s3_server import S3Server, Toxiproxy

pytestmark = pytest.mark.integration

SIZE = 1024 * 1024
OBJECTS = {f"obj-{i}.bin": payload(f"fault-{i}", SIZE) for i in range(4)}


@pytest.fixture
def proxied(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str]]:
    """(proxy name, proxied endpoint) in front of versitygw; a bucket with OBJECTS."""
    name = f"s3-{request.node.name[:40]}".replace("[", "-").replace("]", "")
    endpoint = toxiproxy.proxy(name, upstream=f"{s3_credentials.host}:{s3_credentials.port}")
    yield name, endpoint


def _bucket(server: S3Server) -> str:
    client = server.client()
    bucket = new_bucket(server, client)
    put_set(client, bucket, OBJECTS)
    return bucket


def _targets() -> list[RestoreTarget]:
    return [
        RestoreTarget("set/" + k, k, len(d), hashlib.sha256(d).hexdigest())
        for k, d in OBJECTS.items()
    ]


ENGINES = pytest.mark.parametrize("engine", ["auto", "http"], ids=["obstore", "http"])


def _restore(endpoint: str, bucket: str, folder: Path, *, read_timeout: float = 10.0,
             budget: float = 60.0, engine: Engine = "auto") -> list[str | None]:
    s3 = S3Endpoint(endpoint_url=endpoint, max_concurrency=4)
    client = make_s3_client(endpoint=s3, read_timeout=read_timeout)
    folder.mkdir()
    checks = restore_objects(client, endpoint=s3, bucket=bucket, targets=_targets(),
                             folder=folder, concurrency=4, deadline=Deadline.after(budget),
                             engine=engine)
    assert {c.engine for c in checks} == {"obstore" if engine == "auto" else "signed-http"}
    return [c.problem for c in checks]


def test_truncating_connections_are_integrity_failures(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="cut", kind="limit_data", bytes=200_000)
    scenario = write_scenario(tmp_path, endpoint, [backup_set(bucket)])
    done = run_cli("backups", "verify", str(scenario), "--report-dir", str(tmp_path / "r"),
                   cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    result = backup_result(latest_report(tmp_path / "r"))
    assert not result["verified"]
    assert {f["key"] for f in result["failures"]} == set(OBJECTS)
    assert all("broke off" in f["problem"] or "truncated" in f["problem"]
               for f in result["failures"])


@ENGINES
def test_a_cut_that_heals_is_retried_and_passes(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path,
    engine: Engine,
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="cut", kind="limit_data", bytes=100_000)
    healer = threading.Timer(0.4, toxiproxy.remove_toxic, args=(name, "cut"))
    healer.start()
    try:
        assert _restore(endpoint, bucket, tmp_path / "restore", engine=engine) == [
            None] * len(OBJECTS)
    finally:
        healer.join()
    for key, data in OBJECTS.items():
        assert (tmp_path / "restore" / key).read_bytes() == data


@ENGINES
def test_resets_mid_stream_never_pass(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path,
    engine: Engine,
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="slow", kind="bandwidth", rate=1024)  # KB/s
    toxiproxy.add_toxic(name, name="reset", kind="reset_peer", timeout=300)
    problems = _restore(endpoint, bucket, tmp_path / "restore", budget=30, engine=engine)
    assert all(p is not None for p in problems), problems


@ENGINES
def test_a_silent_server_times_out_within_the_budget(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path,
    engine: Engine,
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="blackhole", kind="timeout", timeout=0)
    started = time.monotonic()
    problems = _restore(endpoint, bucket, tmp_path / "restore", read_timeout=1, budget=20,
                        engine=engine)
    assert all(p is not None for p in problems), problems
    assert time.monotonic() - started < 120


def test_latency_slows_but_passes(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    put(s3_credentials.client(), bucket, "set/extra-small.bin", b"")
    toxiproxy.add_toxic(name, name="latency", kind="latency", latency=150, jitter=50)
    assert _restore(endpoint, bucket, tmp_path / "restore") == [None] * len(OBJECTS)


def _ranged(endpoint: str, bucket: str, key: str, fd: int, *,
            signed: bool) -> tuple[str, int, int]:
    s3 = S3Endpoint(endpoint_url=endpoint, max_concurrency=4)
    client = make_s3_client(endpoint=s3, read_timeout=10)
    getter = SignedGetter.for_client(client, endpoint=s3) if signed else None
    assert getter is not None or not signed
    try:
        got = stream_ranged(client, bucket=bucket, key=key, fd=fd, concurrency=4,
                            deadline=Deadline.after(60), signed=getter, part_bytes=100_000)
    finally:
        if getter is not None:
            getter.close()
    return got.sha256, got.size, got.content_length


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "botocore"])
def test_ranged_parts_reassemble_the_object(
    s3_credentials: S3Server, tmp_path: Path, signed: bool
) -> None:
    bucket = _bucket(s3_credentials)
    data = OBJECTS["obj-1.bin"]
    path = tmp_path / "out.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        digest, size, length = _ranged(s3_credentials.endpoint, bucket, "set/obj-1.bin", fd,
                                       signed=signed)
    finally:
        os.close(fd)
    assert (digest, size, length) == (hashlib.sha256(data).hexdigest(), len(data), len(data))
    assert path.read_bytes() == data


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "botocore"])
def test_ranged_parts_cut_short_never_pass(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path,
    signed: bool,
) -> None:
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="cut", kind="limit_data", bytes=50_000)
    fd = os.open(tmp_path / "out.bin", os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        with pytest.raises(BROKEN_STREAM):
            _ranged(endpoint, bucket, "set/obj-1.bin", fd, signed=signed)
    finally:
        os.close(fd)


class _Faulty(BaseHTTPRequestHandler):
    """In front of versitygw: the first GET of each object answers 503 SlowDown, one key
    always 500 InternalError."""

    upstream: tuple[str, int] = ("127.0.0.1", 0)
    seen: set[str] = set()
    answered: dict[int, int] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            first = self.path not in self.seen and "list-type" not in self.path
            self.seen.add(self.path)
        if self.path.split("?")[0].endswith("/obj-0.bin"):
            return self._error(500, "InternalError")
        if first:
            return self._error(503, "SlowDown")
        forward(self, self.upstream, timeout=30)
        return None

    def _error(self, status: int, code: str) -> None:
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        with self.lock:
            self.answered[status] = self.answered.get(status, 0) + 1
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@ENGINES
def test_503_is_retried_and_500_on_one_key_fails_only_that_key(
        s3_credentials: S3Server, tmp_path: Path, engine: Engine) -> None:
    bucket = _bucket(s3_credentials)
    _Faulty.upstream = ("127.0.0.1", s3_credentials.port)
    _Faulty.seen, _Faulty.answered = set(), {}
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        problems = dict(zip(sorted(OBJECTS), _restore(
            f"http://127.0.0.1:{proxy.server_address[1]}", bucket, tmp_path / "restore",
            engine=engine), strict=True))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert _Faulty.answered.get(503, 0) == len(OBJECTS) - 1
    assert _Faulty.answered.get(500, 0) >= 2  # retried as 5xx, then given up
    assert [k for k, p in problems.items() if p is not None] == ["obj-0.bin"]
    assert "InternalError" in str(problems["obj-0.bin"])
    for key in sorted(OBJECTS)[1:]:
        assert (tmp_path / "restore" / key).read_bytes() == OBJECTS[key]


@ENGINES
def test_a_file_already_there_fails_its_key_alone_and_large_answers_stream(
        s3_credentials: S3Server, tmp_path: Path, engine: Engine) -> None:
    """What is in the folder already (a file, a symlink) is never written through or over: the
    object whose path it blocks is a problem of its own key, the rest pass; an object above
    one chunk (4 MiB) still arrives whole and checked."""
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    objects = {"model/config.json": payload("a", 900), "notes.txt": payload("b", 10),
               "weights.bin": payload("big", 5 * SIZE), "other.txt": payload("c", 10)}
    for key, data in objects.items():
        put(client, bucket, "set/" + key, data)
    s3 = S3Endpoint(endpoint_url=s3_credentials.endpoint, max_concurrency=4)
    folder = tmp_path / "restore"
    folder.mkdir()
    (folder / "model").write_text("a file where a folder is needed")
    (tmp_path / "elsewhere").write_text("untouched")
    (folder / "notes.txt").symlink_to(tmp_path / "elsewhere")
    checks = restore_objects(
        make_s3_client(endpoint=s3), endpoint=s3, bucket=bucket, folder=folder, concurrency=4,
        targets=[RestoreTarget("set/" + k, k, len(d), hashlib.sha256(d).hexdigest())
                 for k, d in objects.items()],
        deadline=Deadline.after(60), engine=engine)
    found = {c.relative_key: c.problem for c in checks}
    assert found.pop("model/config.json", "").startswith("cannot create the local file")
    assert found.pop("notes.txt", "").startswith("cannot create the local file")
    assert found == {"weights.bin": None, "other.txt": None}
    assert (folder / "weights.bin").read_bytes() == objects["weights.bin"]
    assert (tmp_path / "elsewhere").read_text() == "untouched"
    assert (folder / "model").read_text() == "a file where a folder is needed"


@ENGINES
def test_an_object_not_the_size_expected_never_passes(
        s3_credentials: S3Server, tmp_path: Path, engine: Engine) -> None:
    """An object that grew after it was listed fails even when its first bytes are exactly
    the expected ones (a small object is fetched as one range: one byte more than expected is
    asked for, so a longer object shows); one that shrank or became empty fails too."""
    client = s3_credentials.client()
    bucket = new_bucket(s3_credentials, client)
    expected = b"0123456789"
    objects = {"grown.bin": expected + b"abc", "shrunk.bin": expected[:5], "emptied.bin": b"",
               "same.bin": expected}
    for key, data in objects.items():
        put(client, bucket, "set/" + key, data)
    s3 = S3Endpoint(endpoint_url=s3_credentials.endpoint, max_concurrency=4)
    folder = tmp_path / "restore"
    folder.mkdir()
    checks = restore_objects(
        make_s3_client(endpoint=s3), endpoint=s3, bucket=bucket, folder=folder, concurrency=4,
        targets=[RestoreTarget("set/" + k, k, len(expected), hashlib.sha256(expected).hexdigest())
                 for k in objects],
        deadline=Deadline.after(60), engine=engine)
    found = {c.relative_key: c.problem for c in checks}
    assert found.pop("same.bin") is None
    if engine == "auto":
        assert found == {"grown.bin": "larger than the 10 bytes expected (changed after it "
                                      "was listed)",
                         "shrunk.bin": "size 5 bytes, expected 10",
                         "emptied.bin": "now empty, expected 10 bytes"}
    else:
        assert found == {"grown.bin": "size 13 bytes, expected 10",
                         "shrunk.bin": "size 5 bytes, expected 10",
                         "emptied.bin": "size 0 bytes, expected 10"}


def test_the_deadline_ends_a_restore_whose_server_went_silent(
    s3_credentials: S3Server, toxiproxy: Toxiproxy, proxied: tuple[str, str], tmp_path: Path,
) -> None:
    """With read timeouts far beyond the budget, the phase's deadline still ends the restore:
    the objects in flight broke off, the others were not checked, none passes."""
    name, endpoint = proxied
    bucket = _bucket(s3_credentials)
    toxiproxy.add_toxic(name, name="blackhole", kind="timeout", timeout=0)
    s3 = S3Endpoint(endpoint_url=endpoint, max_concurrency=2)
    folder = tmp_path / "restore"
    folder.mkdir()
    started = time.monotonic()
    checks = restore_objects(make_s3_client(endpoint=s3, read_timeout=60), endpoint=s3,
                             bucket=bucket, targets=_targets(), folder=folder, concurrency=2,
                             deadline=Deadline.after(3), engine="auto")
    elapsed = time.monotonic() - started
    problems = sorted(c.problem or "" for c in checks)
    assert len(problems) == len(OBJECTS)
    assert [p.startswith("download broke off") for p in problems].count(True) == 2, problems
    assert problems.count("not checked: the time budget ran out") == 2, problems
    assert elapsed < 10, elapsed
