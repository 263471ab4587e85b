"""The key check: before any cluster exists, the key files from the DR vault must open every
encrypted secret in Git (SOPS files with age, Bitnami SealedSecrets with the sealing keys).

Required when the scenario names keys (`spec.gitops.keys`, or the age key of
`spec.gitops.decryption`). Every repository of the scenario that is a local path is read at
the ref the drill applies (the main repository at `spec.gitops.ref`, another one at the ref its
GitRepository in the main repository asks for, else its HEAD); a repository given by URL is
not read ahead, and the phase says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from drdrill.engine.context import DrillContext
from drdrill.engine.phase import PhaseOutcome
from drdrill.engine.phases.bootstrap import MAIN_REPOSITORY, _local_files
from drdrill.errors import PhaseFailure
from drdrill.gitops.layout import RepoFiles, find_encrypted, normalise_remote, yaml_documents
from drdrill.keys.check import SecretCheck, check_file
from drdrill.keys.keyfiles import AgeKeys, SealingKeys, load_age_keys, load_sealing_keys
from drdrill.logs import register_secret
from drdrill.scenario.models import GitOpsSpec, GitRef, Scenario
from drdrill.timing import Deadline

log = structlog.get_logger(__name__)
# How many failing secrets the phase's one-line reason names; the log names all.
_NAMED_IN_REASON = 10


@dataclass(frozen=True)
class KeyFiles:
    age: AgeKeys | None
    sealing: SealingKeys | None


def named_key_files(scenario: Scenario) -> tuple[list[Path], list[Path]]:
    """The age and sealing key files the scenario names (resolved, in order, no repeats)."""
    gitops = scenario.spec.gitops
    if gitops is None:
        return [], []
    age = [scenario.resolve_path(p) for p in (gitops.keys.age if gitops.keys else ())]
    if gitops.decryption is not None:
        age.append(scenario.resolve_path(gitops.decryption.key_file))
    sealing = [scenario.resolve_path(p) for p in (gitops.keys.sealing_keys if gitops.keys
                                                  else ())]
    return list(dict.fromkeys(age)), list(dict.fromkeys(sealing))


def load_key_files(scenario: Scenario) -> KeyFiles:
    """Read (and register with the log redaction) every key file the scenario names; a bad
    one raises `KeyFileError` (bad input, one line) before anything starts."""
    age, sealing = named_key_files(scenario)
    return KeyFiles(age=load_age_keys(age) if age else None,
                    sealing=load_sealing_keys(sealing) if sealing else None)


def _repositories(scenario: Scenario, gitops: GitOpsSpec) -> list[tuple[str, RepoFiles | None,
                                                                       str]]:
    """(name, files or None, why not read) for the main repository and the others."""
    found: list[tuple[str, RepoFiles | None, str]] = []
    main = gitops.repository
    main_files = None
    if main.path is not None:
        main_files = _local_files(scenario.resolve_path(main.path), gitops.ref)
        found.append((MAIN_REPOSITORY, main_files, f"{gitops.ref.describe()} not found"))
    else:
        found.append((MAIN_REPOSITORY, None, "a remote URL is not read ahead"))
    for team in gitops.repositories:
        if team.path is None:
            found.append((team.name, None, "a remote URL is not read ahead"))
            continue
        folder = scenario.resolve_path(team.path)
        ref = _ref_in_git(main_files, team.remotes)
        if ref is None:
            head = _head(folder)
            ref = GitRef(commit=head) if head else gitops.ref
        found.append((team.name, _local_files(folder, ref), f"{ref.describe()} not found"))
    return found


def _ref_in_git(files: RepoFiles | None, remotes: tuple[str, ...]) -> GitRef | None:
    """The ref the main repository's GitRepository for these remotes asks for: what Flux
    would check out of the team's repository."""
    if files is None:
        return None
    wanted = {normalise_remote(r) for r in remotes}
    for _, content in files.under(""):
        for doc in yaml_documents(content):
            spec = doc.get("spec") or {}
            if doc.get("kind") != "GitRepository" or normalise_remote(
                    str(spec.get("url") or "")) not in wanted:
                continue
            ref = spec.get("ref") or {}
            given = {k: str(ref[k]) for k in ("commit", "tag", "branch") if ref.get(k)}
            if given:
                key = next(iter(given))
                return GitRef.model_validate({key: given[key]})
    return None


