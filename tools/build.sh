#!/usr/bin/env bash
# Build one small Go tool that drdrill's tests or lint use, from the Go module proxy, into a
# cache outside the checkout (kept apart from the test bed so adding a tool rebuilds nothing
# else), and print its path.
#
#   tools/build.sh pushgateway|actionlint|sops|age|age-keygen|kubeseal
#
# Cache: ${DRDRILL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/tools}/<tool>-<version>/
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=versions.env
. "$HERE/versions.env"

case "${1:-}" in
  pushgateway) VERSION=$PUSHGATEWAY_VERSION; PKG=github.com/prometheus/pushgateway ;;
  actionlint) VERSION=$ACTIONLINT_VERSION; PKG=github.com/rhysd/actionlint/cmd/actionlint ;;
  sops) VERSION=$SOPS_VERSION; PKG=github.com/getsops/sops/v3/cmd/sops ;;
  age) VERSION=$AGE_VERSION; PKG=filippo.io/age/cmd/age ;;
  age-keygen) VERSION=$AGE_VERSION; PKG=filippo.io/age/cmd/age-keygen ;;
  kubeseal) VERSION=$KUBESEAL_VERSION; PKG=github.com/bitnami-labs/sealed-secrets/cmd/kubeseal ;;
  *) echo "tools: usage: tools/build.sh pushgateway|actionlint|sops|age|age-keygen|kubeseal" >&2
     exit 2 ;;
esac
TOOL=$1
CACHE_ROOT=${DRDRILL_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/tools}
DIR=$CACHE_ROOT/$TOOL-$VERSION
OUT=$DIR/$TOOL

if [[ -x $OUT ]]; then
  echo "$OUT"
  exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "tools: 'go' not found on PATH: install Go >= 1.26 to build $TOOL" >&2; exit 3; }

export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [[ -x $OUT ]]; then echo "$OUT"; exit 0; fi
# `go install PKG@VERSION` asks the proxy for the module's version list (deprecation check),
# which it refuses for some modules: build from a throw-away module that requires the pin.
WORK=$(mktemp -d "$DIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf 'module drdrill.tools/%s\n\ngo 1.26\n' "$TOOL" >go.mod
MODULE=${PKG%/cmd/*}
if ! go get -tool "$PKG@$VERSION" >get.log 2>&1; then
  cat get.log >&2
  echo "tools: could not fetch $MODULE@$VERSION from the Go module proxy" >&2
  exit 3
fi
go build -trimpath -ldflags "-s -w" -o "$DIR/.$TOOL.tmp.$$" "$PKG" >&2
mv -f "$DIR/.$TOOL.tmp.$$" "$OUT"
echo "$OUT"
