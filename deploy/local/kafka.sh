#!/usr/bin/env bash
# Local Apache Kafka in KRaft mode on 127.0.0.1, no Docker: one node (broker + controller in one JVM), or with
# KAFKA_BROKERS=3 a cluster of three such combined nodes (a three-voter controller quorum, every topic on three
# brokers: the topic registry's replication factor 3 and min.insync.replicas=2).
#   kafka.sh start | stop | status | bootstrap | config [node] | logs [-f] [node]
# Jars come from Maven Central (deploy/local/kafka/pom.xml) into the state dir on first start.
# State: ${BSS_STATE_DIR:-/var/tmp/ispbss}/kafka: lib/ (the jars) and, for one node, data/, logs/, kafka.pid; for
# a cluster, node-1/ .. node-N/ each with its own data/, logs/, kafka.pid, and cluster-id (one id formats all).
# Ports: node i listens on KAFKA_PORT + 2(i-1), its controller on KAFKA_CONTROLLER_PORT + 2(i-1): by default
# 59092/59093 for one node, 59092/59093, 59094/59095, 59096/59097 for three.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$(realpath -m "${BSS_STATE_DIR:-/var/tmp/ispbss}/kafka")"
BROKERS="${KAFKA_BROKERS:-1}"
BASE_PORT="${KAFKA_PORT:-59092}"
BASE_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((BASE_PORT + 1))}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
if [ "$BROKERS" = 1 ]; then
  HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}"
else  # three JVMs on a developer's machine (or 2 CI cores): a smaller heap each
  HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx384m -Xms384m}"
fi
# Request threads: 2 network + 4 I/O suit this 2-core machine's tests; bench/radius passes other values to its
# private broker (--env KAFKA_NUM_IO_THREADS=2) to measure them.
NETWORK_THREADS="${KAFKA_NUM_NETWORK_THREADS:-2}"
IO_THREADS="${KAFKA_NUM_IO_THREADS:-4}"
POM="$HERE/kafka/pom.xml"
LIB="$STATE/lib"

# The node that the functions below act on (select_node i sets these).
NODE=1
PORT=$BASE_PORT
CONTROLLER_PORT=$BASE_CONTROLLER_PORT
DATA="$STATE/data"
LOGS="$STATE/logs"
CONF="$STATE/server.properties"
PIDFILE="$STATE/kafka.pid"

select_node() {
  local dir="$STATE"
  NODE=$1
  [ "$BROKERS" = 1 ] || dir="$STATE/node-$NODE"
  PORT=$((BASE_PORT + 2 * (NODE - 1)))
  CONTROLLER_PORT=$((BASE_CONTROLLER_PORT + 2 * (NODE - 1)))
  DATA="$dir/data"
  LOGS="$dir/logs"
  CONF="$dir/server.properties"
  PIDFILE="$dir/kafka.pid"
}

nodes() { seq 1 "$BROKERS"; }

# 127.0.0.1:port of every node, comma-separated (the clients' bootstrap list).
bootstrap() {
  local i list=""
  for i in $(nodes); do list+="${list:+,}127.0.0.1:$((BASE_PORT + 2 * (i - 1)))"; done
  echo "$list"
}

say() { if [ "$BROKERS" = 1 ]; then echo "kafka: $*"; else echo "kafka node $NODE: $*"; fi; }
die() { say "$*" >&2; exit 1; }

# The pid file is trusted only while it names a live Kafka JVM (guards against pid reuse).
pid_alive() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'
}

