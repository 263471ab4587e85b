#!/usr/bin/env bash
# Bootstrap Argo CD v3.1 against the drill's repository. Idempotent: safe to run twice.
#
# Inputs from the environment that drdrill sets (never from the command line):
#   KUBECONFIG, DRDRILL_KUBE_CONTEXT        the cluster
#   DRDRILL_INSTALL_MANIFESTS              Argo CD install manifests: a file or an https URL
#   DRDRILL_REPO_URL                       the GitOps repository
#   DRDRILL_REF                            targetRevision (branch, tag or commit)
#   DRDRILL_PATH                           path inside the repository
#   DRDRILL_NAMESPACE, DRDRILL_NAME        where the Application goes and its name
#   DRDRILL_SECRET_SSH_KEY_FILE            optional: ssh private key file for the repository
set -euo pipefail

: "${KUBECONFIG:?KUBECONFIG is not set}"
: "${DRDRILL_INSTALL_MANIFESTS:?DRDRILL_INSTALL_MANIFESTS is not set}"
: "${DRDRILL_REPO_URL:?}" "${DRDRILL_REF:?}" "${DRDRILL_PATH:?}"
namespace="${DRDRILL_NAMESPACE:-argocd}"
name="${DRDRILL_NAME:-platform}"
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

"${kubectl[@]}" create namespace "$namespace" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
echo "argocd bootstrap: installing components from ${DRDRILL_INSTALL_MANIFESTS}"
"${kubectl[@]}" -n "$namespace" apply --server-side --force-conflicts -f "$DRDRILL_INSTALL_MANIFESTS"
wait_established crd/applications.argoproj.io

if [[ -n "${DRDRILL_SECRET_SSH_KEY_FILE:-}" ]]; then
  echo "argocd bootstrap: registering the repository credentials from a file"
  "${kubectl[@]}" -n "$namespace" create secret generic "$name-repo" \
    --from-literal=type=git --from-literal=url="$DRDRILL_REPO_URL" \
    --from-file=sshPrivateKey="$DRDRILL_SECRET_SSH_KEY_FILE" --dry-run=client -o yaml \
    | "${kubectl[@]}" label --local -f - argocd.argoproj.io/secret-type=repository -o yaml \
    | "${kubectl[@]}" apply -f - >/dev/null
fi

# Refuse a value yaml_str cannot write here, in this shell: inside $(...) an exit is lost.
for value in "$name" "$namespace" "${interval:-}" "$DRDRILL_REPO_URL" "$DRDRILL_REF" \
             "$DRDRILL_PATH"; do
  yaml_str "$value" >/dev/null
done
echo "argocd bootstrap: Application $namespace/$name (revision ${DRDRILL_REF}, path ${DRDRILL_PATH})"
"${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: $(yaml_str "$name")
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  project: default
  source:
    repoURL: $(yaml_str "$DRDRILL_REPO_URL")
    targetRevision: $(yaml_str "$DRDRILL_REF")
    path: $(yaml_str "$DRDRILL_PATH")
  destination:
    server: https://kubernetes.default.svc
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
MANIFEST
echo "argocd bootstrap: done"
