#!/usr/bin/env bash
# Start / stop the ISP BSS services, a local mail catcher and the nginx gateway in local mode (no Docker).
#   services.sh start | stop | status | banner | env <service>|ops
# Everything runs in the background (nohup) until `services.sh stop`; logs and pid files are in $STATE.
# REPLICAS=N runs N instances of every service (docs/deployment-local.md): the gateway spreads HTTP requests over
# them, their consumers share each topic's partitions (one consumer group per service), and radius-ingest's
# instances all bind the one RADIUS port (SO_REUSEPORT: the kernel spreads NAS over every worker of every one).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${BSS_STATE_DIR:-/var/tmp/ispbss}/services"
PY="$ROOT/.venv/bin/python"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
# Requests per client address at the gateway (nginx's rate syntax), the burst served at once above it, and the
# Retry-After (seconds) of a 429. docs/security.md.
GATEWAY_RATE_LIMIT="${GATEWAY_RATE_LIMIT:-50r/s}"
GATEWAY_RATE_BURST="${GATEWAY_RATE_BURST:-100}"
GATEWAY_RETRY_AFTER="${GATEWAY_RETRY_AFTER:-1}"
# Dunning's notices go to a local SMTP server that keeps every mail in a Maildir ($STATE/mail).
MAIL_PORT="${MAIL_PORT:-2525}"
# RFC 2866's accounting port needs root; others get an unprivileged one. The demo loader reads it from $STATE.
if [ -z "${RADIUS_PORT:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then RADIUS_PORT=1813; else RADIUS_PORT=11813; fi
fi
# shellcheck source=deploy/local/env.sh
source "$ROOT/deploy/local/env.sh"
mkdir -p "$STATE" "$STATE/bi-deliveries"  # BI schedules' directory destinations are relative to it

# HTTP ports: SERVICE_PORT_BASE + 1..6 (8101..8106 by default), + 7 the ops API (below); another base runs a second
# stack beside this one.
BASE="${SERVICE_PORT_BASE:-8100}"
# Instances of each service: replica r of a service listens on its port + 10(r-1) (8101, 8111, 8121, ...); its
# pid file and log are <service>.pid/.log for the first, <service>-<r>.pid/.log for the others.
REPLICAS="${REPLICAS:-1}"
[[ "$REPLICAS" =~ ^[1-9]$ ]] || { echo "REPLICAS must be 1..9, not '$REPLICAS'"; exit 2; }
# name  module  http-port  database-url-variable
SERVICES=(
  "customers customers $((BASE + 1)) CUSTOMERS_DATABASE_URL"
  "billing billing $((BASE + 2)) BILLING_DATABASE_URL"
  "dunning dunning $((BASE + 3)) DUNNING_DATABASE_URL"
  "reporting reporting $((BASE + 4)) REPORTING_DATABASE_URL"
  "radius-ingest radius_ingest $((BASE + 5)) RADIUS_INGEST_DATABASE_URL"
  "support support $((BASE + 6)) SUPPORT_DATABASE_URL"
)

# Settings of one service beyond the common ones (NAME=value words).
# customers answers the busiest writes (POST /customers, bench/http): HTTP server processes on its one port
# (bss_runtime.serve; it has no background workers that must run once) and, in each, a database pool as large
# as the requests it serves at once, so that connections are not opened and closed under load.
service_env() {
  case "$1" in
    customers)
      echo "HTTP_WORKERS=${CUSTOMERS_HTTP_WORKERS:-2} DB_POOL_SIZE=${CUSTOMERS_DB_POOL_SIZE:-32}" \
        "DB_MAX_OVERFLOW=${CUSTOMERS_DB_MAX_OVERFLOW:-8}"
      ;;
    dunning) echo "SMTP_HOST=127.0.0.1 SMTP_PORT=$MAIL_PORT" ;;
    reporting) echo "SMTP_HOST=127.0.0.1 SMTP_PORT=$MAIL_PORT BI_PUBLIC_BASE_URL=http://127.0.0.1:$GATEWAY_PORT BI_DELIVERY_DIRECTORY_ROOT=$STATE/bi-deliveries" ;;
    # Local mode polls for SLA breaches every 5 s (production: 30 s), so the demo's short urgent targets breach
    # while `make up` loads it.
    support) echo "BREACH_POLL_SECONDS=${BREACH_POLL_SECONDS:-5}" ;;
    radius-ingest) echo "RADIUS_HOST=${RADIUS_HOST:-127.0.0.1} RADIUS_PORT=$RADIUS_PORT" ;;
  esac
}

