"""The shape of a scenario file (`apiVersion: drdrill/v1alpha1`, `kind: Drill`).

Pydantic lives here only: everything past the loader works with these validated, frozen models.
Version-like fields are strings on purpose: YAML 1.1 reads `1.10` as the float 1.1.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

from drdrill.timing import parse_duration

API_VERSION = "drdrill/v1alpha1"
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[
    StrictStr,
    AfterValidator(_check_duration),
    Field(
        description="A duration with a unit: 250ms, 90s, 15m, 2h, 1d, or combined as 1h30m.",
        json_schema_extra={"pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"},
    ),
]


def _check_label(value: str) -> str:
    if not DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit)"
        )
    return value


Dns1123Label = Annotated[StrictStr, AfterValidator(_check_label)]


def _check_git_url(value: str) -> str:
    """A repository URL may not carry credentials: they would reach logs, reports and the
    cluster. The message never repeats the URL, which may hold a secret."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        password, user = parts.password, parts.username
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if password is not None or (user is not None and parts.scheme != "ssh"):
        raise ValueError(
            "url must not carry credentials (user:password@ or a token before @); give them "
            "to the bootstrap script as a file in spec.gitops.secretFiles"
        )
    if parts.query or parts.fragment:
        raise ValueError("url must not carry a query string or fragment (credentials belong in "
                         "spec.gitops.secretFiles)")
    return value


GitUrl = Annotated[StrictStr, AfterValidator(_check_git_url)]


