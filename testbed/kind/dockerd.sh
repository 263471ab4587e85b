#!/usr/bin/env bash
# A working Docker for the kind test bed: the user's running one as it is, or the test bed's own
# dockerd (Debian's docker.io) with its own data root, socket and exec root under the cache.
#
#   testbed/kind/dockerd.sh start    use a working Docker, or start the test bed's own; prints
#                                    DOCKER_HOST=... on stdout (empty value: the default Docker)
#   testbed/kind/dockerd.sh stop     stop the test bed's own dockerd (by its pid file only)
#   testbed/kind/dockerd.sh status   exit 0 when a Docker answers; prints its DOCKER_HOST
#
# The own daemon: ${DRDRILL_DOCKER_DIR:-${XDG_CACHE_HOME:-~/.cache}/drdrill/docker}/
#   docker.sock  daemon.json  dockerd.log  dockerd.pid  data/  exec/  bin/drdrill-runc
# It is registered with a runc wrapper (runc-wrapper) only when this host's capability bounding
# set lacks CAP_SYS_RESOURCE. It neither forwards nor masquerades, and its embedded DNS forwards
# to 127.0.0.1 only: containers reach each other and this host, nothing else.
# Exit codes: 0 ok; 3 no Docker and none can be installed or started.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${DRDRILL_DOCKER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/docker}
SOCK=$STATE/docker.sock
OWN_HOST=unix://$SOCK

log() { echo "dockerd.sh: $*" >&2; }

answers() {  # answers [DOCKER_HOST]: does a Docker daemon answer there?
  command -v docker >/dev/null 2>&1 || return 1
  if [[ -n ${1:-} ]]; then
    DOCKER_HOST=$1 timeout 20 docker info >/dev/null 2>&1
  else
    timeout 20 docker info >/dev/null 2>&1
  fi
}

lacks_sys_resource() {  # CAP_SYS_RESOURCE is capability 24
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

own_pid() {  # pid of the running own dockerd, if any
  local pid
  [[ -f $STATE/dockerd.pid ]] || return 1
  pid=$(cat "$STATE/dockerd.pid")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- "--config-file $STATE/daemon.json" || return 1
  echo "$pid"
}

install_docker() {
  if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "no Docker: install Docker (https://docs.docker.com/engine/install/) or run this as root on Debian/Ubuntu"
    exit 3
  fi
  log "installing Debian's docker.io ..."
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io; } \
      >"${TMPDIR:-/tmp}/drdrill-docker-install.log" 2>&1; then
    tail -5 "${TMPDIR:-/tmp}/drdrill-docker-install.log" >&2
    log "no Docker: apt-get install docker.io failed (log: ${TMPDIR:-/tmp}/drdrill-docker-install.log)"
    exit 3
  fi
}

start_own() {
  install_docker
  mkdir -p "$STATE/data" "$STATE/exec" "$STATE/bin"
  local runtimes=""
  if lacks_sys_resource; then
    install -m 0755 "$HERE/runc-wrapper" "$STATE/bin/drdrill-runc"
    runtimes=$(printf ',\n  "runtimes": {"drdrill-runc": {"path": "%s"}},\n  "default-runtime": "drdrill-runc"' \
      "$STATE/bin/drdrill-runc")
  fi
  cat >"$STATE/daemon.json" <<JSON
{
  "data-root": "$STATE/data",
  "exec-root": "$STATE/exec",
  "pidfile": "$STATE/dockerd.pid",
  "hosts": ["$OWN_HOST"],
  "ip-forward": false,
  "ip-masq": false,
  "dns": ["127.0.0.1"],
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "2"}$runtimes
}
JSON
  rm -f "$SOCK"
  log "starting dockerd (data root $STATE/data) ..."
  setsid nohup dockerd --config-file "$STATE/daemon.json" </dev/null >"$STATE/dockerd.log" 2>&1 9>&- &
  local i started=$!
  for ((i = 0; i < 120; i++)); do
    if answers "$OWN_HOST"; then
      log "dockerd is up ($OWN_HOST)"
      return 0
    fi
    if [[ ! -d /proc/$started ]]; then
      break
    fi
    sleep 0.5
  done
  tail -20 "$STATE/dockerd.log" >&2 || true
  log "no Docker: dockerd did not answer within 60 s (log: $STATE/dockerd.log)"
  exit 3
}

case "${1:-}" in
  start)
    if [[ -z ${DOCKER_HOST:-} || ${DOCKER_HOST} != "$OWN_HOST" ]] && answers "${DOCKER_HOST:-}"; then
      echo "DOCKER_HOST=${DOCKER_HOST:-}"
      exit 0
    fi
    answers "$OWN_HOST" || start_own
    echo "DOCKER_HOST=$OWN_HOST"
    ;;
  stop)
    if pid=$(own_pid); then
      kill -TERM "$pid"
      for ((i = 0; i < 60; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.5
      done
      if [[ -d /proc/$pid ]]; then
        log "dockerd $pid did not stop within 30 s"
        exit 1
      fi
      log "stopped dockerd $pid"
    fi
    ;;
  status)
    if answers "${DOCKER_HOST:-}"; then echo "DOCKER_HOST=${DOCKER_HOST:-}"; exit 0; fi
    if answers "$OWN_HOST"; then echo "DOCKER_HOST=$OWN_HOST"; exit 0; fi
    exit 3
    ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
