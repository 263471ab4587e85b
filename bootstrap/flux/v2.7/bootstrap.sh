#!/usr/bin/env bash
# Bootstrap Flux v2.7 against the drill's repository. Idempotent: safe to run twice.
#
# Every input comes from the environment that drdrill sets (never from the command line):
#   KUBECONFIG, DRDRILL_KUBE_CONTEXT        the cluster
#   DRDRILL_INSTALL_MANIFESTS              Flux components: a file or an https URL
#   DRDRILL_REPO_URL                       http(s):// or ssh:// URL of the GitOps repository
#   DRDRILL_REF_KIND, DRDRILL_REF          branch | tag | commit, and its value
#   DRDRILL_PATH                           path inside the repository to apply
#   DRDRILL_INTERVAL                       reconcile interval (e.g. 10m)
#   DRDRILL_NAMESPACE, DRDRILL_NAME        where and under which name the Flux objects go
#   DRDRILL_SECRET_SSH_KEY_FILE            optional: an ssh private key file for the repository
#   DRDRILL_SECRET_KNOWN_HOSTS_FILE        optional: known_hosts for it
#   DRDRILL_SECRET_USERNAME_FILE, DRDRILL_SECRET_PASSWORD_FILE   optional: https basic auth
#   DRDRILL_SYNC_MANIFEST                  optional: the GitRepository and Kustomization to
#                                          apply (drdrill writes it: a `flux bootstrap` layout's
#                                          own sync objects, rewritten); else they are made here
#   DRDRILL_SUBSTITUTE_FROM                optional: lines "<ConfigMap|Secret> <name> <env file>"
#                                          made in the namespace for the root's postBuild
set -euo pipefail

: "${KUBECONFIG:?KUBECONFIG is not set}"
: "${DRDRILL_INSTALL_MANIFESTS:?DRDRILL_INSTALL_MANIFESTS is not set}"
: "${DRDRILL_REPO_URL:?DRDRILL_REPO_URL is not set}"
: "${DRDRILL_REF_KIND:?}" "${DRDRILL_REF:?}" "${DRDRILL_PATH:?}"
namespace="${DRDRILL_NAMESPACE:-flux-system}"
name="${DRDRILL_NAME:-platform}"
interval="${DRDRILL_INTERVAL:-10m}"
kubectl=(kubectl)
[[ -n "${DRDRILL_KUBE_CONTEXT:-}" ]] && kubectl+=(--context "$DRDRILL_KUBE_CONTEXT")

# `kubectl wait` errors out (instead of waiting) while a new CRD has no status yet: retry.
wait_established() {
  local attempt
  for attempt in $(seq 1 60); do
    if "${kubectl[@]}" wait --for=condition=established --timeout=30s "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  "${kubectl[@]}" wait --for=condition=established --timeout=5s "$@"
}

echo "flux bootstrap: installing components from ${DRDRILL_INSTALL_MANIFESTS}"
"${kubectl[@]}" apply --server-side --force-conflicts -f "$DRDRILL_INSTALL_MANIFESTS"

echo "flux bootstrap: waiting for the Flux CRDs to be established"
wait_established crd/gitrepositories.source.toolkit.fluxcd.io \
  crd/kustomizations.kustomize.toolkit.fluxcd.io

"${kubectl[@]}" create namespace "$namespace" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -

secret_ref=""
if [[ -n "${DRDRILL_SECRET_SSH_KEY_FILE:-}" || -n "${DRDRILL_SECRET_USERNAME_FILE:-}" ]]; then
  echo "flux bootstrap: creating the repository credentials secret from files"
  args=()
  [[ -n "${DRDRILL_SECRET_SSH_KEY_FILE:-}" ]] && args+=(--from-file=identity="$DRDRILL_SECRET_SSH_KEY_FILE")
  [[ -n "${DRDRILL_SECRET_KNOWN_HOSTS_FILE:-}" ]] && args+=(--from-file=known_hosts="$DRDRILL_SECRET_KNOWN_HOSTS_FILE")
  [[ -n "${DRDRILL_SECRET_USERNAME_FILE:-}" ]] && args+=(--from-file=username="$DRDRILL_SECRET_USERNAME_FILE")
  [[ -n "${DRDRILL_SECRET_PASSWORD_FILE:-}" ]] && args+=(--from-file=password="$DRDRILL_SECRET_PASSWORD_FILE")
  "${kubectl[@]}" -n "$namespace" create secret generic "$name-git-auth" "${args[@]}" \
    --dry-run=client -o yaml | "${kubectl[@]}" apply -f - >/dev/null
  secret_ref="  secretRef: {name: $name-git-auth}"
fi

while read -r kind object file; do
  [[ -n "${kind:-}" ]] || continue
  echo "flux bootstrap: $kind $namespace/$object for postBuild substitution from $file"
  case "$kind" in
    ConfigMap) create=(create configmap "$object") ;;
    Secret) create=(create secret generic "$object") ;;
    *) echo "flux bootstrap: unknown kind $kind in DRDRILL_SUBSTITUTE_FROM" >&2; exit 2 ;;
  esac
  "${kubectl[@]}" -n "$namespace" "${create[@]}" --from-env-file="$file" \
    --dry-run=client -o yaml </dev/null |
    "${kubectl[@]}" apply --server-side --field-manager=drdrill -f - >/dev/null
done <<<"${DRDRILL_SUBSTITUTE_FROM:-}"

echo "flux bootstrap: GitRepository and Kustomization $namespace/$name (${DRDRILL_REF_KIND} ${DRDRILL_REF}, path ${DRDRILL_PATH})"
if [[ -n "${DRDRILL_SYNC_MANIFEST:-}" ]]; then
  # Server-side apply under drdrill's own field manager: kustomize-controller, applying the
  # same objects from gotk-sync.yaml, keeps the fields only drdrill sets (patches, postBuild).
  "${kubectl[@]}" apply --server-side --force-conflicts --field-manager=drdrill \
    -f "$DRDRILL_SYNC_MANIFEST"
  echo "flux bootstrap: done"
  exit 0
fi
"${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: $name
  namespace: $namespace
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  interval: $interval
  timeout: 60s
  url: "$DRDRILL_REPO_URL"
  ref:
    $DRDRILL_REF_KIND: "$DRDRILL_REF"
$secret_ref
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: $name
  namespace: $namespace
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  interval: $interval
  retryInterval: 15s
  timeout: 2m
  path: "$DRDRILL_PATH"
  prune: true
  wait: false
  sourceRef:
    kind: GitRepository
    name: $name
MANIFEST
echo "flux bootstrap: done"
