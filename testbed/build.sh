#!/usr/bin/env bash
# Build the drdrill local test bed (etcd, Kubernetes control plane, kwok, Flux
# controllers, versitygw, toxiproxy, s5cmd, an OCI registry, helm and kustomize) from the Go
# module proxy into a cache outside the checkout, keyed by the sha256 of testbed/versions.env;
# helm-controller and Argo CD, which the proxy refuses, from pinned source snapshots
# (DRDRILL_SOURCES_DIR, default ../shared/sources beside the checkout) or clones of their tags;
# redis-server (for Argo CD) from Debian, installed when missing.
#
#   testbed/build.sh               build (or reuse) and print the key dir
#   testbed/build.sh --print-dir   print the key dir only
#
# Cache: ${DRDRILL_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/testbed}/<key>/
#   bin/   the binaries          crds/flux/   Flux CRDs          .complete   marker
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSIONS_FILE=$HERE/versions.env
KEY=$(sha256sum "$VERSIONS_FILE" | cut -c1-16)
CACHE_ROOT=${DRDRILL_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/testbed}
DIR=$CACHE_ROOT/$KEY

case "${1:-}" in
  --print-dir) echo "$DIR"; exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "testbed: unknown argument: $1 (use --print-dir)" >&2; exit 2 ;;
esac

if [[ -f $DIR/.complete ]]; then
  echo "testbed: up to date: $DIR"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "testbed: 'go' not found on PATH: install Go >= 1.26 (https://go.dev/doc/install) and re-run testbed/build.sh" >&2
  exit 3
fi

set -a
# shellcheck source=versions.env
. "$VERSIONS_FILE"
set +a

