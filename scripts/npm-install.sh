#!/usr/bin/env bash
# Installs the npm dependencies (among them the pinned Node.js) when missing or older than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "mailfleet: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