# A process that exited but was not reaped yet (a zombie: its parent was killed) is not running.
alive() { local st; st="$(ps -o stat= -p "$1" 2>/dev/null)" && [ -n "$st" ] && [ "${st:0:1}" != Z ]; }
running() { local pid; pid="$(cat "$1" 2>/dev/null)" && alive "$pid"; }

# Each service runs in a process group of its own (setsid), led by the pid in its pid file, so that its worker
# processes (radius-ingest's UDP workers and tracker) stop with it. A service killed with SIGKILL leaves its
# workers to notice and exit: a new start waits until the old group is empty (then kills what is left), so the
# new workers never share the UDP port or the database with the old ones.
group_alive() {
  local pid
  for pid in $(pgrep -g "$1" 2>/dev/null); do alive "$pid" && return 0; done
  return 1
}
wait_group_gone() {
  local name=$1 pgid=$2
  group_alive "$pgid" || return 0
  echo "$name: waiting for the processes of the previous run (group $pgid) to exit"
  for _ in $(seq 1 60); do group_alive "$pgid" || return 0; sleep 0.25; done
  kill -9 -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 1 20); do group_alive "$pgid" || return 0; sleep 0.25; done
}

# Run "$@ name module port dbvar" for every service.
each_service() {
  local row fields
  for row in "${SERVICES[@]}"; do
    read -r -a fields <<<"$row"
    "$@" "${fields[@]}"
  done
}

# Run "$@ instance module port dbvar service" for every instance of every service (instance: customers,
# customers-2, ...; port: the replica's).
each_instance() {
  local row fields r
  for row in "${SERVICES[@]}"; do
    read -r -a fields <<<"$row"
    for r in $(seq 1 "$REPLICAS"); do
      "$@" "$(instance_name "${fields[0]}" "$r")" "${fields[1]}" "$((fields[2] + 10 * (r - 1)))" "${fields[3]}" "${fields[0]}"
    done
  done
}
instance_name() { if [ "$2" = 1 ]; then echo "$1"; else echo "$1-$2"; fi; }

# Stops every instance that has a pid file, however many REPLICAS this run was given.
stop_service() {
  local pidfile
  for pidfile in "$STATE/$1.pid" "$STATE/$1"-[0-9].pid; do
    [ -f "$pidfile" ] && stop_pid "$(basename "$pidfile" .pid)" "$pidfile"
  done
  return 0
}

TERMED=" "  # the pid files whose process was sent its TERM already (a second TERM may force an exit)
term_pid() { running "$1" && kill "$(cat "$1")" 2>/dev/null && TERMED+="$1 "; return 0; }
term_service() {
  local pidfile
  for pidfile in "$STATE/$1.pid" "$STATE/$1"-[0-9].pid; do
    [ -f "$pidfile" ] && term_pid "$pidfile"
  done
  return 0
}

service_status() {
  if running "$STATE/$1.pid"; then echo "$1: running (http 127.0.0.1:$3)"; else echo "$1: stopped"; fi
}

# The environment an instance runs with beyond env.sh's: NAME=value words (`services.sh env <service>` prints
# them, with env.sh's, for tests that compare local mode with compose.yaml).
instance_env() {
  local name=$1 port=$2 dbvar=$3
  echo "SERVICE_NAME=$name HTTP_PORT=$port DATABASE_URL=${!dbvar} $(service_env "$name")"
}

start_service() {
  local name=$1 module=$2 port=$3 dbvar=$4 service=${5:-$1} pidfile="$STATE/$1.pid"
  if running "$pidfile"; then echo "$name: already running (pid $(cat "$pidfile"))"; return; fi
  [ -f "$pidfile" ] && wait_group_gone "$name" "$(cat "$pidfile")"
  echo "$name: starting on 127.0.0.1:$port"
  # shellcheck disable=SC2046  # instance_env's words are meant to split
  nohup setsid env $(instance_env "$service" "$port" "$dbvar") \
    "$PY" -m "$module" >>"$STATE/$name.log" 2>&1 &
  echo $! >"$pidfile"
}

wait_ready() {
  local name=$1 port=$3
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then echo "$name: ready"; return; fi
    if ! running "$STATE/$name.pid"; then echo "$name: exited; last log lines:"; tail -20 "$STATE/$name.log"; exit 1; fi
    sleep 0.5
  done
  echo "$name: not ready after 90 s; see $STATE/$name.log"; exit 1
}

