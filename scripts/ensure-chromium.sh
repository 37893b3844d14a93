#!/usr/bin/env bash
# Debian's Chromium for the end-to-end tests; Playwright never downloads a browser here.
set -euo pipefail
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "ensure-chromium: installing Debian's chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
"${CHROMIUM_PATH:-/usr/bin/chromium}" --version
