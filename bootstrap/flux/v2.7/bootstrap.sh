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
#                                          (the line breaks that end such a file are not part
#                                          of the value, as `echo token > file` writes it)
#   DRDRILL_SYNC_MANIFEST                  optional: the GitRepository and Kustomization to
#                                          apply (drdrill writes it: a `flux bootstrap` layout's
#                                          own sync objects, rewritten); else they are made here
#   DRDRILL_SUBSTITUTE_FROM                optional: lines "<ConfigMap|Secret> <name> <env file>"
#                                          made in the namespace for the root's postBuild
#   DRDRILL_DECRYPTION_SECRETS             optional: lines "<namespace> <name> <entry> <key file>":
#                                          SOPS decryption Secrets (entry identity.agekey: an
#                                          age key file), for Kustomizations' spec.decryption
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

# A value as a YAML double-quoted scalar (JSON string syntax). Values come from the scenario
# file: a quote, a backslash or a line break in one must never change the manifest's shape.
yaml_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s =~ [[:cntrl:]] ]]; then
    echo "bootstrap: a value holds a control character; refusing it" >&2
    exit 2
  fi
  printf '"%s"' "$s"
}

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
  # username and password without the line breaks that end their files, in a private folder
  creds=$(mktemp -d)
  trap 'rm -rf "$creds"' EXIT
  if [[ -n "${DRDRILL_SECRET_USERNAME_FILE:-}" ]]; then
    printf %s "$(cat "$DRDRILL_SECRET_USERNAME_FILE")" >"$creds/username"
    args+=(--from-file=username="$creds/username")
  fi
  if [[ -n "${DRDRILL_SECRET_PASSWORD_FILE:-}" ]]; then
    printf %s "$(cat "$DRDRILL_SECRET_PASSWORD_FILE")" >"$creds/password"
    args+=(--from-file=password="$creds/password")
  fi
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

while read -r secret_namespace object entry file; do
  [[ -n "${secret_namespace:-}" ]] || continue
  echo "flux bootstrap: SOPS decryption Secret $secret_namespace/$object ($entry from $file)"
  "${kubectl[@]}" create namespace "$secret_namespace" --dry-run=client -o yaml |
    "${kubectl[@]}" apply -f - >/dev/null
  "${kubectl[@]}" -n "$secret_namespace" create secret generic "$object" \
    --from-file="$entry=$file" --dry-run=client -o yaml </dev/null |
    "${kubectl[@]}" apply --server-side --field-manager=drdrill -f - >/dev/null
done <<<"${DRDRILL_DECRYPTION_SECRETS:-}"

echo "flux bootstrap: GitRepository and Kustomization $namespace/$name (${DRDRILL_REF_KIND} ${DRDRILL_REF}, path ${DRDRILL_PATH})"
if [[ -n "${DRDRILL_SYNC_MANIFEST:-}" ]]; then
  # Server-side apply under drdrill's own field manager: kustomize-controller, applying the
  # same objects from gotk-sync.yaml, keeps the fields only drdrill sets (patches, postBuild).
  "${kubectl[@]}" apply --server-side --force-conflicts --field-manager=drdrill \
    -f "$DRDRILL_SYNC_MANIFEST"
  echo "flux bootstrap: done"
  exit 0
fi
# Refuse a value yaml_str cannot write here, in this shell: inside $(...) an exit is lost.
for value in "$name" "$namespace" "${interval:-}" "$DRDRILL_REPO_URL" "$DRDRILL_REF" \
             "$DRDRILL_PATH"; do
  yaml_str "$value" >/dev/null
done
case "$DRDRILL_REF_KIND" in
  branch|tag|commit|semver) ref_kind=$DRDRILL_REF_KIND ;;
  *) echo "flux bootstrap: DRDRILL_REF_KIND must be branch, tag, commit or semver" >&2; exit 2 ;;
esac
"${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: $(yaml_str "$name")
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  interval: $(yaml_str "$interval")
  timeout: 60s
  url: $(yaml_str "$DRDRILL_REPO_URL")
  ref:
    $ref_kind: $(yaml_str "$DRDRILL_REF")
$secret_ref
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: $(yaml_str "$name")
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  interval: $(yaml_str "$interval")
  retryInterval: 15s
  timeout: 2m
  path: $(yaml_str "$DRDRILL_PATH")
  prune: true
  wait: false
  sourceRef:
    kind: GitRepository
    name: $(yaml_str "$name")
MANIFEST
echo "flux bootstrap: done"