# The ops API (bssctl serve: lag, dead letters, outbox backlogs, health; docs/operations.md) on SERVICE_PORT_BASE + 7,
# routed by the gateway at /ops/. Not a service: it owns no table; it reads the broker and every service's outbox
# with the same <SERVICE>_DATABASE_URL variables bssctl uses, and probes each service's /readyz.
OPS_PORT=$((BASE + 7))
ops_targets() {
  local row fields urls=()
  for row in "${SERVICES[@]}"; do
    read -r -a fields <<<"$row"
    urls+=("${fields[0]}=http://127.0.0.1:${fields[2]}")
  done
  local IFS=,; echo "${urls[*]}"
}

# The environment the ops API runs with beyond env.sh's ENVIRONMENT and KAFKA_BOOTSTRAP_SERVERS: NAME=value words
# (`services.sh env ops` prints them, for the test that compares local mode with compose.yaml). Every service's
# <SERVICE>_DATABASE_URL is named here although env.sh exports them all: these are what `bssctl outbox` reads.
ops_env() {
  local row fields
  echo "SERVICE_NAME=bssctl HTTP_PORT=$OPS_PORT OPS_SERVICE_URLS=$(ops_targets)"
  for row in "${SERVICES[@]}"; do
    read -r -a fields <<<"$row"
    echo "${fields[3]}=${!fields[3]}"
  done
}

start_ops() {
  local pidfile="$STATE/ops.pid"
  if running "$pidfile"; then echo "ops: already running (pid $(cat "$pidfile"))"; return; fi
  [ -f "$pidfile" ] && wait_group_gone ops "$(cat "$pidfile")"
  echo "ops: bssctl serve on 127.0.0.1:$OPS_PORT"
  # shellcheck disable=SC2046  # ops_env's words are meant to split
  nohup setsid env $(ops_env) "$PY" -m bssctl serve >>"$STATE/ops.log" 2>&1 &
  echo $! >"$pidfile"
}

start_mail() {
  local pidfile="$STATE/mail.pid"
  if running "$pidfile"; then echo "mail: already running (pid $(cat "$pidfile"))"; return; fi
  mkdir -p "$STATE/mail/tmp" "$STATE/mail/new" "$STATE/mail/cur"  # a Maildir
  nohup "$PY" -m aiosmtpd -n -l "127.0.0.1:$MAIL_PORT" -c aiosmtpd.handlers.Mailbox "$STATE/mail" \
    >>"$STATE/mail.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 40); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$MAIL_PORT") 2>/dev/null; then
      echo "mail: SMTP on 127.0.0.1:$MAIL_PORT, mails kept in $STATE/mail"; return
    fi
    running "$pidfile" || break
    sleep 0.25
  done
  echo "mail: did not start; see $STATE/mail.log"; exit 1
}

# The console's settings, served by the gateway at /console/config.json: its OIDC sign-in (authorization code +
# PKCE) against the issuer the services verify tokens of, when JWT_JWKS_URL is set (docs/security.md); the
# provider must know the public client CONSOLE_OIDC_CLIENT_ID with redirect URI <gateway>/console/.
write_console_config() {
  "$PY" - "$STATE/console-config.json" <<'PYEOF'
import json, os, sys
oidc = None
if os.environ.get("JWT_JWKS_URL"):
    oidc = {
        "issuer": os.environ.get("JWT_ISSUER", "ispbss"),
        "client_id": os.environ.get("CONSOLE_OIDC_CLIENT_ID", "ispbss-console"),
        "scope": os.environ.get("CONSOLE_OIDC_SCOPE", "openid"),
        "tenant_claim": os.environ.get("JWT_TENANT_CLAIM", "tenant_id"),
        "roles_claim": os.environ.get("JWT_ROLES_CLAIM", "roles"),
    }
with open(sys.argv[1], "w") as out:
    json.dump({"oidc": oidc}, out)
PYEOF
}

