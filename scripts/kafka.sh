#!/usr/bin/env bash
# A local Apache Kafka cluster (KRaft, combined broker+controller nodes) for tests, bench and
# trying kotel at scale. Everything lives under one directory D (default build/kafka):
#   D/config/server-N.properties   D/data/N/   D/logs/ (broker-N.log, broker-N.out)
#   D/tls/ (test CA, broker and client certificates, generated with openssl at `up`)
#   D/pids/N   D/env (bootstrap lists and credentials, for scripts to source)
#
#   scripts/kafka.sh up [--brokers N] [--partitions P] [--group-delay MS] [--dir D]
#       Fetches the broker's jars once (test/kafka/pom.xml pins the version) into
#       ${XDG_CACHE_HOME:-~/.cache}/kotel/kafka-<version>/, formats and starts N nodes
#       (default 3) on free loopback ports, waits until every broker is registered and every
#       listener accepts, creates otlp_spans, otlp_metrics and otlp_logs with P partitions
#       (default 4), and prints one bootstrap list per listener type:
#           PLAINTEXT=127.0.0.1:p1,...   SASL_PLAINTEXT=...   SSL=...   SASL_SSL=...
#       --group-delay: group.initial.rebalance.delay.ms, how long a new consumer group's first
#       rebalance waits for more members (default 0, so tests need not wait; Kafka's own
#       default, which production clusters run, is 3000).
#       SASL listeners take PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for user kotel; the SSL
#       listener requires a client certificate signed by the test CA, SASL_SSL does not.
#   scripts/kafka.sh down [--dir D]            stops every node (SIGTERM, then SIGKILL)
#   scripts/kafka.sh kill ID [--dir D]         SIGKILL one node
#   scripts/kafka.sh start ID [--dir D]        starts a stopped node; waits until it is back
#   scripts/kafka.sh status [--dir D]          one line per node; exit 1 if any is down
#   scripts/kafka.sh quota CLIENT_ID BYTES_PER_S [--dir D]
#       A producer byte-rate quota for one client.id, per broker (the brokers throttle it,
#       as a busy shared cluster or a slow link does): Kafka slower than its clients, on
#       purpose. BYTES_PER_S 0 removes the quota.
#
# Replication: default.replication.factor = min(N,3); min.insync.replicas = 2 when N >= 3.
# auto.create.topics.enable = false, as operators run production clusters.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${KT_BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$here/$BUILD" ;; esac
ADMIN="$BUILD/kotel-kafka-admin"
POM="$here/test/kafka/pom.xml"
HEAP="${KT_KAFKA_HEAP:--Xmx384m}"
READY_TIMEOUT_S="${KT_KAFKA_READY_TIMEOUT:-120}"

die() { echo "kafka.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

cmd="${1:-}"
[ -n "$cmd" ] || usage 2
shift
brokers=3
partitions=4
group_delay=0
dir="${KT_KAFKA_DIR:-$here/build/kafka}"
id=""
rate=""
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) brokers="$2"; shift 2 ;;
    --partitions) partitions="$2"; shift 2 ;;
    --group-delay) group_delay="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) die "unknown option $1" ;;
    *)
      if [ -z "$id" ]; then id="$1"
      elif [ "$cmd" = quota ] && [ -z "$rate" ]; then rate="$1"
      else die "unexpected argument $1"; fi
      shift ;;
  esac
done
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
[[ "$brokers" =~ ^[1-9][0-9]*$ ]] && [ "$brokers" -le 9 ] || die "--brokers wants 1..9, got '$brokers'"
[[ "$partitions" =~ ^[1-9][0-9]*$ ]] || die "--partitions wants a positive number, got '$partitions'"
[[ "$group_delay" =~ ^[0-9]+$ ]] || die "--group-delay wants milliseconds (0 or more), got '$group_delay'"

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"
[ -n "$version" ] || die "$POM: no <kafka.version>"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kotel/kafka-$version"

# ---- jars ----

