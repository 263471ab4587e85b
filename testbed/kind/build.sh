#!/usr/bin/env bash
# Build the kind test bed without any container registry: the kind CLI, a kind node image for
# the pinned Kubernetes version, the Flux controller images with an install manifest generated
# from the controllers' own config folders, and small workload images for tests.
#
#   testbed/kind/build.sh               build (or reuse) and print the key dir
#   testbed/kind/build.sh --print-dir   print the key dir only
#
# Needs the kwok test bed (testbed/build.sh: etcd, the control plane, kubectl, the Flux
# controllers), Go, mmdebstrap (installed with apt-get when missing and root) and a Docker
# (testbed/kind/dockerd.sh: the user's running one, or the test bed's own).
#
# Cache: ${DRDRILL_KIND_CACHE:-${XDG_CACHE_HOME:-~/.cache}/drdrill/kind}/
#   bin-<pins key>/   Go-built binaries (kind, kubelet, kubeadm, kube-proxy, CNI plugins, coredns,
#                     local-path-provisioner, drdrill-workload) and pause; keyed by the Kubernetes and kind pins and
#                     the workload source
#   <key>/            images/*.tar (docker save archives), flux/install.yaml, images.txt, env,
#                     .complete; keyed by the binaries' key, the etcd and Flux pins and the
#                     recipe (build.sh, flux-install.sh, node/)
# The images themselves live in Docker; a missing one is loaded again from images/*.tar.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTBED=$(cd "$HERE/.." && pwd)
CACHE_ROOT=${DRDRILL_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/kind}

# Only the pins this build uses are part of the keys, so a new pin for something else in
# ../versions.env (another tool of the kwok test bed) rebuilds nothing here.
pins() { grep -E "^($1)=" "$TESTBED/versions.env" | sort; }
BIN_KEY=$( { pins 'GO_MIN_VERSION|KUBERNETES_VERSION|KUBERNETES_STAGING_VERSION'
  cat "$HERE/versions.env" "$HERE/workload/go.mod" "$HERE/workload/main.go"; } |
  sha256sum | cut -c1-16)
KEY=$( { echo "$BIN_KEY"; pins 'ETCD_VERSION|FLUX_[A-Z_]*|HELM_CONTROLLER_[A-Z0-9_]*'
  cat "$HERE/build.sh" "$HERE/flux-install.sh" "$HERE/node/"*; } | sha256sum | cut -c1-16)
BINDIR=$CACHE_ROOT/bin-$BIN_KEY
DIR=$CACHE_ROOT/$KEY

case "${1:-}" in
  --print-dir) echo "$DIR"; exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "testbed/kind: unknown argument: $1 (use --print-dir)" >&2; exit 2 ;;
esac

log() { echo "testbed/kind: $*"; }
die() { echo "testbed/kind: $*" >&2; exit 3; }

set -a
# shellcheck source=../versions.env
. "$TESTBED/versions.env"
# shellcheck source=versions.env
. "$HERE/versions.env"
set +a
NODE_IMAGE=$NODE_IMAGE_REPOSITORY:$KUBERNETES_VERSION