class Model(BaseModel):
    """Strict, frozen, camelCase in files: unknown fields are an error at any depth."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class Taint(Model):
    key: StrictStr
    value: StrictStr = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Autoscaling(Model):
    max_count: StrictInt = Field(
        ge=1, le=5000,
        description="The most nodes the pool's autoscaler may add up to. A pod that would fit "
        "on a node of this pool waits for the scale-up instead of failing as unschedulable.",
    )


class NodePool(Model):
    name: Dns1123Label
    count: StrictInt = Field(
        ge=0, le=5000, description="Number of nodes in the pool (0 only for an autoscaled pool)."
    )
    cpu: StrictStr = Field(default="32", description="CPU capacity per node (quantity).")
    memory: StrictStr = Field(default="256Gi", description="Memory capacity per node.")
    gpus: StrictInt = Field(default=0, ge=0, le=64, description="nvidia.com/gpu per node.")
    labels: dict[str, StrictStr] = Field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    autoscaling: Autoscaling | None = Field(
        default=None, description="The pool autoscales (cluster-autoscaler, Karpenter): "
        "`count` is where it starts, possibly 0 nodes on kind/existing.",
    )

    @model_validator(mode="after")
    def _max_not_below_count(self) -> NodePool:
        if self.count == 0 and self.autoscaling is None:
            raise ValueError("count 0 needs autoscaling (a pool that scales up from zero)")
        if self.autoscaling is not None and self.autoscaling.max_count < self.count:
            raise ValueError(
                f"autoscaling.maxCount {self.autoscaling.max_count} is below count {self.count}"
            )
        return self


class KwokSettings(Model):
    readiness_delay: Duration = Field(
        default="1s", description="How long a simulated pod takes from Running to Ready."
    )
    readiness_jitter: Duration | None = Field(
        default=None, description="Spread of the readiness delay (uniform, added to it)."
    )


class KindSettings(Model):
    image: StrictStr | None = Field(
        default=None,
        description="Node image: kindest/node:<kubernetesVersion> by default; a mirrored or "
        "self-built one (e.g. drdrill.local/kind-node:v1.35.4 from `make testbed`).",
    )
    config: StrictStr | None = Field(default=None, description="Path to a kind config file.")
    load_images: tuple[StrictStr, ...] = Field(
        default=(),
        description="Images from the local Docker loaded into every node after creation "
        "(air-gapped drills: the GitOps engine's and the workloads' images).",
    )


class ExistingSettings(Model):
    kubeconfig: StrictStr | None = Field(
        default=None, description="Kubeconfig path; else KUBECONFIG, else ~/.kube/config."
    )
    context: StrictStr = Field(
        description="The context to use. Required: a drill never picks a cluster implicitly."
    )


class Provider(StrEnum):
    KWOK = "kwok"
    KIND = "kind"
    EXISTING = "existing"


class ClusterSpec(Model):
    provider: Provider = Provider.KWOK
    kubernetes_version: StrictStr | None = Field(
        default=None, description="e.g. '1.35' (a string: YAML would read 1.30 as 1.3)."
    )
    node_pools: tuple[NodePool, ...] = Field(
        default=(NodePool(name="cpu", count=3),), min_length=1,
        description="Simulated nodes on kwok; workers (a few per pool) on kind.",
    )
    kwok: KwokSettings = Field(default_factory=KwokSettings)
    kind: KindSettings = Field(default_factory=KindSettings)
    existing: ExistingSettings | None = None

    @model_validator(mode="after")
    def _existing_needs_context(self) -> ClusterSpec:
        if self.provider is Provider.EXISTING and self.existing is None:
            raise ValueError("provider 'existing' needs spec.cluster.existing.context")
        return self


class GitRef(Model):
    branch: StrictStr | None = None
    tag: StrictStr | None = None
    commit: StrictStr | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GitRef:
        given = [v for v in (self.branch, self.tag, self.commit) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of branch, tag or commit")
        return self

    def describe(self) -> str:
        if self.branch:
            return f"branch {self.branch}"
        if self.tag:
            return f"tag {self.tag}"
        return f"commit {self.commit}"


_REMOTE = re.compile(r"^(https?|ssh)://|^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:")


class Repository(Model):
    url: GitUrl | None = Field(
        default=None, description="http(s):// or ssh:// URL, without credentials (they go in "
        "secretFiles).")
    path: StrictStr | None = Field(
        default=None,
        description="A local git repository (relative to the scenario file), served over "
        "smart HTTP on 127.0.0.1 for the drill.",
    )
    remotes: tuple[StrictStr, ...] = Field(
        default=(),
        description="The URLs Git refers to this repository by (in gotk-sync.yaml or other "
        "GitRepository objects): GitRepository objects that point at one of them are "
        "rewritten to where the drill takes the repository from (`url` or `path`).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Repository:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of url or path")
        if self.url is not None and not re.match(r"^(https?|ssh)://", self.url):
            raise ValueError("url must start with http://, https:// or ssh://")
        for remote in self.remotes:
            if not _REMOTE.match(remote):
                raise ValueError(f"remote {remote!r} is not a git URL (http(s)://, ssh:// or "
                                 "user@host:path)")
        return self


class TeamRepository(Repository):
    """Another repository the platform repository's Flux objects read (e.g. a team's apps)."""

    name: Dns1123Label = Field(description="A short name for reports and logs.")

    @model_validator(mode="after")
    def _needs_remotes(self) -> TeamRepository:
        if not self.remotes:
            raise ValueError(f"repository {self.name}: give the remotes Git refers to it by")
        return self


class RootObjects(Model):
    """Name and namespace of the GitRepository and Kustomization (or Argo CD Application) the
    bootstrap creates; a `flux bootstrap` layout brings its own (from gotk-sync.yaml)."""

    name: Dns1123Label | None = Field(
        default=None, description="Default: flux-system (Flux, as `flux bootstrap`), "
        "platform (Argo CD).")
    namespace: Dns1123Label | None = Field(
        default=None, description="Default: flux-system (Flux), argocd (Argo CD).")


class SubstituteFrom(Model):
    kind: Literal["ConfigMap", "Secret"]
    name: Dns1123Label
    file: StrictStr = Field(
        description="An env file (KEY=value lines), relative to the scenario file; it becomes "
        "the ConfigMap or Secret in the root namespace. Never inline.",
    )
    optional: StrictBool = False


class PostBuild(Model):
    """Flux post-build variable substitution for the root Kustomization."""

    substitute: dict[StrictStr, StrictStr] = Field(default_factory=dict)
    substitute_from: tuple[SubstituteFrom, ...] = ()

    @model_validator(mode="after")
    def _variable_names(self) -> PostBuild:
        for key in self.substitute:
            if not re.match(r"^[_a-zA-Z][_a-zA-Z0-9]*$", key):
                raise ValueError(f"substitute: {key!r} is not a variable name")
        return self


class Decryption(Model):
    """SOPS decryption in the cluster (Flux `spec.decryption`) with an age key file."""

    provider: Literal["sops"] = "sops"
    key_file: StrictStr = Field(
        description="An age key file (`age-keygen` output), relative to the scenario file; it "
        "becomes the decryption Secret's `identity.agekey`. Never inline.")
    secret_name: Dns1123Label = Field(
        default="sops-age", description="The decryption Secret in the root namespace, as in "
        "Flux's guide; child Kustomizations that name another decryption Secret get it too.")


class Keys(Model):
    """Key files from the DR vault that must open every encrypted secret in Git (the offline
    key check, before any cluster exists)."""

    age: tuple[StrictStr, ...] = Field(
        default=(), description="age key files for SOPS-encrypted files (relative to the "
        "scenario file); gitops.decryption.keyFile is checked too.")
    sealing_keys: tuple[StrictStr, ...] = Field(
        default=(), description="Sealed Secrets controller private keys: PEM files or the "
        "key-backup Secret YAML (`tls.key`), relative to the scenario file.")


class Engine(StrEnum):
    FLUX = "flux"
    ARGOCD = "argocd"


class ArgoCDHelm(Model):
    """Helm parameters of an Argo CD source (`spec.source.helm`)."""

    value_files: tuple[StrictStr, ...] = Field(
        default=(), description="Values files, relative to the source's path (or "
        "`$<ref>/...` from a source with `ref`).")
    release_name: StrictStr | None = None


class ArgoCDSource(Model):
    """A further source of a multi-source Application (Argo CD `spec.sources[]`)."""

    repo_url: StrictStr = Field(alias="repoURL", description="A Git or Helm repository.")
    target_revision: StrictStr = Field(default="HEAD", description="Branch, tag, commit or "
                                       "chart version.")
    path: StrictStr | None = None
    chart: StrictStr | None = None
    ref: StrictStr | None = Field(default=None, description="Name other sources use for "
                                  "this one's files in valueFiles (`$<ref>/...`).")
    helm: ArgoCDHelm | None = None


class ArgoCDOptions(Model):
    """What the Argo CD bootstrap puts in the root Application besides the repository."""

    helm: ArgoCDHelm | None = Field(default=None, description="Helm parameters of the main "
                                    "source (a chart at `path`).")
    sources: tuple[ArgoCDSource, ...] = Field(
        default=(), description="Further sources: the Application becomes multi-source, the "
        "drill's repository first.")
    ref: StrictStr | None = Field(default=None, description="With sources: the name the "
                                  "further sources' valueFiles use for the drill's repository "
                                  "(`$<ref>/...`).")
    project: Dns1123Label = "default"


class GitOpsSpec(Model):
    engine: Engine = Engine.FLUX
    version: StrictStr = Field(description="Bootstrap script version, e.g. 'v2.7'.")
    bootstrap_dir: StrictStr | None = Field(
        default=None,
        description="The team's own versioned scripts (<dir>/<engine>/<version>/bootstrap.sh), "
        "relative to the scenario file; default: the scripts that ship with drdrill.",
    )
    repository: Repository
    ref: GitRef = Field(default_factory=lambda: GitRef(branch="main"))
    path: StrictStr = Field(default="./", description="Path inside the repository to apply.")
    install_manifests: StrictStr | None = Field(
        default=None,
        description="URL or file of the engine's install manifests (kind / existing).",
    )
    install_manifests_sha256: StrictStr | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$",
        description="The sha256 of the install manifests; required when they are a URL (the "
        "download is checked against it before anything is applied).",
    )
    secret_files: dict[str, StrictStr] = Field(
        default_factory=dict,
        description="Secret material as file paths (e.g. an ssh key), passed to the "
        "bootstrap script as environment variables naming the files, never inline.",
    )
    interval: Duration = "10m"
    root: RootObjects = Field(default_factory=RootObjects)
    repositories: tuple[TeamRepository, ...] = Field(
        default=(),
        description="Further repositories that Flux objects in Git point at, each with the "
        "remotes Git refers to it by and where the drill takes it from.",
    )
    post_build: PostBuild | None = Field(
        default=None, description="Variables for the root Kustomization (Flux postBuild).")
    argocd: ArgoCDOptions | None = Field(
        default=None, description="Argo CD only: Helm values files and further sources of the "
        "root Application.")
    decryption: Decryption | None = Field(
        default=None, description="Flux only: decrypt SOPS-encrypted manifests in the cluster "
        "with this key.")
    keys: Keys | None = Field(
        default=None, description="Key files the offline key check tries on every encrypted "
        "secret in Git.")

    @model_validator(mode="after")
    def _pinned_manifests(self) -> GitOpsSpec:
        remote = (self.install_manifests or "").startswith(("http://", "https://"))
        if remote and not self.install_manifests_sha256:
            raise ValueError("installManifests is a URL: pin it with installManifestsSha256 "
                             "(sha256sum of the file), so a changed release is never applied")
        return self

    @model_validator(mode="after")
    def _distinct_repositories(self) -> GitOpsSpec:
        names = [r.name for r in self.repositories]
        if len(names) != len(set(names)):
            raise ValueError("repositories: names must be unique")
        remotes = [r for repo in (self.repository, *self.repositories) for r in repo.remotes]
        if len(remotes) != len(set(remotes)):
            raise ValueError("repositories: a remote is mapped twice")
        return self

    @model_validator(mode="after")
    def _decryption_needs_flux(self) -> GitOpsSpec:
        if self.decryption is not None and self.engine is not Engine.FLUX:
            raise ValueError("decryption: only for engine flux (Flux's SOPS decryption)")
        return self

    def root_name(self) -> str:
        return self.root.name or ("flux-system" if self.engine is Engine.FLUX else "platform")

    def root_namespace(self) -> str:
        return self.root.namespace or ("flux-system" if self.engine is Engine.FLUX
                                       else "argocd")


class WorkloadSelector(Model):
    namespace: StrictStr | None = None
    kind: StrictStr | None = None
    name: StrictStr | None = None
    label_selector: StrictStr | None = None


class ConditionRule(Model):
    type: StrictStr = Field(description="Condition type, e.g. Ready or Available.")
    failed_reasons: tuple[StrictStr, ...] = Field(
        default=(),
        description="Reasons that make the condition's False a failure; any other False "
        "(or Unknown) is still in progress.",
    )


class FieldRule(Model):
    path: StrictStr = Field(
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Dotted path into the object, e.g. status.phase.",
    )
    healthy: tuple[StrictStr, ...] = Field(min_length=1, description="Values that mean healthy.")
    failed: tuple[StrictStr, ...] = Field(default=(), description="Values that mean failed.")


class HealthRuleSpec(Model):
    """A declarative health rule for a team's own kind (no code in scenario files)."""

    api_group: StrictStr = Field(
        description="API group of the kind ('' for the core group), e.g. ml.example.com."
    )
    kind: StrictStr = Field(min_length=1)
    condition: ConditionRule | None = None
    field: FieldRule | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> HealthRuleSpec:
        if (self.condition is None) == (self.field is None):
            raise ValueError("a health rule needs exactly one of condition or field")
        return self


