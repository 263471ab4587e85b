"""A progress bar for one set's restore on a terminal: objects, bytes, throughput and ETA.

Drawn with rich on stderr, only when stderr is a terminal (and TERM is not `dumb`), and
transient: it disappears when the restore ends, so nothing of it reaches a log file or a
report. The restore reports each judged object through a plain callback (`advance`), so the
engines know nothing of terminals.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[int, int], None]


def terminal_wants_progress() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"


@contextmanager
def restore_progress(*, name: str, objects: int, total_bytes: int,
                     enabled: bool) -> Iterator[Progress | None]:
    """A callback `(objects, bytes)` drawing the bar while the block runs, or None when
    `enabled` is False or stderr is no terminal."""
    if not enabled or not terminal_wants_progress() or objects == 0:
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    bar = RichProgress(
        TextColumn("restoring {task.description}"), BarColumn(),
        TextColumn("{task.fields[done]}/{task.fields[of]} objects"), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )
    task = bar.add_task(escape(name), total=max(1, total_bytes), done=0, of=objects)
    done = [0]

    def advance(count: int, size: int) -> None:
        done[0] += count  # from one thread at a time per engine; a miscount only misdraws
        bar.update(task, advance=size, done=done[0])

    with bar:
        yield advance