fetch_jars() {
  if [ -f "$cache/.complete" ]; then return; fi
  command -v mvn >/dev/null || die "mvn not found (Maven fetches the broker's jars)"
  command -v java >/dev/null || die "java not found (Apache Kafka $version needs Java 17)"
  echo "kafka.sh: fetching Apache Kafka $version jars into $cache" >&2
  rm -rf "$cache.tmp"
  mkdir -p "$cache.tmp"
  # The pom lives in the work tree; Maven's own files (target/) must not.
  (cd "$cache.tmp" && mvn -q -B -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$cache.tmp/libs" >"$cache.tmp/mvn.log" 2>&1) ||
    { cat "$cache.tmp/mvn.log" >&2; die "mvn could not fetch org.apache.kafka:kafka_2.13:$version"; }
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
  touch "$cache/.complete"
}

java_run() { # java_run [-Dprop=value...] CLASS ARGS...: the broker's classpath and log config
  java $HEAP -cp "$cache/libs/*" -Dlog4j.configuration="file:$dir/config/log4j.properties" \
    -Dkafka.logs.dir="$dir/logs" -Dkotel.node=tool "$@"
}

# ---- helpers ----

# free_ports K: K distinct loopback ports that were free a moment ago (all bound at once so
# they differ from each other).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_pid() { [ -f "$dir/pids/$1" ] && cat "$dir/pids/$1" || true; }

node_alive() {
  local pid
  pid="$(node_pid "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

load_state() {
  [ -f "$dir/state" ] || die "no cluster in $dir (run: scripts/kafka.sh up --dir $dir)"
  # shellcheck disable=SC1091
  . "$dir/state"
}

listener_port() { # listener_port NODE INDEX (0 PLAINTEXT, 1 SASL_PLAINTEXT, 2 SSL, 3 SASL_SSL, 4 CONTROLLER)
  local ports=(${PORTS[$(($1 - 1))]})
  echo "${ports[$2]}"
}

bootstrap() { # bootstrap INDEX: every node's port of that listener, comma-separated
  local out="" n
  for n in $(seq 1 "$NODES"); do
    out+="${out:+,}127.0.0.1:$(listener_port "$n" "$1")"
  done
  echo "$out"
}

tail_log() { tail -n 40 "$dir/logs/broker-$1.out" 2>/dev/null || true; }

# ---- TLS material: a test CA, one certificate per broker (SAN 127.0.0.1 and localhost, as
# librdkafka checks host names by default), a client certificate for the SSL listener, and a
# second, unrelated CA for "untrusted broker" tests. PKCS#8 keys, which Kafka's PEM key
# stores require. ----

make_tls() {
  local t="$dir/tls" n
  mkdir -p "$t"
  command -v openssl >/dev/null || die "openssl not found"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/ca.key" -out "$t/ca.crt" -days 30 \
    -subj "/CN=kotel test CA" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/other-ca.key" -out "$t/other-ca.crt" \
    -days 30 -subj "/CN=kotel unrelated CA" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$t/ext.cnf"
  for n in $(seq 1 "$NODES") client; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$t/$n.key" 2>/dev/null
    openssl req -new -key "$t/$n.key" -out "$t/$n.csr" -subj "/CN=kotel-$n" 2>/dev/null
    openssl x509 -req -in "$t/$n.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
      -out "$t/$n.crt" -days 30 -extfile "$t/ext.cnf" 2>/dev/null
    cat "$t/$n.key" "$t/$n.crt" >"$t/$n.pem"
    rm -f "$t/$n.csr"
  done
}

write_config() { # write_config NODE
  local n="$1" voters="" m rf min_isr
  for m in $(seq 1 "$NODES"); do
    voters+="${voters:+,}$m@127.0.0.1:$(listener_port "$m" 4)"
  done
  rf=$((NODES < 3 ? NODES : 3))
  min_isr=$((NODES >= 3 ? 2 : 1))
  local p0 p1 p2 p3 p4 jaas_plain jaas_scram
  p0=$(listener_port "$n" 0); p1=$(listener_port "$n" 1); p2=$(listener_port "$n" 2)
  p3=$(listener_port "$n" 3); p4=$(listener_port "$n" 4)
  jaas_plain="org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER=\"$SASL_PASSWORD\";"
  jaas_scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
  cat >"$dir/config/server-$n.properties" <<EOF
# Written by scripts/kafka.sh for a test cluster; not for production.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$p0,SASL_PLAINTEXT://127.0.0.1:$p1,SSL://127.0.0.1:$p2,SASL_SSL://127.0.0.1:$p3,CONTROLLER://127.0.0.1:$p4
advertised.listeners=PLAINTEXT://127.0.0.1:$p0,SASL_PLAINTEXT://127.0.0.1:$p1,SSL://127.0.0.1:$p2,SASL_SSL://127.0.0.1:$p3
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data/$n
num.partitions=$partitions
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=$group_delay
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
# A killed node is fenced, and its partitions led elsewhere, within seconds.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000

sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas_plain
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas_plain
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas_scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$jaas_scram

ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/$n.pem
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.crt
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
EOF
}

write_log4j() {
  cat >"$dir/config/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/broker-${kotel.node}.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
EOF
}

start_node() { # start_node NODE: starts it in the background, records its pid
  local n="$1"
  mkdir -p "$dir/logs" "$dir/pids"
  # setsid: a test runner's Ctrl-C to its process group must not kill the cluster mid-run;
  # `down` (or the runner's own cleanup) stops it.
  setsid java $HEAP -Xms64m -XX:+UseSerialGC -cp "$cache/libs/*" \
    -Dlog4j.configuration="file:$dir/config/log4j.properties" -Dkafka.logs.dir="$dir/logs" \
    -Dkotel.node="$n" kafka.Kafka "$dir/config/server-$n.properties" \
    >>"$dir/logs/broker-$n.out" 2>&1 </dev/null &
  echo $! >"$dir/pids/$n"
}

# wait_nodes IDS...: every listed node registered in the cluster metadata and each of its
# listeners accepting connections.
wait_nodes() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) n i pending
  for n in "$@"; do
    for i in 0 1 2 3; do
      while ! port_open "$(listener_port "$n" "$i")"; do
        node_alive "$n" || { tail_log "$n" >&2; die "node $n exited while starting (log: $dir/logs/broker-$n.out)"; }
        [ $SECONDS -lt $deadline ] || { tail_log "$n" >&2; die "node $n: listener $i not accepting after ${READY_TIMEOUT_S}s"; }
        sleep 0.2
      done
    done
  done
  while :; do
    pending=""
    for n in "$@"; do
      "$ADMIN" -b "$(bootstrap 0)" has-broker "$n" >/dev/null 2>&1 || pending+=" $n"
    done
    [ -z "$pending" ] && return 0
    for n in $pending; do
      node_alive "$n" || { tail_log "$n" >&2; die "node $n exited while starting"; }
    done
    [ $SECONDS -lt $deadline ] || die "node(s)$pending not registered after ${READY_TIMEOUT_S}s (logs in $dir/logs)"
    sleep 0.2
  done
}