class WorkloadsSpec(Model):
    from_inventory: StrictBool = Field(
        default=True,
        description="Check every workload the GitOps engine applied (the engine's inventory).",
    )
    include: tuple[WorkloadSelector, ...] = ()
    exclude: tuple[WorkloadSelector, ...] = ()
    crash_loop_restarts: StrictInt = Field(
        default=3, ge=1, description="Restarts after which CrashLoopBackOff is terminal."
    )
    stable_for: Duration = Field(
        default="5s",
        description="How long a workload must stay healthy, without going back, before it "
        "counts as recovered: a container that crashes a moment after it turned Ready is not "
        "a recovery. The wait ends only when every healthy workload has stayed so this long.",
    )
    image_pull_attempts: StrictInt = Field(
        default=3, ge=1,
        description="Failed pulls of one image (ErrImagePull seen) after which "
        "ImagePullBackOff is terminal; a registry that is briefly down is not.",
    )
    config_error_grace: Duration = Field(
        default="60s",
        description="How long a container may wait for a missing Secret or ConfigMap "
        "(CreateContainerConfigError) before that is terminal; GitOps may create it later.",
    )
    health_rules: tuple[HealthRuleSpec, ...] = Field(
        default=(),
        description="Health rules for kinds drdrill does not know; they also override a "
        "built-in rule for the same kind.",
    )