WORK=""
STARTED_DOCKER=0
CTRD_PID=""
cleanup() {
  if [[ -n $CTRD_PID ]]; then kill -TERM "$CTRD_PID" 2>/dev/null || true; wait "$CTRD_PID" 2>/dev/null || true; fi
  [[ -z $WORK ]] || rm -rf "$WORK"
  if (( STARTED_DOCKER )); then bash "$HERE/dockerd.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# A working Docker for the whole build; stopped again at the end if this build started it.
docker_env() {
  local line
  bash "$HERE/dockerd.sh" status >/dev/null 2>&1 || STARTED_DOCKER=1
  line=$(bash "$HERE/dockerd.sh" start) || die "no Docker: see the lines above"
  export "${line?}"
  [[ -n ${DOCKER_HOST:-} ]] || unset DOCKER_HOST
}

module_dir() {  # module_dir MODULE@VERSION: where the go command unpacked it
  (cd / && GOFLAGS= go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

images_in_docker() {  # every tag listed in images.txt is in Docker
  local tag
  while read -r tag _; do
    docker image inspect "$tag" >/dev/null 2>&1 || return 1
  done <"$DIR/images.txt"
}

if [[ -f $DIR/.complete ]]; then
  docker_env
  if ! images_in_docker; then
    log "loading the images into Docker again from $DIR/images ..."
    for archive in "$DIR"/images/*.tar; do docker load -q -i "$archive" >/dev/null; done
  fi
  log "up to date: $DIR"
  echo "$DIR"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "'go' not found on PATH: install Go >= $GO_MIN_VERSION"

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another build is running, waiting for it ..."
  flock 9
fi
if [[ -f $DIR/.complete ]]; then exec "$0"; fi

export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
LDFLAGS_BASE="-s -w"
WORK=$CACHE_ROOT/.work-$$
mkdir -p "$BINDIR" "$WORK"
T_START=$SECONDS

wrapper() {  # wrapper NAME: fresh throw-away module in $WORK/NAME, cwd set to it
  rm -rf "${WORK:?}/$1"
  mkdir -p "$WORK/$1"
  cd "$WORK/$1"
  printf 'module drdrill.testbed/%s\n\ngo 1.26\n' "$1" >go.mod
}

goget() {
  if ! go get -tool "$@" >get.log 2>&1; then
    cat get.log >&2
    return 1
  fi
}

step() {  # step NAME "OUTPUTS (relative to BINDIR)" FUNC
  local name=$1 outputs=$2 fn=$3 missing=0 o t0
  for o in $outputs; do [[ -e $BINDIR/$o ]] || missing=1; done
  if (( missing == 0 )); then
    log "$name: already built"
    return 0
  fi
  log "building $name ..."
  t0=$SECONDS
  ( "$fn" )
  log "$name done in $((SECONDS - t0)) s"
}

build_kind() {
  wrapper kind
  goget "sigs.k8s.io/kind@$KIND_VERSION"
  go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$BINDIR/.kind.tmp" sigs.k8s.io/kind
  mv -f "$BINDIR/.kind.tmp" "$BINDIR/kind"
}

# kubelet, kubeadm, kube-proxy: the same wrapper module as testbed/build.sh builds the other
# Kubernetes binaries with (staging modules replaced by their pinned versions)
build_node_kubernetes() {
  wrapper kubernetes
  local gomod staging m c p k v major minor ld=() pkgs=() gets=()
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  [[ -n $staging ]] || die "no staging modules found in $gomod"
  {
    echo
    echo 'godebug default=go1.25'
    echo 'replace ('
    for m in $staging; do echo "	$m => $m $KUBERNETES_STAGING_VERSION"; done
    echo ')'
  } >>go.mod
  for c in kubelet kubeadm kube-proxy; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  for p in "${pkgs[@]}"; do gets+=("$p@$KUBERNETES_VERSION"); done
  goget "${gets[@]}"
  v=${KUBERNETES_VERSION#v}; major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for k in "gitVersion=$KUBERNETES_VERSION" "gitMajor=$major" "gitMinor=$minor" \
      gitTreeState=clean gitCommit=0000000000000000000000000000000000000000 \
      buildDate=1970-01-01T00:00:00Z; do
      ld+=("-X $p.$k")
    done
  done
  mkdir -p out
  go build -trimpath -ldflags "$LDFLAGS_BASE ${ld[*]}" -o out/ "${pkgs[@]}"
  for c in kubelet kubeadm kube-proxy; do mv -f "out/$c" "$BINDIR/$c"; done
}

build_cni() {
  wrapper cni
  local base=github.com/containernetworking/plugins/plugins plugins=(
    main/ptp main/bridge main/loopback ipam/host-local meta/portmap)
  local pkgs=() p
  for p in "${plugins[@]}"; do pkgs+=("$base/$p"); done
  goget "github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION"
  mkdir -p out "$BINDIR/.cni.tmp"
  go build -trimpath -ldflags "$LDFLAGS_BASE" -o out/ "${pkgs[@]}"
  mv out/* "$BINDIR/.cni.tmp/"
  rm -rf "$BINDIR/cni"
  mv "$BINDIR/.cni.tmp" "$BINDIR/cni"
}

# CoreDNS with the plugins kubeadm's Corefile uses (the full plugin set pulls in every cloud
# SDK and would more than double the build); the same upstream release and coremain.
build_coredns() {
  wrapper coredns
  local pl=github.com/coredns/coredns/plugin
  goget "github.com/coredns/coredns@$COREDNS_VERSION"
  {
    echo 'package main'
    echo 'import ('
    for p in errors health ready kubernetes metrics forward cache loop reload loadbalance log \
      hosts rewrite whoami; do
      echo "	_ \"$pl/$p\""
    done
    echo '	"github.com/coredns/coredns/coremain"'
    echo ')'
    echo 'func main() { coremain.Run() }'
  } >main.go
  go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$BINDIR/.coredns.tmp" .
  mv -f "$BINDIR/.coredns.tmp" "$BINDIR/coredns"
}

# the node image's default storage, with the dependency versions of its own go.mod
build_local_path_provisioner() {
  wrapper local-path-provisioner
  goget "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
  go build -trimpath -ldflags "$LDFLAGS_BASE -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" \
    -o "$BINDIR/.local-path-provisioner.tmp" github.com/rancher/local-path-provisioner
  mv -f "$BINDIR/.local-path-provisioner.tmp" "$BINDIR/local-path-provisioner"
}

build_workload() {
  rm -rf "${WORK:?}/workload"
  cp -r "$HERE/workload" "$WORK/workload"
  cd "$WORK/workload"
  go build -trimpath -ldflags "$LDFLAGS_BASE" -o "$BINDIR/.drdrill-workload.tmp" .
  mv -f "$BINDIR/.drdrill-workload.tmp" "$BINDIR/drdrill-workload"
}

build_pause() {
  local src
  src=$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")/build/pause/linux/pause.c
  command -v gcc >/dev/null 2>&1 || die "gcc not found: it builds the pause binary from $src"
  gcc -Os -Wall -Werror -static -DVERSION=v3.10.1-drdrill -o "$BINDIR/.pause.tmp" "$src"
  strip "$BINDIR/.pause.tmp"
  mv -f "$BINDIR/.pause.tmp" "$BINDIR/pause"
}

log "building into $DIR (binaries in $BINDIR)"
step kind "kind" build_kind
step "kubelet, kubeadm, kube-proxy" "kubelet kubeadm kube-proxy" build_node_kubernetes
step "CNI plugins" "cni/ptp cni/host-local cni/loopback cni/portmap cni/bridge" build_cni
step coredns "coredns" build_coredns
step local-path-provisioner "local-path-provisioner" build_local_path_provisioner
step "drdrill-workload" "drdrill-workload" build_workload
step pause "pause" build_pause

KWOK_DIR=${DRDRILL_TESTBED_DIR:-$(bash "$TESTBED/build.sh" --print-dir)}
[[ -f $KWOK_DIR/.complete ]] || die "the kwok test bed is not built ($KWOK_DIR): run testbed/build.sh first"
KB=$KWOK_DIR/bin

# ---------------------------------------------------------------------------------------------
# Images: a root file system per image, `docker import`ed (no registry, no builder), saved to
# images/*.tar so a wiped Docker gets them back without a rebuild.
# ---------------------------------------------------------------------------------------------
docker_env
if ! command -v mmdebstrap >/dev/null 2>&1; then
  [[ $(id -u) -eq 0 ]] || die "mmdebstrap not found: apt-get install mmdebstrap"
  log "installing mmdebstrap ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap; } \
    >"$WORK/apt.log" 2>&1 || { tail -5 "$WORK/apt.log" >&2; die "apt-get install mmdebstrap failed"; }
fi
STAGE=$DIR.partial
rm -rf "$STAGE"
mkdir -p "$STAGE/images" "$STAGE/flux"
: >"$STAGE/images.txt"

# import_image TAG ROOTFS_DIR [--change ...]: tar the folder into Docker as TAG
import_image() {
  local tag=$1 root=$2 old
  shift 2
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  tar --numeric-owner --xattrs -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
  # a rebuild leaves the previous image untagged: remove it (kept while another tag uses it)
  [[ -z $old ]] || docker rmi "$old" >/dev/null 2>&1 || true
  echo "$tag" >>"$STAGE/images.txt"
}

# static_image TAG USER ENTRYPOINT_JSON FILE... : a FROM-scratch style image holding the given
# files under /usr/local/bin (plus CA certificates), PATH set
static_image() {
  local tag=$1 user=$2 entry=$3 root
  shift 3
  root=$(mktemp -d "$WORK/img.XXXXXX")
  mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"
  chmod 1777 "$root/tmp"
  install -m 0755 "$@" "$root/usr/local/bin/"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/" 2>/dev/null || true
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  import_image "$tag" "$root" --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" \
    --change "USER $user" --change "ENTRYPOINT $entry"
  rm -rf "$root"
}

t0=$SECONDS
log "control-plane, pause and CoreDNS images ..."
K8S=registry.k8s.io
ETCD_TAG=${ETCD_VERSION#v}-0
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  static_image "$K8S/$c:$KUBERNETES_VERSION" 0 "[\"/usr/local/bin/$c\"]" "$KB/$c"
done
static_image "$K8S/etcd:$ETCD_TAG" 0 '["/usr/local/bin/etcd"]' "$KB/etcd"
static_image "$K8S/pause:3.10.1" 65535 '["/usr/local/bin/pause"]' "$BINDIR/pause"
static_image "$K8S/coredns/coredns:$COREDNS_VERSION" 0 '["/usr/local/bin/coredns"]' "$BINDIR/coredns"
# the tags kubeadm asks for, when the built version differs (see versions.env)
kubeadm_images=$("$BINDIR/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)
for want in $kubeadm_images; do
  case $want in
    */etcd:*) have=$K8S/etcd:$ETCD_TAG ;;
    */coredns:*) have=$K8S/coredns/coredns:$COREDNS_VERSION ;;
    */pause:*) have=$K8S/pause:3.10.1 ;;
    *) continue ;;
  esac
  if [[ $want != "$have" ]]; then
    docker tag "$have" "$want"
    echo "$want alias-of $have" >>"$STAGE/images.txt"
  fi
