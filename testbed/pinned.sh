# shellcheck shell=bash
# unpack_pinned, for the test bed's build scripts (sourced; a function only). A source the Go
# module proxy does not serve comes from a pinned `git archive` snapshot in ../shared/sources
# (sha256 checked), or else from a shallow clone of its tag (commit checked).

# unpack_pinned NAME TARBALL SHA256 REPO TAG COMMIT DEST: TARBALL into DEST, or a clone of
# REPO at TAG (COMMIT when TAG is the commit itself).
unpack_pinned() {
  local name=$1 tarball=$2 sum=$3 repo=$4 tag=$5 pinned=$6 dest=$7 commit
  rm -rf "$dest"
  mkdir -p "$dest"
  if [[ -f $tarball ]]; then
    if ! echo "$sum  $tarball" | sha256sum -c --quiet - >/dev/null 2>&1; then
      echo "testbed: $tarball does not have the pinned sha256 $sum" >&2
      exit 1
    fi
    tar -xzf "$tarball" -C "$dest" --strip-components=1
    return 0
  fi
  echo "testbed: (no $tarball: cloning $repo at $tag)" >&2
  rm -rf "$dest"
  if [[ $tag == "$pinned" ]]; then
    # a bare commit: fetch just that commit
    git init -q "$dest"
    git -C "$dest" fetch -q --depth 1 "$repo" "$pinned"
    git -C "$dest" checkout -q FETCH_HEAD
  else
    git clone -q --depth 1 --branch "$tag" "$repo" "$dest"
  fi
  commit=$(git -C "$dest" rev-parse HEAD)
  if [[ $commit != "$pinned" ]]; then
    echo "testbed: $name $tag is commit $commit, pinned $pinned" >&2
    exit 1
  fi
}
