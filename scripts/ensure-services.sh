#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on loopback, starting them when they are
# installed but down. Prints the URLs the scale-path tests use.
# In CI (CI=true) a service that cannot be reached is an error; elsewhere it is a loud
# warning and the caller skips the scale-path run.
set -uo pipefail

PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
status=0

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() { # wait_for CHECK SECONDS
  local i
  for ((i = 0; i < $2 * 4; i++)); do "$1" && return 0; sleep 0.25; done
  return 1
}

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "ensure-services: starting PostgreSQL" >&2
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  fi
  wait_for pg_up 20 || { echo "ensure-services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; status=1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "ensure-services: starting Redis" >&2
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 || true
  fi
  wait_for redis_up 10 || { echo "ensure-services: Redis is not reachable on 127.0.0.1:6379" >&2; status=1; }
fi

if [ "$status" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ensure-services: FAILED — CI must test the PostgreSQL + Redis path" >&2
  else
    echo "ensure-services: WARNING — the PostgreSQL + Redis tests cannot run here" >&2
  fi
  exit 1
fi

# Test databases are created per test; drop the ones earlier runs left behind.
psql "$PG_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'solace_test_%'" 2>/dev/null |
  while read -r db; do
    [ -n "$db" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
  done

echo "TEST_DATABASE_URL=$PG_URL"
echo "TEST_REDIS_URL=$REDIS_URL"
