#!/usr/bin/env bash
# Every benchmark, one after the other: each prints its table and writes bench/results/<name>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*/run.sh; do
  echo "== $b"
  "$b"
done
