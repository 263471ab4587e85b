"""Saved cluster state, so `drdrill cluster down` finds what `cluster up` (or a kept drill) made.

Each saved process group carries its leader's identity (boot and start time): a later command
stops only groups whose leader is still that process, never a pid the system has since given
to another program.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

from drdrill.atomic_files import write_atomically
from drdrill.clusters.base import ClusterInfo
from drdrill.errors import BadInputError
from drdrill.proc import process_identity


def state_root() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "drdrill" / "clusters"


def state_file(drill: str) -> Path:
    return state_root() / f"{drill}.json"


def save_state(info: ClusterInfo) -> Path:
    path = state_file(info.name)
    data = asdict(info)
    data["kubeconfig"] = str(info.kubeconfig)
    data["workdir"] = str(info.workdir) if info.workdir else None
    data["process_identities"] = {str(pgid): process_identity(pgid)
                                  for pgid in info.process_groups}
    write_atomically(path, json.dumps(data, indent=2) + "\n", mode=0o600)
    return path


def load_state(drill: str) -> ClusterInfo | None:
    path = state_file(drill)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: unreadable cluster state; remove it by hand") from err
    return ClusterInfo(
        name=data["name"],
        provider=data["provider"],
        kubeconfig=Path(data["kubeconfig"]),
        context=data.get("context"),
        workdir=Path(data["workdir"]) if data.get("workdir") else None,
        server=data.get("server", ""),
        process_groups=tuple(data.get("process_groups", ())),
        components=dict(data.get("components", {})),
        owned=bool(data.get("owned", True)),
    )


def saved_identities(drill: str) -> dict[int, str | None]:
    """The identity saved for each process group of the drill's cluster (None: unknown)."""
    try:
        data = json.loads(state_file(drill).read_text(encoding="utf-8"))
        saved = data.get("process_identities") or {}
        return {int(pgid): (str(who) if who else None) for pgid, who in saved.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def with_live_process_groups(info: ClusterInfo) -> tuple[ClusterInfo, list[int]]:
    """`info` keeping only the process groups whose leader is still the saved process, and the
    pgids left out (gone, or their pid reused by another program since)."""
    identities = saved_identities(info.name)
    live = tuple(pgid for pgid in info.process_groups
                 if identities.get(pgid) is not None and process_identity(pgid) == identities[pgid])
    dropped = [pgid for pgid in info.process_groups if pgid not in live]
    return replace(info, process_groups=live), dropped


def add_process_group(info: ClusterInfo, pgid: int) -> ClusterInfo:
    return replace(info, process_groups=(*info.process_groups, pgid))


def forget_state(drill: str) -> None:
    state_file(drill).unlink(missing_ok=True)
