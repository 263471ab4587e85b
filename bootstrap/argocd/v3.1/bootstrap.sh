#!/usr/bin/env bash
# Bootstrap Argo CD v3.1 against the drill's repository. Idempotent: safe to run twice.
#
# Inputs from the environment that drdrill sets (never from the command line):
#   KUBECONFIG, DRDRILL_KUBE_CONTEXT        the cluster
#   DRDRILL_INSTALL_MANIFESTS              Argo CD install manifests (a file or folder); with
#                                          DRDRILL_ARGOCD_COMPONENTS=local, only the CRDs
#   DRDRILL_ARGOCD_COMPONENTS              manifests (default): the manifests run Argo CD in the
#                                          cluster; local: drdrill runs the application-
#                                          controller, repo-server and ApplicationSet
#                                          controller as local processes, so
#                                          this script installs what they read: the CRDs, the
#                                          ConfigMaps argocd-cm, argocd-rbac-cm,
#                                          argocd-cmd-params-cm, argocd-ssh-known-hosts-cm,
#                                          argocd-tls-certs-cm, the Secret argocd-secret and
#                                          the controller's ServiceAccount and RBAC
#   DRDRILL_REPO_URL                       the GitOps repository
#   DRDRILL_REF                            targetRevision (branch, tag or commit)
#   DRDRILL_PATH                           path inside the repository: plain manifests, a
#                                          Kustomize folder, a Helm chart, or Applications /
#                                          ApplicationSets (app of apps)
#   DRDRILL_NAMESPACE, DRDRILL_NAME        where the Application goes and its name
#   DRDRILL_PROJECT                        optional: its AppProject (default: default)
#   DRDRILL_HELM_VALUE_FILES               optional: Helm values files, one per line
#   DRDRILL_HELM_RELEASE_NAME              optional: the Helm release name
#   DRDRILL_EXTRA_SOURCES_FILE             optional: further sources (multi-source), a file of
#                                          "- {<source as JSON>}" lines
#   DRDRILL_SOURCE_REF                     optional, with further sources: the `ref` name of
#                                          the drill's repository (for `$<ref>/` values files)
#   DRDRILL_SECRET_SSH_KEY_FILE            optional: ssh private key for the repository
#   DRDRILL_SECRET_KNOWN_HOSTS_FILE        optional: known_hosts lines for its host
#   DRDRILL_SECRET_USERNAME_FILE, DRDRILL_SECRET_PASSWORD_FILE   optional: https basic auth
#                                          (the line breaks that end such a file are not part
#                                          of the value, as `echo token > file` writes it)
set -euo pipefail

: "${KUBECONFIG:?KUBECONFIG is not set}"
: "${DRDRILL_INSTALL_MANIFESTS:?DRDRILL_INSTALL_MANIFESTS is not set}"
: "${DRDRILL_REPO_URL:?}" "${DRDRILL_REF:?}" "${DRDRILL_PATH:?}"
namespace="${DRDRILL_NAMESPACE:-argocd}"
name="${DRDRILL_NAME:-platform}"
project="${DRDRILL_PROJECT:-default}"
components="${DRDRILL_ARGOCD_COMPONENTS:-manifests}"
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

case "$components" in
  local|manifests) ;;
  *) echo "argocd bootstrap: DRDRILL_ARGOCD_COMPONENTS must be local or manifests" >&2; exit 2 ;;
esac

# Refuse a value yaml_str cannot write here, in this shell: inside $(...) an exit is lost.
value_files=()
if [[ -n "${DRDRILL_HELM_VALUE_FILES:-}" ]]; then
  mapfile -t value_files <<<"$DRDRILL_HELM_VALUE_FILES"
fi
for value in "$name" "$namespace" "$project" "$DRDRILL_REPO_URL" "$DRDRILL_REF" \
             "$DRDRILL_PATH" "${DRDRILL_HELM_RELEASE_NAME:-}" "${DRDRILL_SOURCE_REF:-}" \
             "${value_files[@]}"; do
  yaml_str "$value" >/dev/null
