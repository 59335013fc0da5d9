# shellcheck shell=bash
# Defaults for local mode (deploy/local/kafka.sh, deploy/local/postgres.sh). Source it: `. deploy/local/env.sh`.
# A variable that is already set wins, so exporting your own before sourcing overrides any of these.

# Local mode: the services accept the published default JWT_SECRET (in production they refuse to start with it).
export ENVIRONMENT="${ENVIRONMENT:-local}"
# The gateway's per-client rate limit (nginx syntax); local mode loads the demo from one address, so it is higher
# here than services.sh's default of 50r/s.
export GATEWAY_RATE_LIMIT="${GATEWAY_RATE_LIMIT:-500r/s}"
export KAFKA_PORT="${KAFKA_PORT:-59092}"
export PG_PORT="${PG_PORT:-55432}"
# Kafka nodes (kafka.sh): 1, or 3 for a cluster whose node i listens on KAFKA_PORT + 2(i-1).
export KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
  for ((_node = 2; _node <= KAFKA_BROKERS; _node++)); do
    KAFKA_BOOTSTRAP_SERVERS+=",127.0.0.1:$((KAFKA_PORT + 2 * (_node - 1)))"
  done
  unset _node
fi
export KAFKA_BOOTSTRAP_SERVERS
export PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://postgres:postgres@127.0.0.1:$PG_PORT/postgres}"

# One database per service; role = database = password (created by postgres.sh start).
export CUSTOMERS_DATABASE_URL="${CUSTOMERS_DATABASE_URL:-postgresql+asyncpg://customers:customers@127.0.0.1:$PG_PORT/customers}"
export BILLING_DATABASE_URL="${BILLING_DATABASE_URL:-postgresql+asyncpg://billing:billing@127.0.0.1:$PG_PORT/billing}"
export DUNNING_DATABASE_URL="${DUNNING_DATABASE_URL:-postgresql+asyncpg://dunning:dunning@127.0.0.1:$PG_PORT/dunning}"
export REPORTING_DATABASE_URL="${REPORTING_DATABASE_URL:-postgresql+asyncpg://reporting:reporting@127.0.0.1:$PG_PORT/reporting}"
export SUPPORT_DATABASE_URL="${SUPPORT_DATABASE_URL:-postgresql+asyncpg://support:support@127.0.0.1:$PG_PORT/support}"
export RADIUS_INGEST_DATABASE_URL="${RADIUS_INGEST_DATABASE_URL:-postgresql+asyncpg://radius_ingest:radius_ingest@127.0.0.1:$PG_PORT/radius_ingest}"
