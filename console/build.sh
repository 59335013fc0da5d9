#!/usr/bin/env bash
# Builds the operator console (console/dist, served by the gateway at /console/) when its sources changed since
# the last build: npm ci from the committed lock when node_modules is missing or older than the lock, then
# `npm run build` (tsc, vite). Quiet when the build is up to date. `console/build.sh --force` always builds.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null 2>&1 || { echo "console: npm not found (scripts/install.sh installs nodejs and npm)" >&2; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  echo "console: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
stamp=dist/index.html
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && \
   [ -z "$(find src index.html vite.config.ts tsconfig.json package-lock.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
echo "console: building"
npm run --silent build 2>&1 | tail -n 25
echo "console: built into console/dist"