# True when the node answers a Metadata request listing at least $1 (default 1: its own) unfenced brokers.
# Plain python3 + sockets: ~50 ms, where a JVM admin tool costs ~2 s.
answers() {
  python3 - "$PORT" "${1:-1}" <<'PY'
import socket, struct, sys

client = b"ispbss-kafka-sh"
# Metadata v4 (not flexible): request header v1, empty topic list, allow_auto_topic_creation=false.
body = struct.pack(">hhih", 3, 4, 1, len(client)) + client + struct.pack(">ib", 0, 0)
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2) as sock:
        sock.settimeout(3)
        sock.sendall(struct.pack(">i", len(body)) + body)
        stream = sock.makefile("rb")
        (size,) = struct.unpack(">i", stream.read(4))
        correlation_id, _throttle_ms, brokers = struct.unpack(">iii", stream.read(size)[:12])
except (OSError, struct.error):
    sys.exit(1)
sys.exit(0 if correlation_id == 1 and brokers >= int(sys.argv[2]) else 1)
PY
}

fetch_jars() {
  local stamp want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  stamp="$LIB/.pom-sha256"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch the broker jars; run scripts/install.sh"
  say "fetching broker jars from Maven Central into $LIB (first start only; can take a few minutes)"
  local started=$SECONDS
  rm -rf "$LIB.tmp"
  if ! (cd "$HERE/kafka" && mvn -B -q dependency:copy-dependencies -DoutputDirectory="$LIB.tmp") >"$STATE/mvn.log" 2>&1; then
    tail -20 "$STATE/mvn.log" >&2
    die "fetching jars failed; full output in $STATE/mvn.log"
  fi
  echo "$want" >"$LIB.tmp/.pom-sha256"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
  say "fetched $(find "$LIB" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
}

# The settings that depend on the number of nodes. A cluster gets production's: every internal topic on three
# brokers and an acks=all write on two of them before it is acknowledged (the topics' own replication comes from
# the topic registry, bss_contracts.topics); a fenced broker is noticed in seconds (heartbeats every second,
# session 6 s; Kafka's defaults are 2 s and 9 s).
replication_config() {
  if [ "$BROKERS" = 1 ]; then
    cat <<EOF
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
EOF
  else
    local rf=$((BROKERS < 3 ? BROKERS : 3))
    local isr=$((rf > 2 ? 2 : 1))
    cat <<EOF
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
min.insync.replicas=$isr
unclean.leader.election.enable=false
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
EOF
  fi
}

voters() {
  local i list=""
  for i in $(nodes); do list+="${list:+,}$i@127.0.0.1:$((BASE_CONTROLLER_PORT + 2 * (i - 1)))"; done
  echo "$list"
}

write_config() {
  cat >"$CONF" <<EOF
# Generated by deploy/local/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=$NODE
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=3
$(replication_config)
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=$NETWORK_THREADS
num.io.threads=$IO_THREADS
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
EOF
}

# A cluster's nodes are formatted with one cluster id, made once and kept in $STATE/cluster-id.
cluster_id() {
  if [ "$BROKERS" = 1 ]; then
    java -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>>"$LOGS/format.log"
  else
    [ -s "$STATE/cluster-id" ] \
      || java -cp "$LIB/*" kafka.tools.StorageTool random-uuid >"$STATE/cluster-id" 2>>"$LOGS/format.log"
    cat "$STATE/cluster-id"
  fi
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  local id
  id="$(cluster_id)"
  say "formatting storage in $DATA (cluster id $id)"
  java -cp "$LIB/*" kafka.tools.StorageTool format -t "$id" -c "$CONF" >>"$LOGS/format.log" 2>&1 \
    || { cat "$LOGS/format.log" >&2; die "formatting storage failed"; }
}

launch() {
  local -a jvm_opts
  read -r -a jvm_opts <<<"$HEAP_OPTS"
  jvm_opts+=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
    -Dkafka.logs.dir="$LOGS" -Dlog4j.configuration="file:$HERE/kafka/log4j.properties")
  # setsid: the broker outlives the caller's process group (e.g. a pytest run that is interrupted).
  # 9>&-: the child must not inherit the start lock.
  setsid nohup java "${jvm_opts[@]}" -cp "$LIB/*" kafka.Kafka "$CONF" >>"$LOGS/stdout.log" 2>&1 9>&- &
  echo $! >"$PIDFILE"
}