def _head(folder: Path) -> str | None:
    if not (folder / ".git").exists():
        return None
    from dulwich.repo import Repo

    repo = Repo(str(folder))
    try:
        return repo.head().decode()
    except KeyError:
        return None
    finally:
        repo.close()


def check_repositories(scenario: Scenario, keys: KeyFiles, *, deadline: Deadline) -> tuple[
    list[SecretCheck], list[str]
]:
    """A verdict per encrypted secret, and notes on what could not be read."""
    gitops = scenario.spec.gitops
    assert gitops is not None
    checks: list[SecretCheck] = []
    notes: list[str] = []
    opened: list[str] = []
    try:
        for name, files, why in _repositories(scenario, gitops):
            if files is None:
                notes.append(f"repository {name} not checked: {why}")
                continue
            for path in sorted({e.file for e in find_encrypted(files)}):
                if deadline.expired():
                    raise PhaseFailure(f"the key check ran out of its budget after "
                                       f"{len(checks)} secret(s)")
                checks += check_file(repository=name, file=path, content=files.files[path],
                                     age=keys.age, sealing=keys.sealing, on_value=opened.append)
    finally:
        # Once, not per value: each registration rebuilds the redaction's pattern.
        register_secret("\n".join(opened))
        opened.clear()
    return checks, notes


class KeysPhase:
    name = "keys"
    needs: tuple[str, ...] = ()

    def required(self, ctx: DrillContext) -> bool:
        age, sealing = named_key_files(ctx.scenario)
        return bool(age or sealing)

    def describe(self, ctx: DrillContext) -> list[str]:
        age, sealing = named_key_files(ctx.scenario)
        if not (age or sealing):
            return ["nothing: the scenario names no keys (spec.gitops.keys, "
                    "spec.gitops.decryption)"]
        lines = ["offline, before any cluster: every SOPS file and SealedSecret in Git must "
                 "open with the keys named (no decrypted value is written or shown)"]
        lines += [f"age key file {p}" for p in age]
        lines += [f"sealing key file {p}" for p in sealing]
        return lines

    def run(self, ctx: DrillContext, *, deadline: Deadline) -> PhaseOutcome:
        if not self.required(ctx):
            return PhaseOutcome.skipped("the scenario names no keys")
        keys = load_key_files(ctx.scenario)
        checks, notes = check_repositories(ctx.scenario, keys, deadline=deadline)
        failed = [c for c in checks if c.status == "failed"]
        unchecked = [c for c in checks if c.status == "unchecked"]
        for check in checks:
            log.info("encrypted secret", secret=check.describe(), status=check.status)
        for note in notes:
            log.warning("key check", note=note)
        opened = len(checks) - len(failed) - len(unchecked)
        extra = [f"{len(unchecked)} not checked ({unchecked[0].describe()}"
                 + (", ..." if len(unchecked) > 1 else "") + ")"] if unchecked else []
        extra += notes
        if failed:
            named = "; ".join(c.describe() for c in failed[:_NAMED_IN_REASON])
            more = f"; and {len(failed) - _NAMED_IN_REASON} more" if len(
                failed) > _NAMED_IN_REASON else ""
            given = "; ".join(k.describe() for k in (keys.age, keys.sealing) if k is not None)
            raise PhaseFailure("; ".join([
                f"{len(failed)} of {len(checks)} encrypted secret(s) do not open with the keys "
                f"in {given}: {named}{more}", *extra]))
        summary = f"{opened} encrypted secret(s) open with the keys given"
        return PhaseOutcome.passed("; ".join([summary, *extra]))
