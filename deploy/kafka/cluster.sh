#!/usr/bin/env bash
# Three Apache Kafka brokers (KRaft, each also a controller) with replication, TLS and SASL/SCRAM:
# the production shape, on one machine for development and tests (three JVMs, own ports and folders).
# `dixian cluster start` drives this script and then sets the users, the ACLs and the topics.
#
#   cluster.sh start [--fresh]  make the TLS material (a test CA) and the operator's password if
#                               missing, format storage on first start, start the three brokers and
#                               wait until all three answer an authenticated client
#   cluster.sh status           state of each node (exit 1 unless all three answer)
#   cluster.sh stop             stop the three brokers (controlled shutdown)
#   cluster.sh kill N           SIGKILL node N (1-3), as a machine dies: for fault tests
#   cluster.sh start-node N     start node N again after a kill
#   cluster.sh users | acls | list-acls
#                               run ClusterAdmin as the operator (stdin: see ClusterAdmin.java)
#   cluster.sh bootstrap        print the client bootstrap list
#
# Listeners of node N (ports from DIXIAN_CLUSTER_PORT, default 29092, step 10 per node):
#   CLIENT      base+10(N-1)    SASL_SSL, SCRAM-SHA-512: every dixian process and department
#   INTERNAL    base+10(N-1)+1  SSL with client certificates: replication between the brokers
#   CONTROLLER  base+10(N-1)+2  SSL with client certificates: the KRaft quorum
#
# Environment (all optional): DIXIAN_CLUSTER_DIR (default <repo>/var/cluster), DIXIAN_CLUSTER_PORT,
# DIXIAN_CACHE_DIR, DIXIAN_KAFKA_HEAP (per broker, default 512m), DIXIAN_KAFKA_START_TIMEOUT, KAFKA_HOME.
# Real certificates: put ca.pem and broker.pem (PKCS#8 key + chain, CN=dixian-broker) into
# $DIXIAN_CLUSTER_DIR/tls before the first start and no test CA is made.
set -euo pipefail

who=cluster
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cdir="${DIXIAN_CLUSTER_DIR:-$repo/var/cluster}"
base="${DIXIAN_CLUSTER_PORT:-29092}"
tls="$cdir/tls"
secrets="$cdir/secrets"
operator_props="$cdir/operator.properties"
nodes=(1 2 3)

