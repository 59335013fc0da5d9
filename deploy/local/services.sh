#!/usr/bin/env bash
# Start / stop the ISP BSS services and the nginx gateway in local mode (no Docker).
#   services.sh start | stop | status | banner
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${BSS_STATE_DIR:-/var/tmp/ispbss}/services"
PY="$ROOT/.venv/bin/python"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
# shellcheck source=deploy/local/env.sh
source "$ROOT/deploy/local/env.sh"
mkdir -p "$STATE"

# name  module  http-port  database-url-variable
SERVICES=(
  "customers customers 8101 CUSTOMERS_DATABASE_URL"
  "billing billing 8102 BILLING_DATABASE_URL"
  "dunning dunning 8103 DUNNING_DATABASE_URL"
  "reporting reporting 8104 REPORTING_DATABASE_URL"
  "radius-ingest radius_ingest 8105 RADIUS_INGEST_DATABASE_URL"
)

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_service() {
  local name=$1 module=$2 port=$3 dbvar=$4 pidfile="$STATE/$1.pid"
  if running "$pidfile"; then echo "$name: already running (pid $(cat "$pidfile"))"; return; fi
  echo "$name: starting on 127.0.0.1:$port"
  SERVICE_NAME="$name" HTTP_PORT="$port" DATABASE_URL="${!dbvar}" \
    nohup "$PY" -m "$module" >>"$STATE/$name.log" 2>&1 &
  echo $! >"$pidfile"
}

wait_ready() {
  local name=$1 port=$3
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then echo "$name: ready"; return; fi
    if ! running "$STATE/$name.pid"; then echo "$name: exited; last log lines:"; tail -20 "$STATE/$name.log"; exit 1; fi
    sleep 0.5
  done
  echo "$name: not ready after 60 s; see $STATE/$name.log"; exit 1
}

start_gateway() {
  local conf="$STATE/nginx.conf" pidfile="$STATE/nginx.pid"
  mkdir -p "$STATE/nginx-tmp"
  sed -e "s#@GATEWAY_PORT@#$GATEWAY_PORT#g" -e "s#@STATE@#$STATE#g" \
    "$ROOT/deploy/gateway/nginx.local.conf" >"$conf"
  cp "$ROOT/deploy/gateway/routes.conf" "$STATE/routes.conf"
  if running "$pidfile"; then nginx -c "$conf" -s reload; echo "gateway: reloaded"; return; fi
  nginx -c "$conf"
  echo "gateway: http://127.0.0.1:$GATEWAY_PORT"
}

stop_pid() {
  local name=$1 pidfile=$2
  if running "$pidfile"; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 1 40); do running "$pidfile" || break; sleep 0.25; done
    running "$pidfile" && kill -9 "$(cat "$pidfile")"
    echo "$name: stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    for s in "${SERVICES[@]}"; do start_service $s; done
    for s in "${SERVICES[@]}"; do wait_ready $s; done
    start_gateway
    ;;
  stop)
    if running "$STATE/nginx.pid"; then nginx -c "$STATE/nginx.conf" -s quit; echo "gateway: stopped"; fi
    for s in "${SERVICES[@]}"; do set -- $s; stop_pid "$1" "$STATE/$1.pid"; done
    ;;
  status)
    for s in "${SERVICES[@]}"; do
      set -- $s
      if running "$STATE/$1.pid"; then echo "$1: running (http 127.0.0.1:$3)"; else echo "$1: stopped"; fi
    done
    if running "$STATE/nginx.pid"; then echo "gateway: running (http://127.0.0.1:$GATEWAY_PORT)"; else echo "gateway: stopped"; fi
    ;;
  banner)
    cat "$STATE/demo-banner.txt" 2>/dev/null || echo "no demo loaded yet"
    ;;
  *) echo "usage: $0 start|stop|status|banner" >&2; exit 2 ;;
esac