GO_VER=$(go env GOVERSION)            # e.g. go1.26.8
GO_VER=${GO_VER#go}
IFS=. read -r gmaj gmin _ <<<"$GO_VER"
IFS=. read -r rmaj rmin <<<"$GO_MIN_VERSION"
if (( gmaj < rmaj || (gmaj == rmaj && gmin < rmin) )); then
  echo "testbed: Go $GO_VER is too old: install Go >= $GO_MIN_VERSION and re-run testbed/build.sh" >&2
  exit 3
fi

export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
export GOWORK=off
export CGO_ENABLED=0

BIN=$DIR/bin
WORK=$DIR/.work
mkdir -p "$BIN" "$DIR/crds" "$DIR/kwok"
# one build per key dir at a time (parallel CI jobs, two shells)
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.lock"
  if ! flock -n 9; then
    echo "testbed: another build.sh is building $DIR, waiting for it ..."
    flock 9
  fi
  if [[ -f $DIR/.complete ]]; then
    echo "testbed: up to date: $DIR"
    exit 0
  fi
fi
mkdir -p "$WORK"
LDFLAGS_BASE="-s -w"
TOTAL_STEPS=15
T_START=$SECONDS

log() { echo "testbed: $*"; }
# shellcheck source=pinned.sh
. "$HERE/pinned.sh"

# wrapper NAME: fresh throw-away module in $WORK/NAME, cwd set to it
wrapper() {
  local w=$WORK/$1
  rm -rf "$w"
  mkdir -p "$w"
  cd "$w"
  printf 'module drdrill.testbed/%s\n\ngo 1.26\n' "$1" >go.mod
}

# goget ARGS...: go get -tool, its chatter goes to get.log (shown on failure)
goget() {
  if ! go get -tool "$@" >get.log 2>&1; then
    cat get.log >&2
    return 1
  fi
}

# build_to OUT PKG [extra go build args...]: build one binary atomically into $BIN
build_to() {
  local out=$1 pkg=$2
  shift 2
  go build -trimpath -ldflags "$LDFLAGS_BASE" "$@" -o "$BIN/.$out.tmp.$$" "$pkg"
  mv -f "$BIN/.$out.tmp.$$" "$BIN/$out"
}

# step N NAME "OUTPUTS..." FUNC: run FUNC unless every output exists already
step() {
  local n=$1 name=$2 outputs=$3 fn=$4 missing=0 o t0
  for o in $outputs; do [[ -e $DIR/$o ]] || missing=1; done
  if (( missing == 0 )); then
    log "[$n/$TOTAL_STEPS] $name: already built, skipping"
    return 0
  fi
  log "[$n/$TOTAL_STEPS] building $name ..."
  t0=$SECONDS
  ( "$fn" )
  log "[$n/$TOTAL_STEPS] $name done in $((SECONDS - t0)) s"
}

build_etcd() {
  wrapper etcd
  goget "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  build_to etcd go.etcd.io/etcd/server/v3 \
    -ldflags "$LDFLAGS_BASE -X go.etcd.io/etcd/api/v3/version.GitSHA=drdrill-testbed"
}

build_kubernetes() {
  wrapper kubernetes
  local gomod staging m
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  [[ -n $staging ]] || { echo "testbed: no staging modules found in $gomod" >&2; exit 1; }
  {
    echo
    echo 'godebug default=go1.25'
    echo 'replace ('
    for m in $staging; do echo "	$m => $m $KUBERNETES_STAGING_VERSION"; done
    echo ')'
  } >>go.mod
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local pkgs=() c
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  local gets=()
  for c in "${pkgs[@]}"; do gets+=("$c@$KUBERNETES_VERSION"); done
  goget "${gets[@]}"
  local v=${KUBERNETES_VERSION#v} major minor ld=() p k
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for k in "gitVersion=$KUBERNETES_VERSION" "gitMajor=$major" "gitMinor=$minor" \
      gitTreeState=clean gitCommit=0000000000000000000000000000000000000000 \
      buildDate=1970-01-01T00:00:00Z; do
      ld+=("-X $p.$k")
    done
  done
  local out=$WORK/kubernetes/out
  mkdir -p "$out"
  # one go build for all commands so shared packages compile once
  go build -trimpath -ldflags "$LDFLAGS_BASE ${ld[*]}" -o "$out/" "${pkgs[@]}"
  for c in "${cmds[@]}"; do mv -f "$out/$c" "$BIN/$c"; done
}

build_kwok() {
  wrapper kwok
  goget "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  local ld="$LDFLAGS_BASE -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
  ld+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"
  local out=$WORK/kwok/out
  mkdir -p "$out"
  go build -trimpath -ldflags "$ld" -o "$out/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  mv -f "$out/kwok" "$BIN/kwok"
  mv -f "$out/kwokctl" "$BIN/kwokctl"
}

# flux_wrapper NAME MODULE VERSION: wrapper module with the upstream non-local replaces
flux_wrapper() {
  local name=$1 mod=$2 ver=$3 gomod
  wrapper "$name"
  gomod=$(go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  # copy every replace whose target is a module version (drop the local ./api one)
  awk '
    /^replace \(/ { inblock=1; next }
    inblock && /^\)/ { inblock=0; next }
    inblock { if ($0 !~ /=> *\./) print "replace " $0; next }
    /^replace / { if ($0 !~ /=> *\./) print; next }
  ' "$gomod" | sed 's/^replace[[:space:]]\+/replace /' >>go.mod
  goget "$mod@$ver"
}

build_source_controller() {
  flux_wrapper source-controller github.com/fluxcd/source-controller "$FLUX_SOURCE_CONTROLLER_VERSION"
  build_to source-controller github.com/fluxcd/source-controller
}

build_kustomize_controller() {
  flux_wrapper kustomize-controller github.com/fluxcd/kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
  build_to kustomize-controller github.com/fluxcd/kustomize-controller
}

# module_dir MODULE@VERSION: where the go command unpacked that module
module_dir() {
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

copy_manifests() {
  local mod d f tmp
  # Flux CRDs (source-controller + kustomize-controller config/crd/bases)
  tmp=$DIR/crds/.flux.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for mod in "github.com/fluxcd/source-controller@$FLUX_SOURCE_CONTROLLER_VERSION" \
    "github.com/fluxcd/kustomize-controller@$FLUX_KUSTOMIZE_CONTROLLER_VERSION"; do
    d=$(module_dir "$mod")
    for f in "$d"/config/crd/bases/*.yaml; do
      install -m 0644 "$f" "$tmp/"
    done
  done
  touch "$tmp/.done"
  rm -rf "$DIR/crds/flux"
  mv "$tmp" "$DIR/crds/flux"
  # kwok's stock Stage manifests (for clusters created with --enable-crds=Stage)
  d=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")/kustomize/stage
  tmp=$DIR/kwok/.stages.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (cd "$d" && find . -name '*.yaml' ! -path '*/testdata/*' ! -name kustomization.yaml) |
    while read -r f; do
      mkdir -p "$tmp/$(dirname "$f")"
      install -m 0644 "$d/$f" "$tmp/$f"
    done
  touch "$tmp/.done"
  rm -rf "$DIR/kwok/stages"
  mv "$tmp" "$DIR/kwok/stages"
}

# Argo CD's CRDs are plain YAML inside its module: the bootstrap script installs them on kwok,
# where the controllers (step 13) run as local processes.
copy_argocd_crds() {
  local d tmp
  d=$(module_dir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")/manifests/crds
  tmp=$DIR/crds/.argocd.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  install -m 0644 "$d/application-crd.yaml" "$d/appproject-crd.yaml" \
    "$d/applicationset-crd.yaml" "$tmp/"
  touch "$tmp/.done"
  rm -rf "$DIR/crds/argocd"
  mv "$tmp" "$DIR/crds/argocd"
}

# helm-controller is not served by the module proxy (403): build it from the pinned source
# snapshot when it is there (CI has ../shared beside the checkout), else from a shallow clone
# of the tag; the tarball's sha256, or the clone's commit, must match the pins either way.
SOURCES_DIR=${DRDRILL_SOURCES_DIR:-$HERE/../../shared/sources}
build_helm_controller() {
  local src=$WORK/helm-controller-src tmp
  unpack_pinned helm-controller \
    "$SOURCES_DIR/fluxcd-helm-controller-$HELM_CONTROLLER_VERSION.tar.gz" \
    "$HELM_CONTROLLER_SHA256" https://github.com/fluxcd/helm-controller.git \
    "$HELM_CONTROLLER_VERSION" "$HELM_CONTROLLER_COMMIT" "$src"
  cd "$src"
  build_to helm-controller .
  tmp=$DIR/crds/flux/.helm.tmp.$$
  install -m 0644 config/crd/bases/helm.toolkit.fluxcd.io_helmreleases.yaml "$tmp"
  mv -f "$tmp" "$DIR/crds/flux/helm.toolkit.fluxcd.io_helmreleases.yaml"
}

build_registry() {
  wrapper registry
  goget "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"
  build_to registry github.com/distribution/distribution/v3/cmd/registry \
    -ldflags "$LDFLAGS_BASE -X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION"
}

build_versitygw() {
  wrapper versitygw
  goget "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  build_to versitygw github.com/versity/versitygw/cmd/versitygw \
    -ldflags "$LDFLAGS_BASE -X main.Version=$VERSITYGW_VERSION"
}

build_toxiproxy() {
  wrapper toxiproxy
  goget "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
  local ld="$LDFLAGS_BASE -X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION"
  build_to toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server -ldflags "$ld"
  build_to toxiproxy-cli github.com/Shopify/toxiproxy/v2/cmd/cli -ldflags "$ld"
}

build_s5cmd() {
  wrapper s5cmd
  goget "github.com/peak/s5cmd/v2@$S5CMD_VERSION"
  build_to s5cmd github.com/peak/s5cmd/v2 \
    -ldflags "$LDFLAGS_BASE -X github.com/peak/s5cmd/v2/version.Version=$S5CMD_VERSION"
}


# Argo CD's application-controller and repo-server: one multi-call binary (its name picks the
# component), built from the pinned snapshot with gitops-engine replaced by its own snapshot.
build_argocd() {
  local src=$WORK/argocd-src
  unpack_argocd "$src"
  cd "$src/argo-cd"
  # The one source edit: the controller's metrics and health server binds 0.0.0.0 in code; the
  # test bed binds every server to 127.0.0.1.
  sed -i 's/"0\.0\.0\.0:%d", metricsPort/"127.0.0.1:%d", metricsPort/' controller/appcontroller.go
  grep -q '"127.0.0.1:%d", metricsPort' controller/appcontroller.go || {
    echo "testbed: could not bind Argo CD's controller metrics to 127.0.0.1" >&2
    exit 1
  }
  build_to argocd ./cmd -ldflags "$LDFLAGS_BASE $(argocd_ldflags)"
  ln -sf argocd "$BIN/argocd-application-controller"
  ln -sf argocd "$BIN/argocd-repo-server"
  ln -sf argocd "$BIN/argocd-applicationset-controller"
}

# helm and kustomize at the versions Argo CD's own image ships (hack/tool-versions.sh): the
# repo-server runs them to render Helm and Kustomize sources.
build_argocd_tools() {
  wrapper helm
  goget "helm.sh/helm/v3/cmd/helm@$ARGOCD_HELM_VERSION"
  build_to helm helm.sh/helm/v3/cmd/helm \
    -ldflags "$LDFLAGS_BASE -X helm.sh/helm/v3/internal/version.version=$ARGOCD_HELM_VERSION"
  wrapper kustomize
  goget "sigs.k8s.io/kustomize/kustomize/v5@$ARGOCD_KUSTOMIZE_VERSION"
  build_to kustomize sigs.k8s.io/kustomize/kustomize/v5
}

# Argo CD's cache: Debian's redis-server, installed when missing (as root with apt-get).
link_redis() {
  local redis
  redis=$(command -v redis-server || true)
  if [[ -z $redis ]] && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "  installing redis-server (Debian) for Argo CD"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >"$WORK/apt.log" 2>&1 || {
      apt-get update -q >>"$WORK/apt.log" 2>&1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >>"$WORK/apt.log" 2>&1
    } || { cat "$WORK/apt.log" >&2; exit 1; }
    redis=$(command -v redis-server || true)
  fi
  if [[ -z $redis ]]; then
    echo "testbed: redis-server not found: install it (Debian: apt-get install redis-server) and re-run testbed/build.sh" >&2
    exit 3
  fi
  ln -sf "$redis" "$BIN/redis-server"
}

log "building into $DIR (go $GO_VER, cache key from $VERSIONS_FILE)"
step 1 etcd "bin/etcd" build_etcd
step 2 "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl" \
  "bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kubectl" build_kubernetes
step 3 "kwok, kwokctl" "bin/kwok bin/kwokctl" build_kwok
step 4 source-controller "bin/source-controller" build_source_controller
step 5 kustomize-controller "bin/kustomize-controller" build_kustomize_controller
step 6 "Flux CRDs, kwok stages" "crds/flux/.done kwok/stages/.done" copy_manifests
step 7 versitygw "bin/versitygw" build_versitygw
step 8 "toxiproxy-server, toxiproxy-cli" "bin/toxiproxy-server bin/toxiproxy-cli" build_toxiproxy
step 9 s5cmd "bin/s5cmd" build_s5cmd
step 10 "Argo CD CRDs" "crds/argocd/.done" copy_argocd_crds
# after step 6, which replaces crds/flux/ as a whole
step 11 "helm-controller and its CRD" \
  "bin/helm-controller crds/flux/helm.toolkit.fluxcd.io_helmreleases.yaml" build_helm_controller
step 12 "OCI registry (distribution)" "bin/registry" build_registry
step 13 "Argo CD application-controller, repo-server" \
  "bin/argocd bin/argocd-application-controller bin/argocd-repo-server" build_argocd
step 14 "helm, kustomize (for Argo CD's repo-server)" "bin/helm bin/kustomize" build_argocd_tools
step 15 "redis-server (Debian, for Argo CD)" "bin/redis-server" link_redis

# kwokctl configuration using these binaries, every component bound to 127.0.0.1
cat >"$DIR/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeVersion: $KUBERNETES_VERSION
  etcdBinary: $BIN/etcd
  kubeApiserverBinary: $BIN/kube-apiserver
  kubeControllerManagerBinary: $BIN/kube-controller-manager
  kubeSchedulerBinary: $BIN/kube-scheduler
  kwokControllerBinary: $BIN/kwok
  kubectlBinary: $BIN/kubectl
EOF
install -m 0644 "$VERSIONS_FILE" "$DIR/versions.env"
rm -rf "$WORK"
date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/.complete"
log "complete in $((SECONDS - T_START)) s: $DIR"
echo "$DIR"