start_gateway() {
  local conf="$STATE/nginx.conf" pidfile="$STATE/nginx.pid"
  command -v nginx >/dev/null || { echo "gateway: nginx not found; run scripts/install.sh (nginx-light)"; exit 1; }
  mkdir -p "$STATE/nginx-tmp"
  local ports=() i r servers
  for i in 1 2 3 4 5 6; do  # every replica of service i in its upstream; a failed one is skipped for 2 s
    servers=""
    for r in $(seq 1 "$REPLICAS"); do servers+="server 127.0.0.1:$((BASE + i + 10 * (r - 1))) max_fails=1 fail_timeout=2s; "; done
    ports+=(-e "s#@SERVERS_$i@#$servers#g")
  done
  ports+=(-e "s#@SERVERS_7@#server 127.0.0.1:$OPS_PORT; #g")  # the ops API: one instance
  sed -e "s#@GATEWAY_PORT@#$GATEWAY_PORT#g" -e "s#@STATE@#$STATE#g" "${ports[@]}" \
    -e "s#@GATEWAY_RATE_LIMIT@#$GATEWAY_RATE_LIMIT#g" -e "s#@GATEWAY_RATE_BURST@#$GATEWAY_RATE_BURST#g" \
    -e "s#@GATEWAY_RETRY_AFTER@#$GATEWAY_RETRY_AFTER#g" -e "s#@CONSOLE_DIR@#$ROOT/console/dist#g" \
    "$ROOT/deploy/gateway/nginx.local.conf" >"$conf"
  cp "$ROOT/deploy/gateway/routes.conf" "$STATE/routes.conf"
  write_console_config
  # -e: errors go to our log from the start, not to /var/log/nginx (not writable without root)
  nginx -q -t -e "$STATE/nginx-error.log" -c "$conf"
  if running "$pidfile"; then nginx -e "$STATE/nginx-error.log" -c "$conf" -s reload; echo "gateway: reloaded"; return; fi
  nginx -e "$STATE/nginx-error.log" -c "$conf"
  for _ in $(seq 1 40); do
    if curl -fsS "http://127.0.0.1:$GATEWAY_PORT/healthz" >/dev/null 2>&1; then
      echo "gateway: http://127.0.0.1:$GATEWAY_PORT"; return
    fi
    sleep 0.25
  done
  echo "gateway: not answering; see $STATE/nginx-error.log"; exit 1
}

stop_pid() {
  local name=$1 pidfile=$2 pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 0
  if running "$pidfile"; then
    [[ "$TERMED" == *" $pidfile "* ]] || kill "$pid" 2>/dev/null
    for _ in $(seq 1 60); do running "$pidfile" || break; sleep 0.25; done
    running "$pidfile" && kill -9 "$pid"
    echo "$name: stopped"
  fi
  wait_group_gone "$name" "$pid"
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    echo "$RADIUS_PORT" >"$STATE/radius-port"
    "$ROOT/console/build.sh"  # the operator console the gateway serves at /console/ (rebuilt when changed)
    start_mail
    each_instance start_service
    start_ops
    each_instance wait_ready
    wait_ready ops bssctl "$OPS_PORT"
    start_gateway
    echo "console: http://127.0.0.1:$GATEWAY_PORT/console/"
    ;;
  stop)
    if running "$STATE/nginx.pid"; then
      nginx -e "$STATE/nginx-error.log" -c "$STATE/nginx.conf" -s quit
      for _ in $(seq 1 40); do running "$STATE/nginx.pid" || break; sleep 0.25; done
      echo "gateway: stopped"
    fi
    # Every instance is sent its TERM before any is waited for: each drains its consumers and relays at once,
    # instead of one after the other (a dozen instances with replicas).
    each_service term_service
    term_pid "$STATE/ops.pid"
    term_pid "$STATE/mail.pid"
    each_service stop_service
    stop_pid ops "$STATE/ops.pid"
    stop_pid mail "$STATE/mail.pid"
    ;;
  status)
    each_instance service_status
    service_status ops bssctl "$OPS_PORT"
    if running "$STATE/mail.pid"; then echo "mail: running (smtp 127.0.0.1:$MAIL_PORT)"; else echo "mail: stopped"; fi
    if running "$STATE/nginx.pid"; then echo "gateway: running (http://127.0.0.1:$GATEWAY_PORT)"; else echo "gateway: stopped"; fi
    ;;
  env)  # the variables an instance of service $2 (or the ops API: ops) gets: env.sh's that it reads, then its own
    row="$(printf '%s\n' "${SERVICES[@]}" | awk -v s="${2:-}" '$1 == s')"
    [ -n "$row" ] || [ "${2:-}" = ops ] || {
      echo "usage: $0 env customers|billing|dunning|reporting|radius-ingest|support|ops" >&2; exit 2
    }
    echo "ENVIRONMENT=$ENVIRONMENT"
    echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
    if [ "$2" = ops ]; then
      # shellcheck disable=SC2046  # one NAME=value per line
      printf '%s\n' $(ops_env)
    else
      read -r -a fields <<<"$row"
      # shellcheck disable=SC2046  # one NAME=value per line
      printf '%s\n' $(instance_env "${fields[0]}" "${fields[2]}" "${fields[3]}")
    fi
    ;;
  banner)
    cat "$STATE/demo-banner.txt" 2>/dev/null || echo "no demo loaded yet"
    ;;
  *) echo "usage: $0 start|stop|status|banner|env <service>|ops" >&2; exit 2 ;;
esac
