#!/usr/bin/env bash
# Argo CD for drills on kind, built here without any registry:
# - one image with the multi-call `argocd` binary (built from the pinned v3.x snapshot,
#   unedited: in a pod its servers listen on the pod's address), git, gpg with its agent (the
#   repo-server makes a keyring at start), ssh, tini, helm and kustomize (the test bed's, at the
#   versions Argo CD's image ships) on Debian, tagged with the upstream image name;
# - the same root file system with Debian's redis-server, tagged as the Redis image the
#   manifests name;
# - the install manifest Argo CD publishes for a core install (`manifests/core-install.yaml`:
#   application-controller, repo-server, ApplicationSet controller and Redis; no API server,
#   no Dex), with `imagePullPolicy: Always` made `IfNotPresent` so the loaded images are used.
#
#   testbed/kind/argocd.sh               build (or reuse) and print the cache dir
#   testbed/kind/argocd.sh --print-dir   print the cache dir only
#
# Needs the kwok test bed (helm, kustomize), Go, mmdebstrap and Docker (as testbed/kind/build.sh).
# Cache: ${DRDRILL_KIND_CACHE:-${XDG_CACHE_HOME:-~/.cache}/drdrill/kind}/argocd-<key>/
#   install.yaml  images.txt  images/*.tar  .complete
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTBED=$(cd "$HERE/.." && pwd)
CACHE_ROOT=${DRDRILL_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/kind}
KEY=$( { grep -E '^(GO_MIN_VERSION|ARGOCD_[A-Z0-9_]*|GITOPS_ENGINE_[A-Z0-9_]*)=' \
           "$TESTBED/versions.env" | sort
         grep -E '^DEBIAN_' "$HERE/versions.env" | sort
         cat "${BASH_SOURCE[0]}" "$TESTBED/pinned.sh"; } | sha256sum | cut -c1-16)
DIR=$CACHE_ROOT/argocd-$KEY

case "${1:-}" in
  --print-dir) echo "$DIR"; exit 0 ;;
  "") ;;
  *) echo "testbed/kind/argocd.sh: unknown argument: $1 (use --print-dir)" >&2; exit 2 ;;
esac

log() { echo "testbed/kind/argocd: $*" >&2; }
die() { echo "testbed/kind/argocd: $*" >&2; exit 3; }

set -a
# shellcheck source=../versions.env
. "$TESTBED/versions.env"
# shellcheck source=versions.env
. "$HERE/versions.env"
set +a
# shellcheck source=../pinned.sh
. "$TESTBED/pinned.sh"
ARGOCD_IMAGE=quay.io/argoproj/argocd:$ARGOCD_VERSION

