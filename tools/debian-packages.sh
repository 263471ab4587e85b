#!/usr/bin/env bash
# Install the Debian packages the test suite uses when their command is missing (as root, with
# apt-get), so that `make test` on a fresh machine needs nothing installed by hand.
#
#   tools/debian-packages.sh COMMAND=PACKAGE ...     e.g. chromium=chromium
#
# Exit codes: 0 every command present; 3 one is missing and cannot be installed here.
set -euo pipefail

missing=()
for pair in "$@"; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
done
(( ${#missing[@]} )) || exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "tools: missing Debian package(s) ${missing[*]}: install them (apt-get install ${missing[*]})" >&2
  exit 3
fi
echo "tools: installing ${missing[*]} (Debian) ..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
         --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -5 "$log" >&2
  echo "tools: apt-get install ${missing[*]} failed" >&2
  exit 3
fi