client_port() { echo $((base + 10 * ($1 - 1))); }
bootstrap() { local n out=(); for n in "${nodes[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done; (IFS=,; echo "${out[*]}"); }
node_dir() { echo "$cdir/node$1"; }
pidfile() { echo "$(node_dir "$1")/broker.pid"; }

make_tls() {
  [[ -f "$tls/ca.pem" && -f "$tls/broker.pem" ]] && return 0
  command -v openssl >/dev/null || { say "openssl is needed to make the test CA (apt-get install openssl)"; exit 2; }
  say "making a test CA and the brokers' certificate in $tls"
  mkdir -p "$tls"; chmod 700 "$tls"
  local t; t="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 -subj "/CN=dixian test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=dixian-broker" -keyout "$t/broker.key" -out "$t/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$t/ext"
  openssl x509 -req -sha256 -days 825 -in "$t/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -CAserial "$t/ca.srl" -extfile "$t/ext" -out "$t/broker.crt" 2>/dev/null
  # Kafka's PEM key store: the unencrypted PKCS#8 key, then the certificate chain
  openssl pkcs8 -topk8 -nocrypt -in "$t/broker.key" | cat - "$t/broker.crt" "$tls/ca.pem" >"$tls/broker.pem"
  chmod 600 "$tls/ca.key" "$tls/broker.pem"
  rm -rf "$t"
}

operator_password() {
  local f="$secrets/operator.password"
  if [[ ! -s "$f" ]]; then
    mkdir -p "$secrets"; chmod 700 "$secrets"
    (umask 077; head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$f")
  fi
  cat "$f"
}

write_operator_props() {
  (umask 077; cat >"$operator_props" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="operator" password="$(operator_password)";
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
EOF
  )
}

write_node_props() {
  local n="$1" d; d="$(node_dir "$n")"
  local voters="" m
  for m in "${nodes[@]}"; do voters+="${voters:+,}$m@127.0.0.1:$(( $(client_port "$m") + 2 ))"; done
  local p; p="$(client_port "$n")"
  mkdir -p "$d/data" "$d/logs"
  cat >"$d/server.properties" <<EOF
# Node $n of the dixian cluster, written by deploy/kafka/cluster.sh.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=CLIENT://127.0.0.1:$p,INTERNAL://127.0.0.1:$((p + 1)),CONTROLLER://127.0.0.1:$((p + 2))
advertised.listeners=CLIENT://127.0.0.1:$p,INTERNAL://127.0.0.1:$((p + 1))
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$d/data
# TLS everywhere; the brokers prove who they are to each other with their certificate
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+)\$/\$1/,DEFAULT
# clients: SCRAM-SHA-512 over TLS, users kept in the cluster's metadata
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# what no ACL allows is refused
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:dixian-broker;User:operator
# three copies of every record, two of them acknowledged before a write counts (acks=all)
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0
# topics are kept for ever (retention.ms=-1 per topic): the queue store is rebuilt from them
log.retention.hours=-1
log.segment.bytes=134217728
EOF
}

probe() { tool Probe "$(bootstrap)" --config "$operator_props" "$@" 2>/dev/null; }

start_node() {
  local n="$1" d; d="$(node_dir "$n")"
  if pid_alive_in "$(pidfile "$n")"; then say "node $n already running (pid $(cat "$(pidfile "$n")"))"; return 0; fi
  launch_broker "$d/server.properties" "$d/logs" "$(pidfile "$n")"
  say "node $n started (pid $(cat "$(pidfile "$n")"), port $(client_port "$n"), logs in $d/logs)"
}

wait_ready() {
  local deadline=$((SECONDS + timeout)) out
  until out="$(probe)" && grep -qx "brokers=${#nodes[@]}" <<<"$out"; do
    local n
    for n in "${nodes[@]}"; do
      if ! pid_alive_in "$(pidfile "$n")"; then
        say "node $n exited during start-up; last log lines:"; tail -30 "$(node_dir "$n")/logs/server.log" >&2 || true; exit 1
      fi
    done
    if (( SECONDS >= deadline )); then say "not all brokers ready after ${timeout}s; see $cdir/node*/logs"; exit 1; fi
    sleep 1
  done
}

start() {
  local fresh=0
  [[ "${1:-}" == "--fresh" ]] && fresh=1
  fetch
  if (( fresh )); then stop_all; say "wiping the brokers' data in $cdir"; rm -rf "$cdir"/node*; fi
  local n
  for n in "${nodes[@]}"; do
    pid_alive_in "$(pidfile "$n")" && continue
    local p; p="$(client_port "$n")"
    for q in "$p" $((p + 1)) $((p + 2)); do
      if port_in_use "$q"; then say "port $q is taken by another process; set DIXIAN_CLUSTER_PORT"; exit 2; fi
    done
  done
  make_tls
  write_operator_props
  local cluster_id=""
  [[ -f "$cdir/cluster.id" ]] && cluster_id="$(cat "$cdir/cluster.id")"
  for n in "${nodes[@]}"; do
    write_node_props "$n"
    if [[ ! -f "$(node_dir "$n")/data/meta.properties" ]]; then
      if [[ -z "$cluster_id" || $fresh == 1 ]]; then cluster_id="$(new_cluster_id)"; echo "$cluster_id" >"$cdir/cluster.id"; fresh=0; fi
      say "formatting node $n (cluster id $cluster_id)"
      # the operator's SCRAM credential is in the metadata from the start; it sets the others
      format_storage "$(node_dir "$n")/server.properties" "$(node_dir "$n")/logs" "$cluster_id" \
        --add-scram "SCRAM-SHA-512=[name=operator,password=$(operator_password)]"
    fi
  done
  for n in "${nodes[@]}"; do start_node "$n"; done
  wait_ready
  say "ready in ${SECONDS}s: $(bootstrap) (SASL_SSL, CA $tls/ca.pem)"
}

status() {
  local n rc=0
  for n in "${nodes[@]}"; do
    if pid_alive_in "$(pidfile "$n")"; then echo "node$n=running pid=$(cat "$(pidfile "$n")") port=$(client_port "$n")"
    else echo "node$n=stopped"; rc=1; fi
  done
  echo "bootstrap=$(bootstrap)"
  [[ -f "$operator_props" ]] || return 1
  [[ -f "$tools/Probe.class" ]] || fetch
  probe --topics || rc=1
  return $rc
}

stop_all() {
  local n files=()
  for n in "${nodes[@]}"; do files+=("$(pidfile "$n")"); done
  if stop_pids "${files[@]}"; then say "stopped"; fi
}

kill_node() {
  local f; f="$(pidfile "$1")"
  pid_alive_in "$f" || { say "node $1 is not running"; exit 1; }
  local pid; pid="$(cat "$f")"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$f"
  say "node $1 killed"
}

admin() { [[ -f "$tools/ClusterAdmin.class" ]] || fetch; tool ClusterAdmin "$(bootstrap)" "$operator_props" "$1"; }

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop_all ;;
  status) status ;;
  kill) kill_node "${2:?node number}" ;;
  start-node) fetch; start_node "${2:?node number}" ;;
  users|acls|list-acls) admin "$1" ;;
  bootstrap) bootstrap ;;
  *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
