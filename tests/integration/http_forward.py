"""Forward one request of a test's small HTTP proxy to its upstream and the answer back.

The in-test proxies (an S3 endpoint that injects 503/500, a git host behind basic auth) pass
what they let through to the real server with this; whole bodies are read, which suits the
small objects those tests move. Headers go as they came (S3 signs `Host`), minus `drop`.
"""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler

_HOP_BY_HOP = ("transfer-encoding", "connection", "content-length")


def forward(handler: BaseHTTPRequestHandler, upstream: tuple[str, int], *,
            drop: tuple[str, ...] = (), timeout: float = 60) -> None:
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in drop}
    connection = http.client.HTTPConnection(*upstream, timeout=timeout)
    try:
        connection.request(handler.command, handler.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    handler.send_response(answer.status)
    for name, value in answer.getheaders():
        if name.lower() not in _HOP_BY_HOP:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
