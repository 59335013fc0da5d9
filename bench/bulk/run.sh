#!/usr/bin/env bash
# Bulk import throughput of the customers service (rows/s, events included) against plain INSERTs of the same
# rows. Starts local infra if it is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
. deploy/local/env.sh
exec .venv/bin/python bench/bulk/run.py "$@"