# Ready: the node answers and lists every broker of the cluster as unfenced.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers "$BROKERS"; do
    if ! pid_alive; then
      tail -30 "$LOGS/server.log" "$LOGS/stdout.log" >&2 2>/dev/null || true
      die "the broker exited during start-up; logs in $LOGS"
    fi
    ((SECONDS < deadline)) || die "no answer listing $BROKERS broker(s) on 127.0.0.1:$PORT after ${START_TIMEOUT}s; logs in $LOGS"
    sleep 0.5
  done
}

# Launch the selected node unless it runs. Every node is launched before any is waited for: a cluster's node
# alone has no controller quorum.
launch_node() {
  pid_alive && return 0
  if [ -f "$PIDFILE" ]; then
    say "removing stale pid file (pid $(cat "$PIDFILE") is not this broker)"
    rm -f "$PIDFILE"
  fi
  answers && die "something else already answers on 127.0.0.1:$PORT; stop it or set KAFKA_PORT"
  command -v java >/dev/null || die "Java 17+ is needed; run scripts/install.sh"
  mkdir -p "$DATA" "$LOGS"
  fetch_jars
  write_config
  format_storage
  say "starting on 127.0.0.1:$PORT (controller $CONTROLLER_PORT, state $(dirname "$DATA"))"
  launch
  LAUNCHED+=("$NODE")
}

start() {
  local i started=$SECONDS
  LAUNCHED=()
  for i in $(nodes); do
    select_node "$i"
    launch_node
  done
  for i in $(nodes); do
    select_node "$i"
    wait_ready
    if [[ " ${LAUNCHED[*]} " == *" $i "* ]]; then
      say "ready in $((SECONDS - started)) s (pid $(cat "$PIDFILE"))"
    else
      say "already running on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
    fi
  done
  [ "$BROKERS" = 1 ] || echo "kafka: $BROKERS brokers, bootstrap $(bootstrap)"
}

stop_node() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    if [[ " ${TERMED[*]} " == *" $NODE "* ]]; then say "stopped"; else say "not running"; fi
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "no exit after 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

# Every node is sent its TERM before any is waited for: the last voters of a cluster stopped one by one would
# each wait for a quorum that is already gone.
stop() {
  local i
  TERMED=()
  for i in $(nodes); do
    select_node "$i"
    if pid_alive; then kill -TERM "$(cat "$PIDFILE")" && TERMED+=("$i"); fi
  done
  for i in $(nodes); do
    select_node "$i"
    stop_node
  done
}

status() {
  local i down=0
  for i in $(nodes); do
    select_node "$i"
    if pid_alive && answers "$BROKERS"; then
      say "up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
    elif pid_alive; then
      say "starting, unresponsive or not seeing all $BROKERS broker(s) (pid $(cat "$PIDFILE")); logs in $LOGS"
      down=1
    else
      say "down"
      down=1
    fi
  done
  return $((down * 3))
}

logs() {
  select_node "${2:-1}"
  [ -f "$LOGS/server.log" ] || die "no log yet at $LOGS/server.log"
  if [ "${1:-}" = "-f" ]; then exec tail -n 100 -F "$LOGS/server.log"; fi
  tail -n 100 "$LOGS/server.log"
}

# start and stop take a lock so that concurrent callers (two test runs, make) do not race.
locked() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "timed out waiting for another kafka.sh start/stop"
  "$@"
}

case "${1:-}" in
  start) locked start ;;
  stop) locked stop ;;
  status) status ;;
  bootstrap) bootstrap ;;
  config) select_node "${2:-1}"; CONF=/dev/stdout write_config ;;  # what a start writes for node $2 (tests)
  logs) logs "${2:-}" "${3:-}" ;;
  *) echo "usage: $0 start | stop | status | bootstrap | config [node] | logs [-f] [node]" >&2; exit 2 ;;
esac
