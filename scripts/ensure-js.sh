#!/usr/bin/env bash
# Installs pnpm (pinned by package.json's packageManager) when missing, then the
# workspace's JS dependencies from the lockfile. Quick when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1

if ! command -v node >/dev/null 2>&1; then
  echo "ensure-js: Node.js 20+ is required (https://nodejs.org or your package manager)" >&2
  exit 1
fi
wanted=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$wanted" ]; then
  echo "ensure-js: installing pnpm $wanted from the npm registry"
  npm install --global --no-fund --no-audit "pnpm@$wanted" >/dev/null
fi
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile --prefer-offline
else
  pnpm install --prefer-offline
fi
