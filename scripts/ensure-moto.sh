#!/usr/bin/env bash
# An independent implementation of the AWS KMS API for the KMS master-key tests
# (apps/backend/tests/api/kms.rs): moto's server, pinned, from PyPI, in a virtual
# environment of its own outside the clone (its dependencies stay apart from the tools'
# Python). It checks every request's Signature Version 4 and encryption context.
# Prints the environment's folder; use it as MOTO_VENV.
set -euo pipefail
MOTO_VERSION=5.2.5
venv="${XDG_CACHE_HOME:-$HOME/.cache}/solace-tools/moto-$MOTO_VERSION"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/python" ]; then
  echo "ensure-moto: installing moto[server] $MOTO_VERSION from PyPI into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi
echo "$venv"
