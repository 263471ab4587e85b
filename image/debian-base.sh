#!/usr/bin/env bash
# A Python base image without any registry: a minimal Debian root file system made by
# mmdebstrap from Debian's package mirror, `docker import`ed. The image tests build on it;
# anyone whose Docker cannot pull can pass it to image/build.sh --base.
#
#   image/debian-base.sh [TAG]     default drdrill.local/python-base:bookworm; prints TAG
set -euo pipefail
TAG=${1:-drdrill.local/python-base:bookworm}
SUITE=${DEBIAN_SUITE:-bookworm}   # bookworm's python3 is 3.11, what drdrill needs at least
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$TAG"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "debian-base.sh: apt-get install mmdebstrap" >&2; exit 3; }
ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/drdrill-base.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
mmdebstrap --quiet --variant=minbase --mode=root --format=directory \
  --include=python3,python3-venv,ca-certificates,tzdata "$SUITE" "$ROOTFS" >&2
rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/*
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' - "$TAG" >/dev/null
echo "$TAG"
