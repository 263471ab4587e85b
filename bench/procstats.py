"""What a benchmark measures of its subprocesses: peak RSS and CPU seconds, from /proc."""

from __future__ import annotations

import os
import shutil
import threading
import time
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


# How long ext4 without a journal avoids reusing a deleted inode (plus a second).
DELETED_INODE_SECONDS = 61


def settle_deleted_inodes() -> None:
    """Wait until files deleted just now no longer slow down creating new ones.

    On this machine's ext4 (no journal), creating a file skips every inode deleted in the
    last 60 s, reading each one's inode-table block: right after 10,000 files were deleted,
    every create of the next runs paid that scan (perf: `recently_deleted` under
    `__ext4_new_inode`, 8% of all samples). A restore onto a fresh disk does not.
    """
    os.sync()
    time.sleep(DELETED_INODE_SECONDS)


class SpentFolders:
    """Restore folders of finished runs. One of many files is kept until the case ends;
    every run's writes are synced before the next run: deleting a run's 10,000 files just
    before the next run, or leaving them unsynced, made the next run pay for them (see
    settle_deleted_inodes; the writeback of earlier runs made later ones 20-30% slower)."""

    MANY_FILES = 100

    def __init__(self, root: Path) -> None:
        self.root, self.kept_files = root, 0

    def retire(self, folder: Path) -> None:
        files = sum(len(names) for _, _, names in os.walk(folder))
        if files > self.MANY_FILES:
            self.root.mkdir(parents=True, exist_ok=True)
            folder.rename(self.root / f"run-{sum(1 for _ in self.root.iterdir())}")
            self.kept_files += files
        else:
            shutil.rmtree(folder, ignore_errors=True)
        os.sync()  # untimed: before the next run starts

    def delete(self) -> None:
        """Delete the kept folders; wait the deleted inodes out when there were many."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self.kept_files:
            settle_deleted_inodes()
        self.kept_files = 0
