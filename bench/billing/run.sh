#!/usr/bin/env bash
# Bill run: N subscriptions on 20 plans (usage, overage, tax, credit) created through billing's HTTP API and its
# consumed events, closed and invoiced by the bill run; invoices/s against plain multi-row INSERTs of the same
# rows, with gapless numbering checked. Starts local infra if it is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
. deploy/local/env.sh
exec .venv/bin/python bench/billing/run.py "$@"
