#!/usr/bin/env bash
# Revenue analytics: subscription, invoice and payment events through Kafka into the reporting service; MRR as
# of a day and 24 months of movements from the read models vs the same figures computed at query time over
# billing-like raw tables; the read model's apply rate. Starts local infra if it is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/postgres.sh start >/dev/null
deploy/local/kafka.sh start >/dev/null
. deploy/local/env.sh
exec .venv/bin/python bench/analytics/run.py "$@"