done
log "  done in $((SECONDS - t0)) s"

DEB_SOURCES=("deb $DEBIAN_MIRROR $DEBIAN_SUITE main"
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main"
  "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main")
debian_rootfs() {  # debian_rootfs DIR PACKAGES(comma separated)
  mmdebstrap --quiet --variant=minbase --mode=root --format=directory --include="$2" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "$DEBIAN_SUITE" "$1" "${DEB_SOURCES[@]}"
}

t0=$SECONDS
log "kube-proxy image (Debian $DEBIAN_SUITE with iptables) ..."
PROXY_ROOT=$WORK/kube-proxy-root
debian_rootfs "$PROXY_ROOT" iptables,conntrack,kmod
install -m 0755 "$BINDIR/kube-proxy" "$PROXY_ROOT/usr/local/bin/kube-proxy.bin"
install -m 0755 "$HERE/node/kube-proxy-entry.sh" "$PROXY_ROOT/usr/local/bin/kube-proxy"
rm -rf "$PROXY_ROOT/var/cache/apt/"* "$PROXY_ROOT/var/lib/apt/lists/"*
import_image "$K8S/kube-proxy:$KUBERNETES_VERSION" "$PROXY_ROOT" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]'
rm -rf "$PROXY_ROOT"
log "  done in $((SECONDS - t0)) s"

