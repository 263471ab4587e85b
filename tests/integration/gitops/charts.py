"""Helm charts packaged by the test, served from a folder over HTTP on 127.0.0.1.

A chart archive is a gzipped tar of `<name>/Chart.yaml`, `values.yaml` and `templates/`;
`index.yaml` lists each version with its sha256 digest, as `helm repo index` writes it. The
server is the standard library's, in a thread of the test process.
"""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

DEPLOYMENT_TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: server
          image: "{{ .Values.image }}"
          env:
            - {name: MODEL_URI, value: "{{ .Values.modelUri }}"}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80}]
"""


def package_chart(folder: Path, *, name: str, version: str,
                  values: dict[str, Any] | None = None,
                  template: str = DEPLOYMENT_TEMPLATE) -> Path:
    """Write `<name>-<version>.tgz` into `folder`; returns its path."""
    files = {
        f"{name}/Chart.yaml": yaml.safe_dump({"apiVersion": "v2", "name": name,
                                              "version": version, "type": "application"}),
        f"{name}/values.yaml": yaml.safe_dump(values or {"replicas": 1,
                                                         "image": "example.com/model:1",
                                                         "modelUri": ""}),
        f"{name}/templates/deployment.yaml": template,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    target = folder / f"{name}-{version}.tgz"
    target.write_bytes(buffer.getvalue())
    return target


def write_index(folder: Path) -> None:
    entries: dict[str, list[dict[str, Any]]] = {}
    for archive in sorted(folder.glob("*.tgz")):
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("/Chart.yaml"))
            extracted = tar.extractfile(member)
            assert extracted is not None
            chart = yaml.safe_load(extracted.read())
        entries.setdefault(chart["name"], []).append({
            **chart, "urls": [archive.name], "created": "2026-01-01T00:00:00Z",
            "digest": hashlib.sha256(archive.read_bytes()).hexdigest(),
        })
    (folder / "index.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "entries": entries, "generated": "2026-01-01T00:00:00Z"}))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass(frozen=True)
class ChartRepository:
    url: str
    folder: Path


@contextmanager
def serve_charts(folder: Path) -> Iterator[ChartRepository]:
    """Serve `folder` (charts and index.yaml) on 127.0.0.1 for the length of the block."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ChartRepository(url=f"http://127.0.0.1:{server.server_address[1]}/",
                              folder=folder)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def helm_repository(url: str, *, name: str = "charts") -> dict[str, Any]:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"interval": "10m", "url": url, "timeout": "30s"}}


def helm_release(name: str, namespace: str, *, chart: str, version: str,
                 repository: str = "charts", values: dict[str, Any] | None = None,
                 ) -> dict[str, Any]:
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "10m", "timeout": "2m",
                     "chart": {"spec": {"chart": chart, "version": version,
                                        "sourceRef": {"kind": "HelmRepository",
                                                      "name": repository,
                                                      "namespace": "flux-system"}}},
                     "install": {"remediation": {"retries": 0}},
                     "values": values or {}}}


@contextmanager
def running_registry(workdir: Path) -> Iterator[str]:
    """The test bed's OCI registry (CNCF distribution) on 127.0.0.1; yields `host:port`."""
    import socket
    import subprocess
    import time
    import urllib.request

    from drdrill.testbed import testbed_binary

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([str(testbed_binary("registry")), "serve", str(config)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((workdir / "registry.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def push_chart(registry: str, repository: str, archive: Path) -> None:
    """Push a packaged chart as `helm push` does: a Helm config blob, the archive as a layer,
    and an OCI manifest tagged with the chart version (the distribution API, over HTTP)."""
    import json
    import urllib.request

    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/Chart.yaml"))
        extracted = tar.extractfile(member)
        assert extracted is not None
        chart = yaml.safe_load(extracted.read())
    name = f"{repository}/{chart['name']}"

    def blob(data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = urllib.request.Request(f"http://{registry}/v2/{name}/blobs/uploads/",
                                       method="POST")
        with urllib.request.urlopen(start, timeout=10) as response:
            location = response.headers["Location"]
        if location.startswith("/"):
            location = f"http://{registry}{location}"
        separator = "&" if "?" in location else "?"
        upload = urllib.request.Request(f"{location}{separator}digest={digest}", data=data,
                                        method="PUT",
                                        headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(upload, timeout=10).close()
        return {"digest": digest, "size": len(data)}

    config = json.dumps(chart).encode()
    layer = archive.read_bytes()
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", **blob(config)},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    **blob(layer)}],
    }
    put = urllib.request.Request(
        f"http://{registry}/v2/{name}/manifests/{chart['version']}",
        data=json.dumps(manifest).encode(), method="PUT",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(put, timeout=10).close()


def oci_helm_repository(registry: str, repository: str, *, name: str = "oci-charts",
                        ) -> dict[str, Any]:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"type": "oci", "interval": "10m", "insecure": True,
                     "url": f"oci://{registry}/{repository}"}}
