#!/usr/bin/env bash
# AsyncAPI documents from each service's faststream application (what it consumes and publishes).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/asyncapi
for module in customers billing dunning reporting radius_ingest support; do
  if .venv/bin/python -c "import ${module}.entrypoints.app as a; assert hasattr(a, 'stream_app')" 2>/dev/null; then
    .venv/bin/faststream docs gen --yaml --factory "${module}.entrypoints.app:stream_app" \
      --out "docs/asyncapi/${module}.yaml" >/dev/null
    echo "docs/asyncapi/${module}.yaml"
  else
    echo "${module}: no stream_app factory yet" >&2
  fi
done
