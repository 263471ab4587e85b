"""A TCP relay: a loopback service made reachable from a cluster's pods.

A kind cluster's pods reach this host on its address on the cluster's Docker network, never on
127.0.0.1. When a drill's S3 endpoint listens on loopback only, the relay accepts on that
address and pipes every connection, byte for byte, to the loopback endpoint: TLS and S3
signatures pass through untouched (the `Host` a pod signs is the one it sent).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

_CHUNK = 256 * 1024


@dataclass
class TcpRelay:
    listen_host: str
    target: tuple[str, int]
    _server: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> int:
        """Listen on a free port of `listen_host`; returns it."""
        server = socket.create_server((self.listen_host, 0))
        self._server = server
        threading.Thread(target=self._accept, name="drdrill-relay", daemon=True).start()
        return int(server.getsockname()[1])

    def stop(self) -> None:
        """Close the listener and every relayed connection; safe to call twice."""
        self._stopped.set()
        if self._server is not None:
            # shutdown first: on Linux it wakes the thread blocked in accept(), close alone
            # would leave the listener accepting until that call returned
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._server.close()
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopped.is_set():
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            pair = _Pair(client, upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(pair, source, sink),
                                 daemon=True).start()

    def _pipe(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                sink.sendall(chunk)
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
        except OSError:
            pair.close()
        finally:
            if pair.half_done():  # the second direction to end closes the pair
                with self._lock:
                    self._open.discard(pair.client)
                    self._open.discard(pair.upstream)
                pair.close()


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    _ended: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def half_done(self) -> bool:
        with self._lock:
            self._ended += 1
            return self._ended == 2

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()
