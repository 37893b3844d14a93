#!/usr/bin/env bash
# Deploy, smoke-test, and roll back automatically when the smoke test fails.
#
#   DEPLOY_CMD='fly deploy --image ghcr.io/acme/solace@sha256:new' \
#   ROLLBACK_CMD='fly deploy --image ghcr.io/acme/solace@sha256:old' \
#   SMOKE_URL=https://solace.example.org bash scripts/deploy/rollout.sh
#
# Settings (environment):
#   DEPLOY_CMD     puts the new release in front of people (required)
#   ROLLBACK_CMD   puts the previous release back (required)
#   SMOKE_URL      the public address to check with `solace smoke` (required)
#   SOLACE_BIN     the solace binary that runs the check (default: solace on PATH)
#   SMOKE_ARGS     extra arguments for `solace smoke`, e.g. "--ca-cert /path/root.crt"
#   SMOKE_ATTEMPTS how many times the new release may fail the check while it warms up
#                  (default 3, 5 s apart); the previous release is checked once
#   NOTIFY_CMD     run with the outcome ("deployed", "rolled-back", "rollback-failed") as
#                  its argument, e.g. a chat webhook
#
# Exit status: 0 deployed; 1 the new release failed and the previous one is back and
# healthy; 2 the rollback failed too (page someone).
set -euo pipefail

: "${DEPLOY_CMD:?DEPLOY_CMD is required}"
: "${ROLLBACK_CMD:?ROLLBACK_CMD is required}"
: "${SMOKE_URL:?SMOKE_URL is required}"
SOLACE_BIN="${SOLACE_BIN:-solace}"
SMOKE_ATTEMPTS="${SMOKE_ATTEMPTS:-3}"
read -r -a smoke_args <<<"${SMOKE_ARGS:-}"

say() { echo "rollout: $*"; }
notify() {
  if [ -n "${NOTIFY_CMD:-}" ]; then bash -c "$NOTIFY_CMD \"\$1\"" notify "$1" || say "notification failed"; fi
}
smoke() {
  local attempts=$1 try
  for ((try = 1; try <= attempts; try++)); do
    if "$SOLACE_BIN" smoke "${smoke_args[@]}" "$SMOKE_URL"; then return 0; fi
    if [ "$try" -lt "$attempts" ]; then
      say "smoke test failed (attempt $try of $attempts); trying again in 5 s"
      sleep 5
    fi
  done
  return 1
}

say "deploying"
bash -c "$DEPLOY_CMD"
say "smoke-testing $SMOKE_URL"
if smoke "$SMOKE_ATTEMPTS"; then
  say "deployed: the smoke test passed"
  notify deployed
  exit 0
fi

say "the new release failed its smoke test: rolling back"
bash -c "$ROLLBACK_CMD"
if smoke 1; then
  say "rolled back: the previous release is serving and passes the smoke test"
  notify rolled-back
  exit 1
fi
say "ROLLBACK FAILED: the previous release does not pass the smoke test either"
notify rollback-failed
exit 2
