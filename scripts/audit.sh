#!/usr/bin/env bash
# Dependency hygiene: cargo deny (licences, banned and duplicate crates, sources) over
# the Rust workspace, and known vulnerabilities in both dependency trees — RustSec's
# advisories through cargo deny, npm's through `pnpm audit --prod` (high or worse fails).
# The advisory databases live online (github.com, the npm audit endpoint): where they
# cannot be reached, that part says so loudly and is skipped; everything else still runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo deny reads the crates of every target platform offline: fetch them first (a
# fresh clone, or a new dependency, may need crates this machine has never downloaded).
cargo fetch --locked --quiet
# Errors in full; duplicate versions (a warning) as a one-line count.
cargo-deny --offline --log-level error check --hide-inclusion-graph licenses bans sources
echo "cargo deny: $(cargo-deny --offline check --hide-inclusion-graph bans 2>&1 | grep -c "warning\[duplicate\]") crates in more than one version (warned, not fatal)"

if timeout 120 cargo-deny fetch db >/dev/null 2>&1; then
  cargo-deny check --disable-fetch advisories
else
  echo "!! SKIPPED RustSec advisories: the advisory database (github.com/rustsec/advisory-db) cannot be fetched from here" >&2
fi

status=0
output=$(timeout 120 pnpm audit --prod --audit-level high 2>&1) || status=$?
if [ "$status" -eq 0 ]; then
  echo "$output" | tail -n 3
elif echo "$output" | grep -q "ERR_PNPM_AUDIT_BAD_RESPONSE\|ENOTFOUND\|ECONNREFUSED\|ETIMEDOUT"; then
  echo "!! SKIPPED pnpm audit: the registry's audit endpoint does not answer here ($(echo "$output" | grep -o 'responded with [0-9]*' | head -n 1))" >&2
else
  echo "$output" >&2
  exit "$status"
fi
