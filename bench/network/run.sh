#!/usr/bin/env bash
# Network and usage analytics: peak concurrency, top users and online now through HTTP, read model vs query time,
# and the apply rate of the session backlog. Starts local infra if it is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
. deploy/local/env.sh
exec .venv/bin/python bench/network/run.py "$@"
