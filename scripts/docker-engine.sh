#!/usr/bin/env bash
# Starts a local Docker engine (Debian's docker.io) for the Testcontainers tests, and stops only
# the engine this script started.
#
#   scripts/docker-engine.sh start   # installs docker.io and debootstrap if missing (root, apt)
#   scripts/docker-engine.sh stop
#   scripts/docker-engine.sh status
#
# An engine that already answers is left alone: `start` uses it and `stop` does not touch it.
set -euo pipefail

STATE_DIR="${DOCKER_ENGINE_STATE_DIR:-/tmp/kysely-replicas-dockerd}"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"

engine_answers() { docker info >/dev/null 2>&1; }

our_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine: ${missing[*]} missing; run as root to install them with apt-get" >&2
    exit 1
  fi
  echo "docker-engine: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start() {
  if engine_answers; then
    echo 'docker-engine: an engine already answers; using it' >&2
    return
  fi
  install_packages
  mkdir -p "$STATE_DIR"
  # setsid: the engine must outlive this script and not receive the terminal's Ctrl-C.
  setsid dockerd >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 60); do
    if engine_answers; then
      echo "docker-engine: started (pid $(cat "$PID_FILE"), log $LOG_FILE)" >&2
      return
    fi
    if ! our_pid >/dev/null; then
      tail -n 20 "$LOG_FILE" >&2
      echo 'docker-engine: dockerd exited during start-up (log above)' >&2
      exit 1
    fi
    sleep 1
  done
  tail -n 20 "$LOG_FILE" >&2
  echo 'docker-engine: dockerd did not answer within 60 s (log above)' >&2
  exit 1
}

stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    echo 'docker-engine: no engine started by this script is running' >&2
    return
  fi
  kill -TERM "$pid"
  # dockerd stops its containers first, which can take a few seconds each.
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "docker-engine: dockerd (pid $pid) did not stop within 60 s; killing it" >&2
    kill -KILL "$pid"
  fi
  rm -f "$PID_FILE"
  echo "docker-engine: stopped (pid $pid)" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if engine_answers; then echo running; else echo 'not running'; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
