#!/usr/bin/env bash
# RADIUS accounting: FreeRADIUS 3.2 + rlm_sql (PostgreSQL) versus radius-ingest -> Kafka, same packets, same
# generator. Needs Debian's freeradius, freeradius-postgresql and freeradius-utils; starts local infra if down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
exec .venv/bin/python bench/radius/run.py "$@"