WORK=""
STARTED_DOCKER=0
cleanup() {
  [[ -z $WORK ]] || rm -rf "$WORK"
  if (( STARTED_DOCKER )); then bash "$HERE/dockerd.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

use_docker() {
  local line
  bash "$HERE/dockerd.sh" status >/dev/null 2>&1 || STARTED_DOCKER=1
  line=$(bash "$HERE/dockerd.sh" start) || die "no Docker: see the lines above"
  export "${line?}"
  [[ -n ${DOCKER_HOST:-} ]] || unset DOCKER_HOST
}

loaded() {  # every image of images.txt is in Docker
  local tag
  while read -r tag; do
    docker image inspect "$tag" >/dev/null 2>&1 || return 1
  done <"$DIR/images.txt"
}

if [[ -f $DIR/.complete ]]; then
  use_docker
  if ! loaded; then
    log "loading the Argo CD images into Docker again from $DIR/images ..."
    for archive in "$DIR"/images/*.tar; do docker load -q -i "$archive" >/dev/null; done
  fi
  echo "$DIR"
  exit 0
fi

KWOK_DIR=${DRDRILL_TESTBED_DIR:-$(bash "$TESTBED/build.sh" --print-dir)}
[[ -f $KWOK_DIR/.complete ]] || die "the kwok test bed is not built ($KWOK_DIR): run testbed/build.sh first"
command -v go >/dev/null 2>&1 || die "'go' not found on PATH: install Go >= $GO_MIN_VERSION"
command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not found: run testbed/kind/build.sh first (it installs it)"
use_docker

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.argocd.lock"
flock 9
if [[ -f $DIR/.complete ]]; then echo "$DIR"; exit 0; fi
WORK=$(mktemp -d "$CACHE_ROOT/.argocd-work.XXXXXX")
STAGE=$DIR.partial
rm -rf "$STAGE"
mkdir -p "$STAGE/images"
SOURCES_DIR=${DRDRILL_SOURCES_DIR:-$TESTBED/../../shared/sources}
t_all=$SECONDS

t0=$SECONDS
log "argocd $ARGOCD_VERSION from the pinned source ..."
src=$WORK/src
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
unpack_argocd "$src"
(
  cd "$src/argo-cd"
  go build -trimpath -ldflags "-s -w $(argocd_ldflags)" -o "$WORK/argocd" ./cmd
)
log "  done in $((SECONDS - t0)) s"

t0=$SECONDS
log "image root file system (Debian $DEBIAN_SUITE: git, gpg and its agent, ssh, tini, redis-server) ..."
root=$WORK/root
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
  --include=git,git-lfs,gpg,gpg-agent,openssh-client,tini,tzdata,ca-certificates,redis-server \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$DEBIAN_SUITE" "$root" "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
  "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
chroot "$root" groupadd -g 999 argocd
chroot "$root" useradd -r -u 999 -g argocd -d /home/argocd argocd
mkdir -p "$root/home/argocd" "$root/app/config/ssh" "$root/app/config/tls" \
  "$root/app/config/gpg/source" "$root/app/config/gpg/keys"
chown 999:0 "$root/home/argocd" "$root/app/config/gpg/keys"
chmod 0775 "$root/home/argocd"
touch "$root/app/config/ssh/ssh_known_hosts"
ln -sf /app/config/ssh/ssh_known_hosts "$root/etc/ssh/ssh_known_hosts"
install -m 0755 "$WORK/argocd" "$KWOK_DIR/bin/helm" "$KWOK_DIR/bin/kustomize" "$root/usr/local/bin/"
install -m 0755 "$src/argo-cd/hack/gpg-wrapper.sh" "$src/argo-cd/hack/git-verify-wrapper.sh" \
  "$src/argo-cd/entrypoint.sh" "$root/usr/local/bin/"
for name in argocd-server argocd-repo-server argocd-cmp-server argocd-application-controller \
            argocd-dex argocd-notifications argocd-applicationset-controller argocd-k8s-auth \
            argocd-commit-server; do
  ln -sf /usr/local/bin/argocd "$root/usr/local/bin/$name"
done
rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
old=$(docker image inspect --format '{{.Id}}' "$ARGOCD_IMAGE" 2>/dev/null || true)
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV USER=argocd" --change "USER 999" --change "WORKDIR /home/argocd" \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' - "$ARGOCD_IMAGE" >/dev/null
[[ -z $old ]] || docker rmi "$old" >/dev/null 2>&1 || true
log "  done in $((SECONDS - t0)) s"

t0=$SECONDS
log "install manifest and the Redis image it names ..."
manifest=$src/argo-cd/manifests/core-install.yaml
redis_image=$(sed -n 's/^ *image: \(.*redis.*\)$/\1/p' "$manifest" | sort -u)
[[ $(wc -l <<<"$redis_image") -eq 1 && -n $redis_image ]] || die "core-install.yaml: expected one Redis image, found: $redis_image"
# the Redis container gives only arguments: the image's entry point is redis-server
mkdir -p "$WORK/redis"
printf 'FROM %s\nUSER 999\nENTRYPOINT ["redis-server"]\n' "$ARGOCD_IMAGE" >"$WORK/redis/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$redis_image" "$WORK/redis" >/dev/null 2>"$WORK/redis.log" ||
  { cat "$WORK/redis.log" >&2; die "docker build of $redis_image failed"; }
grep -q "image: $ARGOCD_IMAGE\$" "$manifest" || die "core-install.yaml does not name $ARGOCD_IMAGE"
sed 's/imagePullPolicy: Always/imagePullPolicy: IfNotPresent/' "$manifest" >"$STAGE/install.yaml"
printf '%s\n%s\n' "$ARGOCD_IMAGE" "$redis_image" >"$STAGE/images.txt"
docker save -o "$STAGE/images/argocd.tar" "$ARGOCD_IMAGE" "$redis_image"
log "  done in $((SECONDS - t0)) s"

touch "$STAGE/.complete"
rm -rf "$DIR"
mv "$STAGE" "$DIR"
log "built in $((SECONDS - t_all)) s: $DIR"
echo "$DIR"
