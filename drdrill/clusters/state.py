"""Saved cluster state, so `drdrill cluster down` finds what `cluster up` (or a kept drill) made."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

from drdrill.atomic_files import write_atomically
from drdrill.clusters.base import ClusterInfo
from drdrill.errors import BadInputError


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


def add_process_group(info: ClusterInfo, pgid: int) -> ClusterInfo:
    return replace(info, process_groups=(*info.process_groups, pgid))


def forget_state(drill: str) -> None:
    state_file(drill).unlink(missing_ok=True)