t0=$SECONDS
log "Flux controller, local-path provisioner and workload images ..."
static_image "ghcr.io/fluxcd/source-controller:$FLUX_SOURCE_CONTROLLER_VERSION" 65534 \
  '["source-controller"]' "$KB/source-controller"
static_image "ghcr.io/fluxcd/kustomize-controller:$FLUX_KUSTOMIZE_CONTROLLER_VERSION" 65534 \
  '["kustomize-controller"]' "$KB/kustomize-controller"
if [[ -x $KB/helm-controller && -n ${HELM_CONTROLLER_VERSION:-} ]]; then
  static_image "ghcr.io/fluxcd/helm-controller:$HELM_CONTROLLER_VERSION" 65534 \
    '["helm-controller"]' "$KB/helm-controller"
fi
LOCAL_PATH_IMAGE=drdrill.local/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION
LOCAL_PATH_HELPER_IMAGE=drdrill.local/local-path-helper:$LOCAL_PATH_PROVISIONER_VERSION
static_image "$LOCAL_PATH_IMAGE" 65534 '["local-path-provisioner"]' "$BINDIR/local-path-provisioner"
static_image drdrill.local/model-server:1.0 65534 '["drdrill-workload", "serve"]' "$BINDIR/drdrill-workload"
static_image drdrill.local/never-ready:1.0 65534 '["drdrill-workload", "never-ready"]' "$BINDIR/drdrill-workload"
static_image drdrill.local/crasher:1.0 65534 '["drdrill-workload", "crash"]' "$BINDIR/drdrill-workload"
static_image drdrill.local/batch-job:1.0 65534 '["drdrill-workload", "once"]' "$BINDIR/drdrill-workload"
log "  done in $((SECONDS - t0)) s"

