#!/usr/bin/env bash
# Rehearses a failed deployment end to end, on this machine: release A serves behind
# Caddy (infra/caddy/Caddyfile as shipped, HTTPS with Caddy's local CA); release B, whose
# web app is missing (a realistic broken build: its process is healthy, its pages are
# not), is put in front through scripts/deploy/rollout.sh; the smoke test fails, A is put
# back, and a client polling the public address all along sees no failed request (Caddy's
# graceful reload can drop a connection that has not sent its request yet, about one poll
# in 400 here; the client tries such a request once more, as HTTP clients do, and the
# script reports how often that happened).
#
#   SOLACE_BIN=target/debug/solace bash scripts/deploy/rehearse-rollback.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

SOLACE_BIN="${SOLACE_BIN:?SOLACE_BIN must point at the built solace binary}"
command -v caddy >/dev/null || { echo "rehearse-rollback: caddy is missing (apt-get install caddy)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_a=$(free_port); port_b=$(free_port); port_https=$(free_port); port_http=$(free_port); port_admin=$(free_port)
public="https://localhost:$port_https"

# A web app with the pages the smoke test opens; release B ships without it.
for page in "" chat/ rooms/; do
  mkdir -p "$work/site/$page"
  echo "<!doctype html><html><title>Solace</title></html>" >"$work/site/${page}index.html"
done
mkdir -p "$work/empty"

release() { # name port static-dir
  env -i PATH="$PATH" HOME="$work" HOST=127.0.0.1 PORT="$2" APP_ENV=test RUST_LOG=warn \
    DATABASE_URL="sqlite://$work/solace.db" DATA_DIR="$work/data" STATIC_DIR="$3" \
    PUBLIC_URL="$public" TRUST_FORWARDED_FOR=true METRICS_ADDR=off RTC_UDP_PORT=0 RTC_TCP_PORT=0 \
    TTS_PROVIDER=off "$SOLACE_BIN" serve >"$work/$1.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "rehearse-rollback: release $1 did not start" >&2; cat "$work/$1.log" >&2; exit 1
}

caddy_env=(SOLACE_DOMAIN="localhost:$port_https" CADDY_TLS=internal CADDY_HTTPS_PORT="$port_https"
  CADDY_HTTP_PORT="$port_http" CADDY_ADMIN="localhost:$port_admin"
  XDG_DATA_HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy" HOME="$work")
switch_to() { # port: a graceful reload, open connections finish on the old upstream
  env "${caddy_env[@]}" SOLACE_UPSTREAM="127.0.0.1:$1" \
    caddy reload --adapter caddyfile --config infra/caddy/Caddyfile --address "localhost:$port_admin" 2>>"$work/caddy.log"
}

echo "rehearse-rollback: release A on :$port_a behind Caddy at $public"
release a "$port_a" "$work/site"
env "${caddy_env[@]}" SOLACE_UPSTREAM="127.0.0.1:$port_a" \
  caddy run --adapter caddyfile --config infra/caddy/Caddyfile >"$work/caddy.log" 2>&1 &
pids+=("$!")
root="$work/caddy/caddy/pki/authorities/local/root.crt"
for _ in $(seq 100); do
  [ -f "$root" ] && curl -fsS --cacert "$root" "$public/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS --cacert "$root" "$public/healthz" >/dev/null || { echo "rehearse-rollback: Caddy did not serve" >&2; cat "$work/caddy.log" >&2; exit 1; }

# A client polling the public address through the whole rollout. Like a browser or any
# HTTP client, it sends an idempotent request again once when the connection is dropped
# before an answer; the retries are counted and reported.
poll_once() { curl -s -o /dev/null -w '%{http_code} %{errormsg}\n' --max-time 5 --cacert "$root" "$public/readyz" || true; }
: >"$work/poll.log"
: >"$work/retries.log"
(
  while [ ! -f "$work/stop" ]; do
    answer=$(poll_once)
    if [ "${answer%% *}" != 200 ]; then
      echo "$answer" >>"$work/retries.log"
      answer=$(poll_once)
    fi
    echo "$answer" >>"$work/poll.log"
    sleep 0.05
  done
) &
pids+=("$!")

echo "rehearse-rollback: release B (its web app is missing) on :$port_b"
release b "$port_b" "$work/empty"

sleep 2 # the client has been polling release A alone for a while
status=0
DEPLOY_CMD="$(declare -f switch_to); $(declare -p caddy_env work port_admin); switch_to $port_b" \
ROLLBACK_CMD="$(declare -f switch_to); $(declare -p caddy_env work port_admin); switch_to $port_a" \
SMOKE_URL="$public" SMOKE_ARGS="--ca-cert $root --timeout 10" SMOKE_ATTEMPTS=1 SOLACE_BIN="$SOLACE_BIN" \
  bash scripts/deploy/rollout.sh >"$work/rollout.log" 2>&1 || status=$?
sleep 2 # and goes on polling release A after the rollback
touch "$work/stop"
sleep 0.5
cat "$work/rollout.log"

failed=0
[ "$status" -eq 1 ] || { echo "rehearse-rollback: FAIL — rollout exited $status, expected 1 (rolled back)" >&2; failed=1; }
grep -q "FAIL web app" "$work/rollout.log" || { echo "rehearse-rollback: FAIL — the smoke test did not catch release B's missing web app" >&2; failed=1; }
# Release A is what people reach now.
"$SOLACE_BIN" smoke --ca-cert "$root" "$public" >/dev/null || { echo "rehearse-rollback: FAIL — release A is not serving after the rollback" >&2; failed=1; }
requests=$(wc -l <"$work/poll.log")
bad=$(grep -vc '^200 ' "$work/poll.log" || true)
retried=$(wc -l <"$work/retries.log")
echo "rehearse-rollback: the polling client made $requests requests during the rollout; $retried needed a second try$( [ "$retried" -eq 0 ] || echo " ($(sort "$work/retries.log" | uniq -c | tr -s ' ' | tr '\n' ';'))"); $bad failed"
[ "$requests" -ge 20 ] || { echo "rehearse-rollback: FAIL — too few polls to say anything ($requests)" >&2; failed=1; }
[ "$bad" -eq 0 ] || { echo "rehearse-rollback: FAIL — requests failed during the switch: $(grep -v '^200 ' "$work/poll.log" | sort | uniq -c | tr '\n' ' ')" >&2; failed=1; }
if [ "$failed" -ne 0 ]; then
  echo "--- caddy.log (last errors)"; grep -v '"level":"info"' "$work/caddy.log" | tail -n 10 | cut -c1-300
  exit 1
fi
echo "rehearse-rollback: passed — B failed its smoke test, A is back, no request failed"
