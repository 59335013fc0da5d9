#!/usr/bin/env bash
# Read-side apply rate: reporting, billing and radius-ingest's tracker draining a backlog of real events on
# Kafka, reporting's rebuild, each against a COPY of its resulting rows. Starts local infra if it is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
. deploy/local/env.sh
exec .venv/bin/python bench/apply/run.py "$@"
