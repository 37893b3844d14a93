#!/usr/bin/env bash
# Schema-driven fuzzing: Schemathesis generates requests from the server's own OpenAPI
# document (/api/openapi.json) and checks every response against it — no 5xx, every
# status, content type, header and body as documented, authentication not ignored.
#
# The server runs as deployed, with every feature on so nothing answers "not set up"
# (503): the fake OpenAI-compatible upstream as its model, voice and transcription.
# The caller is a registered administrator with a room, a conversation and a second
# person in the room, so the fuzzer reaches the code behind the ids, not only 404s.
# With TEST_DATABASE_URL and TEST_REDIS_URL (scripts/ensure-services.sh) it runs on a
# fresh PostgreSQL database and Redis; otherwise on SQLite and the in-process cache.
#
#   SOLACE_BIN=… FAKE_UPSTREAM_BIN=… bash scripts/fuzz-api.sh [schemathesis options]
#
# FUZZ_EXAMPLES (default 40) sets the examples per operation; FUZZ_SEED a seed to
# replay a run (CI uses a fixed one, so a failure reproduces).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
solace="${SOLACE_BIN:-$target_dir/debug/solace}"
upstream_bin="${FAKE_UPSTREAM_BIN:-$target_dir/debug/examples/fake_upstream}"
examples="${FUZZ_EXAMPLES:-40}"
seed="${FUZZ_SEED:-20261130}"

work=$(mktemp -d)
pids=()
# shellcheck disable=SC2317 # runs on exit, through the trap
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${fuzz_db:-}" ]; then
    psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$fuzz_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

upstream_port=$(free_port)
FAKE_UPSTREAM_DELAY_MS=1 "$upstream_bin" "127.0.0.1:$upstream_port" 2>"$work/upstream.log" &
pids+=($!)

engine="SQLite + in-process cache"
db_env=(DATABASE_URL="sqlite://$work/solace.db")
if [ -n "${TEST_DATABASE_URL:-}" ] && [ -n "${TEST_REDIS_URL:-}" ]; then
  fuzz_db="solace_test_fuzz_$$"
  psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE \"$fuzz_db\"" >/dev/null
  db_env=(
    DATABASE_URL="$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$TEST_DATABASE_URL" "$fuzz_db")"
    REDIS_URL="$TEST_REDIS_URL"
    CACHE_KEY_PREFIX="fuzz$$:"
  )
  engine="PostgreSQL + Redis"
fi

port=$(free_port)
server_env=(
  "${db_env[@]}"
  DATA_DIR="$work/data"
  HOST=127.0.0.1 PORT="$port" PUBLIC_URL="http://127.0.0.1:$port"
  RTC_UDP_PORT=0
  LLM_BASE_URL="http://127.0.0.1:$upstream_port/v1" LLM_MODEL=fake
  TTS_PROVIDER=openai TTS_BASE_URL="http://127.0.0.1:$upstream_port/v1"
  STT_BASE_URL="http://127.0.0.1:$upstream_port/v1"
  # The fuzzer sends thousands of requests as one person from one address: the abuse
  # limits are tested elsewhere (tests/api/abuse_limits.rs) and lifted here.
  GUESTS_PER_HOUR=1000000 SIGNUPS_PER_HOUR=1000000 EVENTS_PER_MINUTE=1000000
  ROOMS_PER_HOUR=1000000 ROOM_TOKENS_PER_MINUTE=1000000 AI_MESSAGES_PER_MINUTE=1000000
  MAX_OPEN_REPLIES=1000
  LOG_FORMAT=json RUST_LOG=warn
)
env "${server_env[@]}" "$solace" serve >"$work/server.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.25
done
curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

# The caller: a registered administrator (cookie session and its CSRF token), and a
# second person (a guest) who joins the caller's room.
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
curl -fs -c "$work/admin.jar" -H 'Content-Type: application/json' \
  -d '{"email":"fuzz-admin@example.com","password":"a long fuzzing passphrase"}' \
  "$base/api/auth/signup" >/dev/null
env "${server_env[@]}" "$solace" admin grant fuzz-admin@example.com >/dev/null
session=$(awk '$6 == "solace_session" {print $7}' "$work/admin.jar")
csrf=$(curl -fs -b "$work/admin.jar" "$base/api/auth/me" | json 'd["csrf_token"]')
auth=(-H "Cookie: solace_session=$session" -H "X-CSRF-Token: $csrf")
room=$(curl -fs "${auth[@]}" -H 'Content-Type: application/json' -d '{"title":"Fuzzing room"}' \
  "$base/api/rooms" | json 'd["id"]')
curl -fs "${auth[@]}" -X POST "$base/api/rooms/$room/join" >/dev/null
curl -fs -c "$work/guest.jar" -X POST "$base/api/auth/guest" >/dev/null
guest=$(awk '$6 == "solace_session" {print $7}' "$work/guest.jar")
handle=$(curl -fs -H "Authorization: Bearer $guest" -X POST "$base/api/rooms/$room/join" |
  json 'd["you"]["handle"]')
conversation=$(curl -fs "${auth[@]}" -H 'Content-Type: application/json' -H 'Accept: application/json' \
  -d '{"content":"I had a long day and want to talk it through."}' "$base/api/ai/message")
chat=$(echo "$conversation" | json 'd["session_id"]')
reply=$(echo "$conversation" | json 'd["message"]["id"]')

# Real ids for the operations that take them; the fuzzer varies everything else.
cat >"$work/schemathesis.toml" <<TOML
[[operations]]
include-path-regex = "^/api/rooms/\\\\{id\\\\}"
parameters = { id = "$room", handle = "$handle" }

[[operations]]
include-path-regex = "^/api/chat/sessions/\\\\{id\\\\}"
parameters = { id = "$chat" }

[[operations]]
include-path-regex = "^/api/ai/messages/\\\\{id\\\\}"
parameters = { id = "$reply" }
TOML

echo "fuzz-api: Schemathesis against $engine, $examples examples per operation, seed $seed"
# Excluded: signing out (it would end the fuzzer's own session; tests/api/auth.rs covers
# it), and the positive_data_acceptance check — some valid-looking values are refused on
# purpose by rules JSON Schema cannot state (a password's strength, a confirmation that
# must be the pseudonym, invisible characters, text that is only spaces), each answered
# by a documented 4xx.
status=0
PYTHONPATH=scripts SCHEMATHESIS_HOOKS=fuzz_hooks st --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" \
  "${auth[@]}" \
  --checks all --exclude-checks positive_data_acceptance \
  --exclude-path-regex '^/api/auth/logout' \
  --max-examples "$examples" --seed "$seed" --workers 1 \
  --suppress-health-check all --no-color \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "fuzz-api: FAILED — server log follows" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