class VerifyAll(Model):
    mode: Literal["full"] = "full"


class VerifySample(Model):
    mode: Literal["sample"] = "sample"
    count: StrictInt | None = Field(default=None, ge=1)
    percent: float | None = Field(default=None, gt=0, le=100)
    seed: StrictInt | None = Field(
        default=None, description="Seed for the reproducible choice; random if not given."
    )

    @model_validator(mode="after")
    def _one_size(self) -> VerifySample:
        if (self.count is None) == (self.percent is None):
            raise ValueError("a sample needs exactly one of count or percent")
        return self


_STORAGE_SIZE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?)(?:Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


def _check_storage_size(value: str) -> str:
    if not _STORAGE_SIZE.match(value) or float(re.sub(r"[A-Za-z]+$", "", value)) <= 0:
        raise ValueError(f"{value!r} is not a volume size (a Kubernetes quantity such as 20Gi)")
    return value


class InClusterRestore(Model):
    """Restore the whole set into the cluster, as a real recovery puts model weights: a Job
    running drdrill's image pulls every object into a fresh PersistentVolumeClaim and verifies
    it there (sizes and sha256 against the manifest). Timed apart from the host restore."""

    namespace: Dns1123Label = "drdrill-restore"
    image: StrictStr | None = Field(
        default=None, description="drdrill's image (default drdrill:<this version>); on kind "
        "list it in spec.cluster.kind.loadImages when no registry serves it.")
    size: Annotated[StrictStr, AfterValidator(_check_storage_size)] | None = Field(
        default=None, description="The claim's size; default: the set's bytes + 25%, at least "
        "1Gi.")
    storage_class_name: StrictStr | None = Field(
        default=None, description="Default: the cluster's default StorageClass.")
    endpoint_url: StrictStr | None = Field(
        default=None, description="The S3 endpoint as the cluster's pods reach it; default "
        "spec.backups.s3.endpointUrl (a loopback endpoint is relayed to the pods by drdrill).")
    credentials_secret: Dns1123Label | None = Field(
        default=None, description="A Secret in the namespace with AWS_ACCESS_KEY_ID / "
        "AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN); default: drdrill copies the credentials "
        "it uses into a Secret of its own, deleted at teardown.")
    service_account_name: Dns1123Label | None = Field(
        default=None, description="For workload identity (IRSA, GKE): the Job's service "
        "account; then no credentials are copied unless credentialsSecret names some.")


class BackupSet(Model):
    name: Dns1123Label
    bucket: StrictStr = Field(min_length=3, max_length=63)
    prefix: StrictStr = ""
    holds: Literal["artifacts", "dataset"]
    rpo: Duration | None = Field(default=None, description="Overrides spec.sla.rpo.")
    verify: VerifyAll | VerifySample = Field(default_factory=VerifyAll, discriminator="mode")
    manifest_key: StrictStr | None = Field(
        default=None, description="Key of the drdrill manifest; objects' LastModified if absent."
    )
    in_cluster: InClusterRestore | None = Field(
        default=None, description="Also restore the whole set into the cluster (a Job and a "
        "PVC), verified there.")


class S3Settings(Model):
    endpoint_url: StrictStr | None = None
    region: StrictStr = "us-east-1"
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    ca_bundle: StrictStr | None = None
    verify_tls: StrictBool = True
    checksum_when_required: StrictBool = Field(
        default=True,
        description="request/response checksums only when required, as S3-compatible stores "
        "need (boto3 >= 1.36 defaults break several).",
    )
    max_concurrency: StrictInt = Field(default=8, ge=1, le=64)


class BackupsSpec(Model):
    s3: S3Settings = Field(default_factory=S3Settings)
    sets: tuple[BackupSet, ...] = ()
    check_git_references: StrictBool = Field(
        default=True,
        description="Every s3:// URI the workloads point at must lie in a verified set.",
    )


class PhaseBudgets(Model):
    keys: Duration | None = None
    cluster: Duration | None = None
    bootstrap: Duration | None = None
    workloads: Duration | None = None
    backups: Duration | None = None


class SlaSpec(Model):
    rto: Duration
    rpo: Duration | None = None
    phases: PhaseBudgets = Field(default_factory=PhaseBudgets)


def _check_service_url(value: str) -> str:
    """An http(s) URL without credentials (they come from `...Env` / `...File` fields)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        has_credentials = parts.username is not None or parts.password is not None
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("url must be an http(s) URL")
    if has_credentials or parts.query or parts.fragment:
        raise ValueError("url must not carry credentials, a query or a fragment: name an "
                         "environment variable (urlEnv) or a file (urlFile) instead")
    return value


ServiceUrl = Annotated[StrictStr, AfterValidator(_check_service_url)]
EnvName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="The name of an environment variable.")]


class PushgatewaySpec(Model):
    """A Prometheus Pushgateway; credentials only by environment variable or file name."""

    url: ServiceUrl | None = None
    url_env: EnvName | None = Field(default=None, description="A variable holding the URL.")
    username_env: EnvName | None = Field(default=None, description="Basic auth user name.")
    password_env: EnvName | None = None
    password_file: StrictStr | None = Field(
        default=None, description="Basic auth password in a file, relative to the scenario.")

    @model_validator(mode="after")
    def _one_way_each(self) -> PushgatewaySpec:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("a pushgateway needs exactly one of url or urlEnv")
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give the password as passwordEnv or passwordFile, not both")
        if (self.username_env is None) == (self.password_env is None
                                           and self.password_file is None):
            return self
        raise ValueError("basic auth needs usernameEnv and one of passwordEnv or passwordFile")


class MetricsSpec(Model):
    """Where the drill's metrics go; `--pushgateway` and `--metrics-textfile-dir` override."""

    pushgateway: PushgatewaySpec | None = None
    textfile_dir: StrictStr | None = Field(
        default=None, description="Write drdrill_<drill>.prom here (node exporter textfile "
        "collector), relative to the scenario file.")


class WebhookSpec(Model):
    format: Literal["json", "slack", "teams"] = Field(
        description="generic JSON, a Slack incoming webhook or a Microsoft Teams workflow.")
    url_env: EnvName | None = Field(default=None, description="A variable holding the URL.")
    url_file: StrictStr | None = Field(
        default=None, description="A file holding the URL, relative to the scenario file.")

    @model_validator(mode="after")
    def _one_source(self) -> WebhookSpec:
        if (self.url_env is None) == (self.url_file is None):
            raise ValueError("a webhook needs exactly one of urlEnv or urlFile (its URL is a "
                             "secret: never inline)")
        return self


class NotifySpec(Model):
    """Who hears how the drill ended; `--notify` and the DRDRILL_*_WEBHOOK_URL variables
    override."""

    when: Literal["failure", "always", "never"] = "failure"
    webhooks: tuple[WebhookSpec, ...] = ()


class DrillSpec(Model):
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    gitops: GitOpsSpec | None = None
    workloads: WorkloadsSpec = Field(default_factory=WorkloadsSpec)
    backups: BackupsSpec = Field(default_factory=BackupsSpec)
    sla: SlaSpec
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    notify: NotifySpec = Field(default_factory=NotifySpec)


class Metadata(Model):
    name: Dns1123Label
    labels: dict[str, StrictStr] = Field(default_factory=dict)


class Scenario(Model):
    api_version: Literal["drdrill/v1alpha1"]
    kind: Literal["Drill"]
    metadata: Metadata
    spec: DrillSpec
    # Where the file was read from: relative paths in the spec are resolved against it.
    _source: Path | None = PrivateAttr(default=None)

    def with_source(self, path: Path) -> Scenario:
        self._source = path.resolve()
        return self

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def name(self) -> str:
        return self.metadata.name

    def resolve_path(self, relative: str) -> Path:
        base = self._source.parent if self._source else Path.cwd()
        return (base / Path(relative).expanduser()).resolve()
