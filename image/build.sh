#!/usr/bin/env bash
# Build drdrill's container images without a registry or network during the build: the
# context is staged here (the wheel of this checkout and of every dependency, kubectl from the
# local test bed, kind from the kind test bed when it was built) and the Dockerfile installs
# from it offline.
#
#   image/build.sh [--testbed] [--base IMAGE] [--tag TAG]
#     --testbed     also build drdrill-testbed:TAG, carrying the local test bed (make testbed)
#     --base IMAGE  the Python base image (default: Dockerfile's python:3.11-slim-bookworm)
#     --tag TAG     image tag (default: drdrill's version, and latest)
# Prints the image names built, one a line.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
TESTBED=0 BASE="" TAG=""
while (( $# )); do
  case $1 in
    --testbed) TESTBED=1 ;;
    --base) BASE=$2; shift ;;
    --tag) TAG=$2; shift ;;
    *) echo "image/build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
LATEST=0
if [[ -z $TAG ]]; then  # the default tag is drdrill's version, also tagged latest
  TAG=$("$PYTHON" -c 'import drdrill; print(drdrill.__version__)')
  LATEST=1
fi
command -v docker >/dev/null || { echo "image/build.sh: docker not found" >&2; exit 3; }

CTX=$(mktemp -d "${TMPDIR:-/tmp}/drdrill-image.XXXXXX")
trap 'rm -rf "$CTX"' EXIT
mkdir -p "$CTX/dist" "$CTX/bin"
echo "image/build.sh: wheels ..." >&2
"$PYTHON" -m pip wheel --quiet -w "$CTX/dist" "$ROOT" >&2
TESTBED_DIR=${DRDRILL_TESTBED_DIR:-$(bash "$ROOT/testbed/build.sh" --print-dir)}
if [[ -x $TESTBED_DIR/bin/kubectl ]]; then
  cp "$TESTBED_DIR/bin/kubectl" "$CTX/bin/"
else
  echo "image/build.sh: no test-bed kubectl ($TESTBED_DIR): run make testbed" >&2; exit 3
fi
KIND_ENV=$(bash "$ROOT/testbed/kind/build.sh" --print-dir 2>/dev/null)/env
KIND_BIN=""
if [[ -f $KIND_ENV ]]; then KIND_BIN=$(sed -n 's/^KIND=//p' "$KIND_ENV"); fi
if [[ -n $KIND_BIN && -x $KIND_BIN ]]; then
  cp "$KIND_BIN" "$CTX/bin/"
else
  echo "image/build.sh: kind not built (testbed/kind/build.sh): the image has no kind" >&2
fi
cp "$HERE/Dockerfile" "$CTX/Dockerfile"
args=(-q -t "drdrill:$TAG")
(( LATEST )) && args+=(-t drdrill:latest)
[[ -z $BASE ]] || args+=(--build-arg "BASE=$BASE")
echo "image/build.sh: drdrill:$TAG ..." >&2
DOCKER_BUILDKIT=0 docker build "${args[@]}" "$CTX" >/dev/null
echo "drdrill:$TAG"

if (( TESTBED )); then
  [[ -f $TESTBED_DIR/.complete ]] || { echo "image/build.sh: the test bed is not built" >&2; exit 3; }
  rm -rf "${CTX:?}/dist" "${CTX:?}/bin"
  mkdir -p "$CTX/testbed"
  for part in bin crds kwok kwokctl.yaml versions.env .complete; do
    [[ -e $TESTBED_DIR/$part ]] && cp -a "$TESTBED_DIR/$part" "$CTX/testbed/"
  done
  cp "$HERE/Dockerfile.testbed" "$CTX/Dockerfile"
  echo "image/build.sh: drdrill-testbed:$TAG ..." >&2
  DOCKER_BUILDKIT=0 docker build -q -t "drdrill-testbed:$TAG" \
    --build-arg "DRDRILL_IMAGE=drdrill:$TAG" "$CTX" >/dev/null
  echo "drdrill-testbed:$TAG"
fi
