#!/usr/bin/env bash
# The HTTP write path through the gateway (POST /customers, /billing/invoices, /billing/payments; 32 clients)
# and its limit (a minimal FastAPI + asyncpg endpoint), on a private stack of its own (bss_testkit.system).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python bench/http/run.py "$@"
