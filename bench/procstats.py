"""What a benchmark measures of its subprocesses: peak RSS and CPU seconds, from /proc."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss:
    """VmHWM of a child, read every 20 ms until it exits.

    Not ru_maxrss: that carries over the forking parent's RSS from before exec.
    """

    def __init__(self, pid: int) -> None:
        self.pid, self.bytes, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        status = Path(f"/proc/{self.pid}/status")
        while not self._done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.bytes = max(self.bytes, int(line.split()[1]) * 1024)
            except (OSError, ValueError, IndexError):
                pass
            self._done.wait(0.02)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def server_pid_of(port: int) -> int:
    """Our child listening on 127.0.0.1:`port` (the S3 server running_versitygw started)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if f"127.0.0.1:{port}".encode() in cmdline and parent == os.getpid():
            return int(entry.name)
    raise SystemExit(f"no child process listens on 127.0.0.1:{port}")
