#!/usr/bin/env bash
# Time `kind create cluster` with the test bed's node image until every node is Ready, then
# delete it; prints one line per run. Reproduces the figures in testbed/kind/RUNNING.md.
#
#   testbed/kind/measure-create.sh WORKERS [RUNS]     e.g. 0 (one node) or 2 (1 + 2 workers)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKERS=${1:?number of workers}
RUNS=${2:-1}
DIR=$(bash "$HERE/build.sh" --print-dir)
[[ -f $DIR/.complete ]] || { echo "measure: run make testbed first" >&2; exit 3; }
. "$DIR/env"
KUBECTL=$(bash "$HERE/../build.sh" --print-dir)/bin/kubectl
line=$(bash "$HERE/dockerd.sh" start)
export "${line?}"
[[ -n ${DOCKER_HOST:-} ]] || unset DOCKER_HOST
work=$(mktemp -d)
name=drdrill-measure-$$
export KIND_EXPERIMENTAL_DOCKER_NETWORK=$name
cleanup() {
  "$KIND" delete cluster --name "$name" --kubeconfig "$work/kubeconfig" >/dev/null 2>&1 || true
  docker network rm "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
{
  printf 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n'
  for ((i = 0; i < WORKERS; i++)); do printf -- '- role: worker\n'; done
  if [[ ! -f /sys/fs/cgroup/cgroup.controllers ]]; then
    printf 'kubeadmConfigPatches:\n- |\n  kind: KubeletConfiguration\n  failCgroupV1: false\n'
  fi
} >"$work/kind.yaml"
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
for ((run = 1; run <= RUNS; run++)); do
  start=$(date +%s.%N)
  "$KIND" create cluster --name "$name" --image "$NODE_IMAGE" --config "$work/kind.yaml" \
    --kubeconfig "$work/kubeconfig" --wait 0s >"$work/create.log" 2>&1 ||
    { cat "$work/create.log" >&2; exit 1; }
  created=$(date +%s.%N)
  until [[ $("$KUBECTL" --kubeconfig "$work/kubeconfig" get nodes --no-headers 2>/dev/null |
      awk '$2 == "Ready"' | wc -l) -eq $((WORKERS + 1)) ]]; do
    sleep 0.5
  done
  ready=$(date +%s.%N)
  "$KIND" delete cluster --name "$name" --kubeconfig "$work/kubeconfig" >/dev/null 2>&1
  deleted=$(date +%s.%N)
  printf 'measure: 1 + %d workers, run %d: kind create %s s, every node Ready %s s after start; delete %s s; load %s\n' \
    "$WORKERS" "$run" "$(since "$start" "$created")" "$(since "$start" "$ready")" \
    "$(since "$ready" "$deleted")" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
