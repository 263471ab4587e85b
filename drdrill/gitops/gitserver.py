"""Serve a local repository over smart HTTP for the length of a drill (on 127.0.0.1, or on
the address the cluster's provider names: kind's pods reach the host on the nodes' network).

Flux's git client speaks smart HTTP (not file://), so a local path in a scenario is served by
dulwich from a thread of this process: it ends when the drill ends, nothing to leak.
A folder that is not a git repository is committed as it is into a throw-away repository
(branch `main`), so a team can drill a tree of manifests before it is pushed anywhere.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich import porcelain
from dulwich.repo import Repo
from dulwich.server import DictBackend, UploadPackHandler
from dulwich.web import GunzipFilter, HTTPGitApplication, LimitedInputFilter

from drdrill.errors import BadInputError


class _UploadPackWithoutThinPack(UploadPackHandler):
    """go-git (inside Flux) does not offer the thin-pack capability that dulwich insists on;
    a full pack is what git sends such clients anyway."""

    @classmethod
    def required_capabilities(cls) -> tuple[bytes, ...]:
        return tuple(c for c in super().required_capabilities() if c != b"thin-pack")


# Read-only: fetch and clone only. dulwich's defaults also serve git-receive-pack, with which
# any local process could rewrite the refs of the user's repository while a drill runs (and
# dulwich merges a `handlers` argument into its defaults rather than replacing them).
_HANDLERS: dict[bytes, Any] = {b"git-upload-pack": _UploadPackWithoutThinPack}


def _read_only_app(backend: DictBackend) -> Any:
    """dulwich's smart-HTTP app with upload-pack as its only service, behind a filter that
    answers 403 to anything but the two upload-pack requests (and dumb-protocol reads)."""
    git_app = HTTPGitApplication(backend)
    git_app.handlers = dict(_HANDLERS)
    wrapped = LimitedInputFilter(GunzipFilter(git_app))

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if "receive-pack" in path or "receive-pack" in query or method not in ("GET", "POST") or (
                method == "POST" and not path.endswith("/git-upload-pack")):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"read-only: only git-upload-pack is served\n"]
        return wrapped(environ, start_response)

    return app


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


def serve_repository(folder: Path, *, host: str = "127.0.0.1") -> ServedRepository:
    if not folder.is_dir():
        raise BadInputError(f"spec.gitops.repository.path: {folder} is not a folder")
    snapshot: Path | None = None
    if (folder / ".git").exists():
        root = folder
    else:
        snapshot = snapshot_folder(folder)
        root = snapshot
    repo = Repo(str(root))
    # An unguessable path per drill: another local user cannot find the repository by port scan.
    path = f"/{secrets.token_urlsafe(18)}/repo.git"
    backend = DictBackend({path: cast(Any, repo)})
    app = _read_only_app(backend)
    server = make_server(host, 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="drdrill-git-http", daemon=True)
    thread.start()
    port = server.server_address[1]
    return ServedRepository(
        url=f"http://{host}:{port}{path}",
        head_commit=repo.head().decode(),
        root=root,
        repo=repo,
        server=server,
        thread=thread,
        snapshot_dir=snapshot,
    )
