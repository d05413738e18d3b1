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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
port="${DIXIAN_KAFKA_PORT:-9092}"
controller_port="${DIXIAN_KAFKA_CONTROLLER_PORT:-9093}"
kdir="${DIXIAN_KAFKA_DIR:-$repo/var/kafka}"
cache="${DIXIAN_CACHE_DIR:-$HOME/.cache/dixian}/kafka-$kafka_version"
heap="${DIXIAN_KAFKA_HEAP:-512m}"
timeout="${DIXIAN_KAFKA_START_TIMEOUT:-90}"
data="$kdir/data"
logs="$kdir/logs"
pidfile="$kdir/broker.pid"
bootstrap="127.0.0.1:$port"

say() { printf 'kafka: %s\n' "$*" >&2; }

libs_dir() {
  if [[ -n "${KAFKA_HOME:-}" && -d "$KAFKA_HOME/libs" ]]; then echo "$KAFKA_HOME/libs"; else echo "$cache/libs"; fi
}

fetch() {
  local libs; libs="$(libs_dir)"
  if [[ -z "${KAFKA_HOME:-}" && ! -f "$cache/.complete" ]]; then
    command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch Kafka $kafka_version; install it (apt-get install maven)"; exit 2; }
    say "fetching Apache Kafka $kafka_version from Maven Central into $cache"
    rm -rf "$cache/libs"; mkdir -p "$cache"
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$cache/libs" >"$cache/mvn.log" 2>&1 \
      || { say "Maven failed, see $cache/mvn.log"; tail -20 "$cache/mvn.log" >&2; exit 2; }
    touch "$cache/.complete"
  fi
  # The probe is compiled against whichever libs the broker runs on.
  local probe_dir="$cache/probe"
  if [[ ! -f "$probe_dir/Probe.class" || "$here/Probe.java" -nt "$probe_dir/Probe.class" ]]; then
    mkdir -p "$probe_dir"
    javac -nowarn -d "$probe_dir" -cp "$libs/*" "$here/Probe.java"
  fi
}

pid_alive() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

probe() { java -Xmx64m -cp "$cache/probe:$(libs_dir)/*" Probe "$bootstrap" "$@" 2>/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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
  local cp; cp="$(libs_dir)/*"
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" org.apache.kafka.common.Uuid 2>/dev/null || true)"
    [[ -n "$cluster_id" ]] || cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | cut -c1-22)"
    say "formatting storage in $data (cluster id $cluster_id)"
    java -Xmx128m -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$logs" -cp "$cp" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$kdir/server.properties" >"$logs/format.log" 2>&1 \
      || { say "storage format failed, see $logs/format.log"; cat "$logs/format.log" >&2; exit 2; }
  fi
  say "starting Apache Kafka $kafka_version on $bootstrap (heap $heap, logs in $logs)"
  # setsid: the broker must outlive the shell that started it (make, CI steps).
  setsid java -Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$logs" \
    -cp "$cp" kafka.Kafka "$kdir/server.properties" >"$logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
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
  [[ -f "$cache/probe/Probe.class" ]] || fetch
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
  if ! pid_alive; then rm -f "$pidfile"; say "not running"; return 0; fi
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then say "broker did not stop in 30s; killing"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
    sleep 0.2
  done
  rm -f "$pidfile"
  say "stopped"
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