write_env() {
  {
    echo "PLAINTEXT=$(bootstrap 0)"
    echo "SASL_PLAINTEXT=$(bootstrap 1)"
    echo "SSL=$(bootstrap 2)"
    echo "SASL_SSL=$(bootstrap 3)"
  } >"$dir/bootstrap"
  {
    cat "$dir/bootstrap"
    echo "KAFKA_DIR=$dir"
    echo "KAFKA_VERSION=$version"
    echo "KAFKA_BROKERS=$NODES"
    echo "KAFKA_PARTITIONS=$partitions"
    echo "KAFKA_SASL_USER=$SASL_USER"
    echo "KAFKA_SASL_PASSWORD=$SASL_PASSWORD"
    echo "KAFKA_CA_FILE=$dir/tls/ca.crt"
    echo "KAFKA_OTHER_CA_FILE=$dir/tls/other-ca.crt"
    echo "KAFKA_CLIENT_CERT=$dir/tls/client.crt"
    echo "KAFKA_CLIENT_KEY=$dir/tls/client.key"
  } >"$dir/env"
}

ensure_admin() {
  [ -x "$ADMIN" ] && return 0
  make -s -C "$here" "$BUILD/kotel-kafka-admin" >&2 || die "cannot build $ADMIN"
}

# ---- commands ----