t0=$SECONDS
log "Flux install manifest from the controllers' config folders ..."
helm_src=""
HELM_TARBALL=${DRDRILL_SOURCES_DIR:-$TESTBED/../../shared/sources}/fluxcd-helm-controller-${HELM_CONTROLLER_VERSION:-none}.tar.gz
if [[ -x $KB/helm-controller && -f $HELM_TARBALL ]] &&
    echo "$HELM_CONTROLLER_SHA256  $HELM_TARBALL" | sha256sum -c --quiet - >/dev/null 2>&1; then
  helm_src=$WORK/helm-controller-src
  mkdir -p "$helm_src"
  tar -xzf "$HELM_TARBALL" -C "$helm_src" --strip-components=1
else
  log "  (helm-controller left out of the install manifest: no binary or no pinned source)"
fi
bash "$HERE/flux-install.sh" "$KB/kubectl" "$STAGE/flux/install.yaml" $helm_src
log "  done in $((SECONDS - t0)) s"

# ---------------------------------------------------------------------------------------------
# The node image: kind's base image files on a Debian root file system, the Kubernetes node
# binaries, CNI plugins, and the control-plane and Flux images preloaded into containerd's
# store (Flux's pods start without a `kind load`).
# ---------------------------------------------------------------------------------------------
t0=$SECONDS
log "node root file system (Debian $DEBIAN_SUITE, mmdebstrap) ..."
ROOT=$WORK/node-root
debian_rootfs "$ROOT" "systemd,systemd-sysv,dbus,containerd,runc,conntrack,iptables,nftables,\
iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,bash,ca-certificates,procps,e2fsprogs,\
jq,socat,busybox-static"
log "  debootstrapped in $((SECONDS - t0)) s"
# the local-path provisioner's helper pods run `sh` scripts (mkdir, rm): Debian's busybox-static
# of the same suite, taken out of the node's root file system into an image of its own
# shellcheck disable=SC2016  # dpkg-query's own format
BUSYBOX_VERSION=$(chroot "$ROOT" dpkg-query -W -f '${Version}' busybox-static)
HELPER_ROOT=$(mktemp -d "$WORK/img.XXXXXX")
mkdir -p "$HELPER_ROOT/bin" "$HELPER_ROOT/tmp"
chmod 1777 "$HELPER_ROOT/tmp"
install -m 0755 "$ROOT/bin/busybox" "$HELPER_ROOT/bin/busybox"
for applet in $("$HELPER_ROOT/bin/busybox" --list); do
  [[ $applet == busybox ]] || ln -s busybox "$HELPER_ROOT/bin/$applet"
