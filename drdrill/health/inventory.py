"""Which objects to wait for: the GitOps engine's inventory, narrowed to workloads and selectors.

Flux records what a Kustomization applied in `status.inventory.entries` (ids such as
`ml_web_apps_Deployment`), Argo CD in `Application.status.resources`; either becomes a list of
`ObjectRef`. Pure configuration (ConfigMaps, Secrets, RBAC, CRDs, admission webhooks...) has no
health of its own and is dropped by `is_workload`. Namespaces and Services stay: they are cheap
to watch, and a namespace stuck `Terminating` or a LoadBalancer without an address after a
restore is exactly what a drill should report. Every custom resource stays.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from drdrill.errors import BadInputError
from drdrill.health.refs import ObjectRef
from drdrill.scenario.models import WorkloadSelector

CONFIG_KINDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "Endpoints"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("networking.k8s.io", "IngressClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("policy", "PodDisruptionBudget"),
        ("apiregistration.k8s.io", "APIService"),
    }
)


def is_workload(ref: ObjectRef) -> bool:
    """False for kinds that are pure configuration and have no health to wait for."""
    return (ref.group, ref.kind) not in CONFIG_KINDS


def refs_from_flux_inventory(entries: Iterable[Mapping[str, object]]) -> list[ObjectRef]:
    """`status.inventory.entries` of a Flux Kustomization as ObjectRefs, in inventory order.

    An id is `<namespace>_<name>_<group>_<kind>` (empty namespace for cluster-scoped objects,
    empty group for the core group); a `:` in an RBAC name is written `__`.
    """
    refs = []
    for entry in entries:
        entry_id, version = entry.get("id"), entry.get("v")
        if not isinstance(entry_id, str) or not isinstance(version, str):
            raise BadInputError(f"malformed Flux inventory entry: {dict(entry)!r}")
        head, _, kind = entry_id.rpartition("_")
        head, _, group = head.rpartition("_")
        namespace, _, name = head.partition("_")
        if not kind or not name:
            raise BadInputError(f"malformed Flux inventory id {entry_id!r}")
        refs.append(
            ObjectRef(
                api_version=f"{group}/{version}" if group else version,
                kind=kind,
                namespace=namespace or None,
                name=name.replace("__", ":"),
            )
        )
    return refs


def refs_from_argocd_resources(resources: Iterable[Mapping[str, object]]) -> list[ObjectRef]:
    """`status.resources` of an Argo CD Application as ObjectRefs."""
    refs = []
    for resource in resources:
        group = str(resource.get("group") or "")
        version = str(resource.get("version") or "")
        kind, name = resource.get("kind"), resource.get("name")
        if not version or not isinstance(kind, str) or not isinstance(name, str):
            raise BadInputError(f"malformed Argo CD resource entry: {dict(resource)!r}")
        refs.append(
            ObjectRef(
                api_version=f"{group}/{version}" if group else version,
                kind=kind,
                namespace=str(resource.get("namespace") or "") or None,
                name=name,
            )
        )
    return refs


@dataclass(frozen=True)
class Selection:
    """The scenario's `include` / `exclude` selectors.

    A ref is kept when it matches any include (or there are none) and no exclude. Namespace and
    name accept shell globs (`train-*`); kind compares case-insensitively. A label selector
    needs the object's labels: until they are known (`labels=None`) a selector that has one is
    assumed to include and not to exclude, so nothing is dropped on a guess.
    """

    include: tuple[WorkloadSelector, ...] = ()
    exclude: tuple[WorkloadSelector, ...] = ()

    @property
    def needs_labels(self) -> bool:
        return any(s.label_selector for s in (*self.include, *self.exclude))

    def keeps(self, ref: ObjectRef, labels: Mapping[str, str] | None = None) -> bool:
        included = not self.include or any(
            _matches(s, ref, labels, unknown=True) for s in self.include
        )
        return included and not any(
            _matches(s, ref, labels, unknown=False) for s in self.exclude
        )


def select(
    targets: Sequence[ObjectRef],
    include: Sequence[WorkloadSelector],
    exclude: Sequence[WorkloadSelector],
    labels: Mapping[ObjectRef, Mapping[str, str]] | None = None,
) -> list[ObjectRef]:
    """The targets the selectors keep; `labels` holds what listing the objects returned."""
    selection = Selection(tuple(include), tuple(exclude))
    known = labels or {}
    return [ref for ref in targets if selection.keeps(ref, known.get(ref))]


def _matches(
    selector: WorkloadSelector,
    ref: ObjectRef,
    labels: Mapping[str, str] | None,
    *,
    unknown: bool,
) -> bool:
    if selector.namespace is not None and not fnmatch.fnmatchcase(
        ref.namespace or "", selector.namespace
    ):
        return False
    if selector.kind is not None and selector.kind.lower() != ref.kind.lower():
        return False
    if selector.name is not None and not fnmatch.fnmatchcase(ref.name, selector.name):
        return False
    if selector.label_selector:
        if labels is None:
            return unknown
        return label_selector_matches(selector.label_selector, labels)
    return True


_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9./_-]+)\s*"
    r"(?:(?P<op>==|=|!=|\s+in\s+|\s+notin\s+)\s*(?P<value>\([^)]*\)|[A-Za-z0-9._-]*))?\s*$"
)


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector syntax: `a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`."""
    for requirement in _split_requirements(selector):
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise BadInputError(f"invalid label selector {selector!r} at {requirement!r}")
        key, op, value = match["key"], (match["op"] or "").strip(), match["value"] or ""
        present = key in labels
        if match["neg"]:
            if op:
                raise BadInputError(f"invalid label selector {selector!r}: `!` takes a key only")
            ok = not present
        elif not op:
            ok = present
        elif op in ("=", "=="):
            ok = labels.get(key) == value
        elif op == "!=":
            ok = labels.get(key) != value
        else:
            values = {v.strip() for v in value.strip("()").split(",") if v.strip()}
            inside = present and labels[key] in values
            ok = inside if op == "in" else not inside
        if not ok:
            return False
    return True


def _split_requirements(selector: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selector[start:index])
            start = index + 1
    parts.append(selector[start:])
    return [part for part in parts if part.strip()]