cmd_up() {
  if [ -f "$dir/state" ]; then
    load_state
    local all=1 n
    for n in $(seq 1 "$NODES"); do node_alive "$n" || all=0; done
    if [ $all -eq 1 ]; then
      echo "kafka.sh: a cluster of $NODES node(s) already runs in $dir" >&2
      cat "$dir/bootstrap"
      return 0
    fi
    cmd_down
  fi
  fetch_jars
  ensure_admin
  NODES="$brokers"
  SASL_USER=kotel
  SASL_PASSWORD="kotel-secret-$RANDOM$RANDOM"
  rm -rf "$dir/data" "$dir/config" "$dir/tls" "$dir/pids" "$dir/logs"
  mkdir -p "$dir/config" "$dir/data" "$dir/logs" "$dir/pids"
  local all_ports n
  all_ports=($(free_ports $((NODES * 5))))
  PORTS=()
  for n in $(seq 0 $((NODES - 1))); do
    PORTS+=("${all_ports[*]:$((n * 5)):5}")
  done
  {
    echo "NODES=$NODES"
    echo "SASL_USER=$SASL_USER"
    echo "SASL_PASSWORD=$SASL_PASSWORD"
    printf 'PORTS=('
    printf '"%s" ' "${PORTS[@]}"
    printf ')\n'
  } >"$dir/state"
  make_tls
  write_log4j
  local cluster_id
  cluster_id="$(java_run kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  [ -n "$cluster_id" ] || die "kafka.tools.StorageTool random-uuid failed"
  for n in $(seq 1 "$NODES"); do
    write_config "$n"
    # SCRAM credentials go into the cluster metadata at format time (KRaft has no ZooKeeper
    # to hold them); PLAIN users are in the JAAS lines above.
    java_run -Dkotel.node="$n" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/config/server-$n.properties" \
      --add-scram "SCRAM-SHA-256=[name=\"$SASL_USER\",password=\"$SASL_PASSWORD\"]" \
      --add-scram "SCRAM-SHA-512=[name=\"$SASL_USER\",password=\"$SASL_PASSWORD\"]" \
      >>"$dir/logs/format.log" 2>&1 || { cat "$dir/logs/format.log" >&2; die "formatting node $n failed"; }
  done
  for n in $(seq 1 "$NODES"); do start_node "$n"; done
  wait_nodes $(seq 1 "$NODES")
  local rf=$((NODES < 3 ? NODES : 3))
  "$ADMIN" -b "$(bootstrap 0)" create otlp_spans otlp_metrics otlp_logs \
    --partitions "$partitions" --replication "$rf" >&2 || die "creating the otlp_* topics failed"
  write_env
  cat "$dir/bootstrap"
}

cmd_down() {
  [ -f "$dir/state" ] || { echo "kafka.sh: no cluster in $dir" >&2; return 0; }
  load_state
  local n pid pids=()
  for n in $(seq 1 "$NODES"); do
    pid="$(node_pid "$n")"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
      sleep 0.2
    done
  done
  rm -rf "$dir/data" "$dir/pids" "$dir/state" "$dir/env" "$dir/bootstrap"
  echo "kafka.sh: stopped ${#pids[@]} node(s) in $dir (logs kept in $dir/logs)" >&2
}

cmd_kill() {
  load_state
  [[ "$id" =~ ^[1-9]$ ]] && [ "$id" -le "$NODES" ] || die "kill: want a node id 1..$NODES"
  local pid
  pid="$(node_pid "$id")"
  node_alive "$id" || die "node $id is not running"
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$dir/pids/$id"
  echo "kafka.sh: node $id killed (SIGKILL)" >&2
}

cmd_start() {
  load_state
  [[ "$id" =~ ^[1-9]$ ]] && [ "$id" -le "$NODES" ] || die "start: want a node id 1..$NODES"
  node_alive "$id" && die "node $id is already running"
  ensure_admin
  start_node "$id"
  wait_nodes "$id"
  echo "kafka.sh: node $id is back" >&2
}

cmd_status() {
  load_state
  local n rc=0
  for n in $(seq 1 "$NODES"); do
    if node_alive "$n"; then
      echo "node $n up pid $(node_pid "$n") PLAINTEXT=127.0.0.1:$(listener_port "$n" 0)"
    else
      echo "node $n down"
      rc=1
    fi
  done
  return $rc
}

cmd_quota() {
  load_state
  [ -n "$id" ] || die "quota: want a client.id"
  [[ "$rate" =~ ^[0-9]+$ ]] || die "quota: want bytes per second, got '$rate'"
  local change=(--add-config "producer_byte_rate=$rate")
  [ "$rate" -gt 0 ] || change=(--delete-config producer_byte_rate)
  java_run kafka.admin.ConfigCommand --bootstrap-server "$(bootstrap 0)" --alter \
    "${change[@]}" --entity-type clients --entity-name "$id" >/dev/null ||
    die "quota: kafka-configs could not set producer_byte_rate=$rate for client.id $id"
  echo "kafka.sh: producer_byte_rate=$rate for client.id $id" >&2
}

case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  kill) cmd_kill ;;
  start) cmd_start ;;
  status) cmd_status ;;
  -h|--help|help) usage 0 ;;
  quota) cmd_quota ;;
  *) die "unknown command '$cmd' (up, down, kill, start, status, quota)" ;;
esac
