#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) for development, tests and the demo.
#
#   kafka.sh fetch           download the broker jars from Maven Central into the cache (idempotent)
#   kafka.sh start [--fresh] start the broker (formatting storage on first start) and wait until it
#                            answers a Metadata request; --fresh wipes the data directory first
#   kafka.sh status          version, cluster id and topics of the running broker; exit 1 if down
#   kafka.sh stop            stop the broker and wait until its JVM is gone
#
# Environment (all optional):
#   DIXIAN_KAFKA_PORT        client port                     (default 9092)
#   DIXIAN_KAFKA_CONTROLLER_PORT  KRaft controller port      (default 9093)
#   DIXIAN_KAFKA_DIR         data, logs and pid file         (default <repo>/var/kafka)
#   DIXIAN_CACHE_DIR         jar cache, outside git          (default ~/.cache/dixian)
#   DIXIAN_KAFKA_HEAP        JVM heap                        (default 512m)
#   DIXIAN_KAFKA_START_TIMEOUT  seconds to wait for ready    (default 90)
#   KAFKA_HOME               use this Apache Kafka distribution's libs/ instead of Maven's
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
port="${DIXIAN_KAFKA_PORT:-9092}"
controller_port="${DIXIAN_KAFKA_CONTROLLER_PORT:-9093}"
kdir="${DIXIAN_KAFKA_DIR:-$repo/var/kafka}"
data="$kdir/data"
logs="$kdir/logs"
pidfile="$kdir/broker.pid"
bootstrap="127.0.0.1:$port"

pid_alive() { pid_alive_in "$pidfile"; }

probe() { tool Probe "$bootstrap" "$@" 2>/dev/null; }

start() {
  local fresh=0
  [[ "${1:-}" == "--fresh" ]] && fresh=1
  fetch
  if pid_alive; then
    if probe >/dev/null; then say "already running (pid $(cat "$pidfile")) on $bootstrap"; return 0; fi
    say "pid $(cat "$pidfile") is alive but not answering; stopping it first"; stop
  fi
  for p in "$port" "$controller_port"; do
    if port_in_use "$p"; then say "port $p is taken by another process; set DIXIAN_KAFKA_PORT / DIXIAN_KAFKA_CONTROLLER_PORT"; exit 2; fi
  done
  if (( fresh )); then say "wiping $data"; rm -rf "$data"; fi
  mkdir -p "$data" "$logs"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data|g" \
      -e "s|@OFFSETS_PARTITIONS@|${DIXIAN_KAFKA_OFFSETS_PARTITIONS:-10}|g" \
      "$here/server.properties.in" >"$kdir/server.properties"
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id; cluster_id="$(new_cluster_id)"
    say "formatting storage in $data (cluster id $cluster_id)"
    format_storage "$kdir/server.properties" "$logs" "$cluster_id"
  fi
  say "starting Apache Kafka $kafka_version on $bootstrap (heap $heap, logs in $logs)"
  launch_broker "$kdir/server.properties" "$logs" "$pidfile"
  local deadline=$((SECONDS + timeout))
  until probe >/dev/null; do
    if ! pid_alive; then say "broker exited during start-up; last log lines:"; tail -30 "$logs/server.log" "$logs/stdout.log" >&2 || true; rm -f "$pidfile"; exit 1; fi
    if (( SECONDS >= deadline )); then say "not ready after ${timeout}s; see $logs/server.log"; stop; exit 1; fi
    sleep 0.5
  done
  say "ready in ${SECONDS}s (pid $(cat "$pidfile"))"
}

status() {
  if ! pid_alive && ! port_in_use "$port"; then echo "state=stopped"; echo "bootstrap=$bootstrap"; return 1; fi
  [[ -f "$tools/Probe.class" ]] || fetch
  local out
  if out="$(probe --topics)"; then
    echo "state=running"; echo "bootstrap=$bootstrap"
    pid_alive && echo "pid=$(cat "$pidfile")"
    echo "$out"
  else
    echo "state=not-answering"; echo "bootstrap=$bootstrap"; return 1
  fi
}

stop() {
  if stop_pids "$pidfile"; then say "stopped"; else say "not running"; fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
