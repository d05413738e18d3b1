# Shared by kafka.sh (the single-node broker) and cluster.sh (three brokers with TLS and SASL):
# where the jars come from and how a broker JVM is started and stopped. Sourced, not run.

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")"
cache="${DIXIAN_CACHE_DIR:-$HOME/.cache/dixian}/kafka-$kafka_version"
heap="${DIXIAN_KAFKA_HEAP:-512m}"
timeout="${DIXIAN_KAFKA_START_TIMEOUT:-90}"
tools="$cache/probe"  # Probe and ClusterAdmin, compiled against the broker's own client jars

say() { printf '%s: %s\n' "${who:-kafka}" "$*" >&2; }

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
  local tool
  for tool in Probe ClusterAdmin; do
    if [[ ! -f "$tools/$tool.class" || "$here/$tool.java" -nt "$tools/$tool.class" ]]; then
      mkdir -p "$tools"
      javac -nowarn -d "$tools" -cp "$libs/*" "$here/$tool.java"
    fi
  done
}

tool() { java -Xmx128m -cp "$tools:$(libs_dir)/*" "$@"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive_in() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# format_storage <properties> <logs dir> <cluster id> [StorageTool options...]
format_storage() {
  local props="$1" logs="$2" cluster_id="$3"; shift 3
  java -Xmx128m -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$logs" -cp "$(libs_dir)/*" \
    kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$props" "$@" >"$logs/format.log" 2>&1 \
    || { say "storage format failed, see $logs/format.log"; cat "$logs/format.log" >&2; exit 2; }
}

new_cluster_id() {
  # Kafka's own generator (it never starts an id with "-", which the format tool would read as an
  # option); a base64url fallback that does not either
  local id
  id="$(java -Xmx128m -cp "$(libs_dir)/*" kafka.tools.StorageTool random-uuid 2>/dev/null || true)"
  [[ "$id" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]] \
    || id="A$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | cut -c1-21)"
  echo "$id"
}

# launch_broker <properties> <logs dir> <pid file>: the JVM in its own session (it must outlive the
# shell that started it: make, CI steps)
launch_broker() {
  setsid java -Xms128m -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/log4j2.yaml" -Dkafka.logs.dir="$2" \
    -cp "$(libs_dir)/*" kafka.Kafka "$1" >"$2/stdout.log" 2>&1 </dev/null &
  echo $! >"$3"
}

# stop_pids <pid file>...: SIGTERM to all at once (a controlled shutdown; the brokers of a cluster
# stop together, or the last one waits for a quorum that is gone), SIGKILL after 30 s. Returns 1 when
# none was running.
stop_pids() {
  local f pids=()
  for f in "$@"; do
    if pid_alive_in "$f"; then pids+=("$(cat "$f")"); kill -TERM "${pids[-1]}" 2>/dev/null || true; fi
  done
  local deadline=$((SECONDS + 30)) pid
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if (( SECONDS >= deadline )); then say "pid $pid did not stop in 30s; killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
      sleep 0.2
    done
  done
  rm -f "$@"
  (( ${#pids[@]} > 0 ))
}
