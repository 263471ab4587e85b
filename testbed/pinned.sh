# shellcheck shell=bash
# Pinned sources for the test bed's build scripts (sourced; functions only). A source the Go
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

# unpack_argocd SRC: Argo CD into SRC/argo-cd with the gitops-engine commit it requires in
# SRC/gitops-engine and a `replace` to it (needs SOURCES_DIR and the ARGOCD_* and
# GITOPS_ENGINE_* pins of ../versions.env).
unpack_argocd() {
  local src=$1
  unpack_pinned gitops-engine \
    "$SOURCES_DIR/argoproj-gitops-engine-${GITOPS_ENGINE_COMMIT:0:12}.tar.gz" \
    "$GITOPS_ENGINE_SHA256" https://github.com/argoproj/gitops-engine.git \
    "$GITOPS_ENGINE_COMMIT" "$GITOPS_ENGINE_COMMIT" "$src/gitops-engine"
  unpack_pinned argo-cd "$SOURCES_DIR/argoproj-argo-cd-$ARGOCD_VERSION.tar.gz" \
    "$ARGOCD_SHA256" https://github.com/argoproj/argo-cd.git "$ARGOCD_VERSION" \
    "$ARGOCD_COMMIT" "$src/argo-cd"
  (cd "$src/argo-cd" && go mod edit -replace "github.com/argoproj/gitops-engine=$src/gitops-engine")
}

# argocd_ldflags: the version stamps Argo CD's own build gives the binary
argocd_ldflags() {
  local p=github.com/argoproj/argo-cd/v3/common
  echo "-X $p.version=${ARGOCD_VERSION#v} -X $p.gitCommit=$ARGOCD_COMMIT" \
    "-X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
}