done

"${kubectl[@]}" create namespace "$namespace" --dry-run=client -o yaml | "${kubectl[@]}" apply -f -
echo "argocd bootstrap: installing ${components} components from ${DRDRILL_INSTALL_MANIFESTS}"
"${kubectl[@]}" -n "$namespace" apply --server-side --force-conflicts -f "$DRDRILL_INSTALL_MANIFESTS"
wait_established crd/applications.argoproj.io crd/appprojects.argoproj.io \
  crd/applicationsets.argoproj.io

if [[ $components == local ]]; then
  # What the install manifests would bring besides the workloads, for controllers that run
  # outside the cluster: their settings and the controller's identity and permissions.
  "${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-rbac-cm
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/name: argocd-rbac-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/name: argocd-cmd-params-cm, app.kubernetes.io/part-of: argocd}
data:
  server.insecure: "true"
  reposerver.disable.tls: "true"
  controller.repo.server.plaintext: "true"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-tls-certs-cm
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/name: argocd-tls-certs-cm, app.kubernetes.io/part-of: argocd}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: argocd-application-controller
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/name: argocd-application-controller, app.kubernetes.io/part-of: argocd}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: argocd-application-controller
  labels: {app.kubernetes.io/name: argocd-application-controller, app.kubernetes.io/part-of: argocd}