done
import_image "$LOCAL_PATH_HELPER_IMAGE" "$HELPER_ROOT" --change "ENV PATH=/bin" --change "USER 0"
rm -rf "$HELPER_ROOT"
chroot "$ROOT" dpkg --purge busybox-static >/dev/null
KIND_SRC=$(module_dir "sigs.k8s.io/kind@$KIND_VERSION")/images/base/files
# kind's base image files, with the modes its Dockerfile gives them
install -d -m 0755 "$ROOT/kind" "$ROOT/kind/bin" "$ROOT/etc/systemd/system/kubelet.service.d"
install -m 0755 "$KIND_SRC"/usr/local/bin/* "$ROOT/usr/local/bin/"
install -m 0755 "$KIND_SRC"/kind/bin/* "$ROOT/kind/bin/"
install -m 0644 "$KIND_SRC/kind/README.txt" "$ROOT/kind/"
install -m 0644 "$KIND_SRC"/etc/sysctl.d/* "$ROOT/etc/sysctl.d/"
install -m 0644 "$KIND_SRC"/etc/default/kubelet "$ROOT/etc/default/"
install -m 0644 "$KIND_SRC"/etc/crictl.yaml "$ROOT/etc/"
for f in kubelet.service kubelet.slice undo-mount-hacks.service containerd.service; do
  install -m 0644 "$KIND_SRC/etc/systemd/system/$f" "$ROOT/etc/systemd/system/"
done
install -m 0644 "$KIND_SRC"/etc/systemd/system/kubelet.service.d/* \
  "$ROOT/etc/systemd/system/kubelet.service.d/"
# Debian's containerd lives in /usr/bin
sed -i 's#^ExecStart=/usr/local/bin/containerd#ExecStart=/usr/bin/containerd#' \
  "$ROOT/etc/systemd/system/containerd.service"
install -d -m 0755 "$ROOT/etc/containerd"
install -m 0644 "$HERE/node/containerd-config.toml" "$ROOT/etc/containerd/config.toml"
# what kind's base Dockerfile does after installing packages
find "$ROOT/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$ROOT"/lib/systemd/system/multi-user.target.wants/* "$ROOT"/etc/systemd/system/*.wants/* \
  "$ROOT"/lib/systemd/system/local-fs.target.wants/* \
  "$ROOT"/lib/systemd/system/sockets.target.wants/*udev* \
  "$ROOT"/lib/systemd/system/sockets.target.wants/*initctl* \
  "$ROOT"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$ROOT/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$ROOT/sbin/init"
# the node binaries and pod networking
install -m 0755 "$BINDIR/kubelet" "$BINDIR/kubeadm" "$KB/kubectl" "$ROOT/usr/bin/"
install -d -m 0755 "$ROOT/opt/cni/bin" "$ROOT/etc/cni/net.d" "$ROOT/etc/kubernetes/manifests" \
  "$ROOT/kind/manifests"
install -m 0755 "$BINDIR"/cni/* "$ROOT/opt/cni/bin/"
install -m 0755 "$HERE/node/drdrill-cni.sh" "$ROOT/usr/local/bin/drdrill-cni"
install -m 0644 "$HERE/node/drdrill-cni.service" "$ROOT/etc/systemd/system/"
install -m 0644 "$HERE/node/default-cni.yaml" "$ROOT/kind/manifests/default-cni.yaml"
sed -e "s#@PROVISIONER_IMAGE@#$LOCAL_PATH_IMAGE#g" -e "s#@HELPER_IMAGE@#$LOCAL_PATH_HELPER_IMAGE#g" \
  "$HERE/node/default-storage.yaml" >"$ROOT/kind/manifests/default-storage.yaml"
chmod 0644 "$ROOT/kind/manifests/default-storage.yaml"
! grep -q @ "$ROOT/kind/manifests/default-storage.yaml" || die "default-storage.yaml: a placeholder is left"
chroot "$ROOT" systemctl enable kubelet.service containerd.service undo-mount-hacks.service \
  drdrill-cni.service >/dev/null 2>&1
chroot "$ROOT" systemctl mask systemd-binfmt.service >/dev/null 2>&1
echo "$KUBERNETES_VERSION" >"$ROOT/kind/version"
cat >"$ROOT/kind/drdrill-node-image.txt" <<EOF
drdrill's kind node image (not kindest/node), built by testbed/kind/build.sh without a registry:
Debian $DEBIAN_SUITE (containerd $(chroot "$ROOT" dpkg-query -W -f '${Version}' containerd), runc $(chroot "$ROOT" dpkg-query -W -f '${Version}' runc)),
kind $KIND_VERSION base files, Kubernetes $KUBERNETES_VERSION, CNI plugins $CNI_PLUGINS_VERSION (ptp + host-local,
drdrill-cni.service instead of kindnetd), CoreDNS $COREDNS_VERSION, etcd $ETCD_VERSION, default storage:
local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION (StorageClass standard), helper busybox-static $BUSYBOX_VERSION.
EOF
rm -rf "$ROOT/var/cache/apt/"* "$ROOT/var/lib/apt/lists/"*

log "preloading the control-plane, Flux and local-path images into the node's containerd store ..."
CTRD=$WORK/ctrd
mkdir -p "$CTRD"
cat >"$CTRD/config.toml" <<EOF
version = 2
root = "$ROOT/var/lib/containerd"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD/c.sock"
EOF
setsid containerd --config "$CTRD/config.toml" >"$CTRD/log" 2>&1 9>&- &
CTRD_PID=$!
for ((i = 0; i < 60; i++)); do
  [[ -S $CTRD/c.sock ]] && ctr --address "$CTRD/c.sock" version >/dev/null 2>&1 && break
  sleep 0.5
done
ctr --address "$CTRD/c.sock" version >/dev/null || { cat "$CTRD/log" >&2; die "containerd for preloading did not start"; }
# the control plane's, Flux's and the default storage's images: a drill on this image loads
# only its workload images
preload=()
while read -r tag kind _; do
  case $tag in
    "$K8S"/* | ghcr.io/fluxcd/* | drdrill.local/local-path-*)
      [[ ${kind:-} == alias-of ]] || preload+=("$tag") ;;
  esac
done <"$STAGE/images.txt"
docker save "${preload[@]}" -o "$WORK/preload.tar"
ctr --address "$CTRD/c.sock" --namespace=k8s.io images import --no-unpack --all-platforms \
  "$WORK/preload.tar" >/dev/null
for tag in "${preload[@]}"; do  # pinned: the kubelet's image GC never removes them
  ctr --address "$CTRD/c.sock" --namespace=k8s.io images label "$tag" \
    io.cri-containerd.pinned=pinned >/dev/null
done
while read -r tag kind have; do
  [[ ${kind:-} == alias-of ]] || continue
  ctr --address "$CTRD/c.sock" --namespace=k8s.io images tag --force "$have" "$tag" >/dev/null
done <"$STAGE/images.txt"
ctr --address "$CTRD/c.sock" --namespace=k8s.io images list -q >"$STAGE/preloaded.txt"
kill -TERM "$CTRD_PID"
wait "$CTRD_PID" 2>/dev/null || true
CTRD_PID=""
rm -f "$WORK/preload.tar"

log "importing $NODE_IMAGE ..."
# `docker import` cannot set STOPSIGNAL or labels: a one-line build on top of the import does
import_image "$NODE_IMAGE-rootfs" "$ROOT" \
  --change 'ENV container=docker' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]'
sed -i '$d' "$STAGE/images.txt"
mkdir -p "$WORK/node-build"
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\nLABEL io.drdrill.kind-node="%s" io.drdrill.kind-version="%s"\n' \
  "$NODE_IMAGE-rootfs" "$KUBERNETES_VERSION" "$KIND_VERSION" >"$WORK/node-build/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" "$WORK/node-build" >/dev/null
docker rmi "$NODE_IMAGE-rootfs" >/dev/null
echo "$NODE_IMAGE" >>"$STAGE/images.txt"
rm -rf "$ROOT"
log "node image done in $((SECONDS - t0)) s"

t0=$SECONDS
log "saving the images to $DIR/images ..."
while read -r tag kind _; do
  [[ ${kind:-} == alias-of ]] && continue
  docker save "$tag" -o "$STAGE/images/$(echo "$tag" | tr '/:' '__').tar"
done <"$STAGE/images.txt"
log "  done in $((SECONDS - t0)) s"

cat >"$STAGE/env" <<EOF
KIND=$BINDIR/kind
NODE_IMAGE=$NODE_IMAGE
FLUX_INSTALL=$DIR/flux/install.yaml
EOF
rm -rf "$DIR"
mv "$STAGE" "$DIR"
date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/.complete"
log "complete in $((SECONDS - T_START)) s: $DIR"
echo "$DIR"
