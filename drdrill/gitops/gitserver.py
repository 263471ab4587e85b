"""Serve a local repository over smart HTTP on 127.0.0.1 for the length of a drill.

Flux's git client speaks smart HTTP (not file://), so a local path in a scenario is served by
dulwich from a thread of this process: it ends when the drill ends, nothing to leak.
A folder that is not a git repository is committed as it is into a throw-away repository
(branch `main`), so a team can drill a tree of manifests before it is pushed anywhere.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich import porcelain
from dulwich.repo import Repo
from dulwich.server import DEFAULT_HANDLERS, DictBackend, UploadPackHandler
from dulwich.web import make_wsgi_chain

from drdrill.errors import BadInputError


class _UploadPackWithoutThinPack(UploadPackHandler):
    """go-git (inside Flux) does not offer the thin-pack capability that dulwich insists on;
    a full pack is what git sends such clients anyway."""

    @classmethod
    def required_capabilities(cls) -> tuple[bytes, ...]:
        return tuple(c for c in super().required_capabilities() if c != b"thin-pack")


_HANDLERS: dict[bytes, Any] = {**DEFAULT_HANDLERS, b"git-upload-pack": _UploadPackWithoutThinPack}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass
class ServedRepository:
    url: str
    head_commit: str
    # The git repository served: the folder itself, or the snapshot made of a plain folder.
    root: Path
    repo: Repo
    server: WSGIServer
    thread: threading.Thread
    snapshot_dir: Path | None

    def resolve(self, *, branch: str | None = None, tag: str | None = None) -> str | None:
        """The commit a branch or tag points at in the served repository."""
        repo: Any = self.repo
        ref = f"refs/heads/{branch}" if branch else f"refs/tags/{tag}"
        try:
            obj = repo[ref.encode()]
        except KeyError:
            return None
        while obj.type_name == b"tag":  # annotated tags point at the commit
            obj = repo[obj.object[1]]
        return str(obj.id.decode())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.repo.close()
        if self.snapshot_dir is not None:
            shutil.rmtree(self.snapshot_dir, ignore_errors=True)


def snapshot_folder(folder: Path) -> Path:
    """Commit `folder`'s current files into a fresh repository on branch main."""
    target = Path(tempfile.mkdtemp(prefix="drdrill-git-"))
    shutil.copytree(folder, target, dirs_exist_ok=True, symlinks=True)
    repo: Any = Repo.init(str(target))
    try:
        repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
        files = [str(p) for p in target.rglob("*") if p.is_file() and ".git" not in p.parts]
        porcelain.add(repo, paths=files)
        porcelain.commit(repo, message=b"drdrill snapshot", author=b"drdrill <drdrill@localhost>",
                         committer=b"drdrill <drdrill@localhost>")
    finally:
        repo.close()
    return target


def serve_repository(folder: Path) -> ServedRepository:
    if not folder.is_dir():
        raise BadInputError(f"spec.gitops.repository.path: {folder} is not a folder")
    snapshot: Path | None = None
    if (folder / ".git").exists():
        root = folder
    else:
        snapshot = snapshot_folder(folder)
        root = snapshot
    repo = Repo(str(root))
    backend = DictBackend({"/repo.git": cast(Any, repo)})
    app = make_wsgi_chain(backend, handlers=_HANDLERS)
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="drdrill-git-http", daemon=True)
    thread.start()
    port = server.server_address[1]
    return ServedRepository(
        url=f"http://127.0.0.1:{port}/repo.git",
        head_commit=repo.head().decode(),
        root=root,
        repo=repo,
        server=server,
        thread=thread,
        snapshot_dir=snapshot,
    )