rules:
  - {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
  - {nonResourceURLs: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: argocd-application-controller
  labels: {app.kubernetes.io/name: argocd-application-controller, app.kubernetes.io/part-of: argocd}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: argocd-application-controller}
subjects:
  - kind: ServiceAccount
    name: argocd-application-controller
    namespace: $(yaml_str "$namespace")
MANIFEST
fi

# argocd-server writes the signing key on its first start; it does not run here (kwok) or at
# all (a core install), and the controller refuses to read cluster settings without one.
if [[ -z $("${kubectl[@]}" -n "$namespace" get secret argocd-secret \
             -o 'jsonpath={.data.server\.secretkey}' 2>/dev/null) ]]; then
  key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  if "${kubectl[@]}" -n "$namespace" get secret argocd-secret >/dev/null 2>&1; then
    "${kubectl[@]}" -n "$namespace" patch secret argocd-secret --type merge \
      -p "{\"stringData\": {\"server.secretkey\": \"$key\"}}" >/dev/null
  else
    "${kubectl[@]}" -n "$namespace" create secret generic argocd-secret \
      --from-literal=server.secretkey="$key" --dry-run=client -o yaml \
      | "${kubectl[@]}" label --local -f - app.kubernetes.io/name=argocd-secret \
          app.kubernetes.io/part-of=argocd -o yaml \
      | "${kubectl[@]}" apply -f - >/dev/null
  fi
fi

# known_hosts for an ssh repository: added to what the install manifests ship.
if [[ -n "${DRDRILL_SECRET_KNOWN_HOSTS_FILE:-}" ]]; then
  echo "argocd bootstrap: adding known_hosts from a file"
  hosts=$(mktemp)
  trap 'rm -f "$hosts"' EXIT
  "${kubectl[@]}" -n "$namespace" get configmap argocd-ssh-known-hosts-cm \
    -o jsonpath='{.data.ssh_known_hosts}' >"$hosts" 2>/dev/null || true
  printf '\n' >>"$hosts"
  cat "$DRDRILL_SECRET_KNOWN_HOSTS_FILE" >>"$hosts"
  "${kubectl[@]}" -n "$namespace" create configmap argocd-ssh-known-hosts-cm \
    --from-file=ssh_known_hosts="$hosts" --dry-run=client -o yaml \
    | "${kubectl[@]}" label --local -f - app.kubernetes.io/part-of=argocd -o yaml \
    | "${kubectl[@]}" apply -f - >/dev/null
fi

if [[ -n "${DRDRILL_SECRET_SSH_KEY_FILE:-}" || -n "${DRDRILL_SECRET_USERNAME_FILE:-}" ]]; then
  echo "argocd bootstrap: registering the repository with credentials from files"
  args=(--from-literal=type=git --from-literal=url="$DRDRILL_REPO_URL")
  [[ -n "${DRDRILL_SECRET_SSH_KEY_FILE:-}" ]] && args+=(--from-file=sshPrivateKey="$DRDRILL_SECRET_SSH_KEY_FILE")
  # username and password without the line breaks that end their files, in a private folder
  creds=$(mktemp -d)
  trap 'rm -rf "$creds" "${hosts:-}"' EXIT
  if [[ -n "${DRDRILL_SECRET_USERNAME_FILE:-}" ]]; then
    printf %s "$(cat "$DRDRILL_SECRET_USERNAME_FILE")" >"$creds/username"
    args+=(--from-file=username="$creds/username")
  fi
  if [[ -n "${DRDRILL_SECRET_PASSWORD_FILE:-}" ]]; then
    printf %s "$(cat "$DRDRILL_SECRET_PASSWORD_FILE")" >"$creds/password"
    args+=(--from-file=password="$creds/password")
  fi
  "${kubectl[@]}" -n "$namespace" create secret generic "$name-repo" "${args[@]}" \
    --dry-run=client -o yaml \
    | "${kubectl[@]}" label --local -f - argocd.argoproj.io/secret-type=repository -o yaml \
    | "${kubectl[@]}" apply -f - >/dev/null
fi

# The project the API server would create on its first start (it does not run here).
"${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: $(yaml_str "$project")
  namespace: $(yaml_str "$namespace")
spec:
  sourceRepos: ["*"]
  destinations: [{namespace: "*", server: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]
MANIFEST

# The main source, as a list item indented for spec.sources (or spec.source without "- ").
main_source() {
  local indent=$1 first=$2 f
  echo "${first}repoURL: $(yaml_str "$DRDRILL_REPO_URL")"
  echo "${indent}targetRevision: $(yaml_str "$DRDRILL_REF")"
  echo "${indent}path: $(yaml_str "$DRDRILL_PATH")"
  [[ -n "${DRDRILL_EXTRA_SOURCES_FILE:-}" && -n "${DRDRILL_SOURCE_REF:-}" ]] &&
    echo "${indent}ref: $(yaml_str "$DRDRILL_SOURCE_REF")"
  if (( ${#value_files[@]} )) || [[ -n "${DRDRILL_HELM_RELEASE_NAME:-}" ]]; then
    echo "${indent}helm:"
    [[ -n "${DRDRILL_HELM_RELEASE_NAME:-}" ]] &&
      echo "${indent}  releaseName: $(yaml_str "$DRDRILL_HELM_RELEASE_NAME")"
    if (( ${#value_files[@]} )); then
      echo "${indent}  valueFiles:"
      for f in "${value_files[@]}"; do echo "${indent}    - $(yaml_str "$f")"; done
    fi
  fi
}

if [[ -n "${DRDRILL_EXTRA_SOURCES_FILE:-}" ]]; then
  sources="  sources:
$(main_source "      " "    - ")
$(sed 's/^/    /' "$DRDRILL_EXTRA_SOURCES_FILE")"
else
  sources="  source:
$(main_source "    " "    ")"
fi

echo "argocd bootstrap: Application $namespace/$name (revision ${DRDRILL_REF}, path ${DRDRILL_PATH})"
"${kubectl[@]}" apply -f - <<MANIFEST
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: $(yaml_str "$name")
  namespace: $(yaml_str "$namespace")
  labels: {app.kubernetes.io/managed-by: drdrill}
spec:
  project: $(yaml_str "$project")
$sources
  destination:
    server: https://kubernetes.default.svc
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
MANIFEST
echo "argocd bootstrap: done"
