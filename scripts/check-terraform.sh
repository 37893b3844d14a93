#!/usr/bin/env bash
# Static checks of the Terraform in infra/terraform, with no AWS account and no network
# beyond PyPI:
#   1. every .tf file parses (python-hcl2);
#   2. structure: each module and environment has main/variables/outputs/versions.tf and a
#      README.md, every variable has a description and a type, every output a description,
#      every checkov skip a reason;
#   3. checkov finds no failed check (a check that does not apply is skipped inline, in
#      the resource, with its reason);
#   4. terraform fmt -check, init -backend=false and validate, when terraform is on PATH
#      (the GitHub workflow installs it; a machine without it skips this step).
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION=3.3.30
PYTHON_HCL2_VERSION=8.1.4
TF_DIR=infra/terraform
TOOLS_DIR="${SOLACE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/solace-terraform}"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# checkov depends on bc-python-hcl2, which installs the same `hcl2` package as
# python-hcl2, so each tool gets a virtual environment of its own.
ensure_tool() { # <venv name> <package> <version>
  local venv="$TOOLS_DIR/$1" package=$2 version=$3
  if [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" -c 'import sys; from importlib.metadata import version; sys.exit(version(sys.argv[1]) != sys.argv[2])' \
      "$package" "$version" 2>/dev/null; then
    return
  fi
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "check-terraform: installing python3-venv from Debian"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  echo "check-terraform: installing $package $version from PyPI into $venv"
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version"
}

ensure_tool hcl2 python-hcl2 "$PYTHON_HCL2_VERSION"
ensure_tool checkov checkov "$CHECKOV_VERSION"

echo "check-terraform: parsing every .tf file (python-hcl2 $PYTHON_HCL2_VERSION) and checking the layout"
"$TOOLS_DIR/hcl2/bin/python" - "$TF_DIR" <<'PY'
import pathlib
import re
import sys

import hcl2

root = pathlib.Path(sys.argv[1])
problems = []


def name_of(key):
    # python-hcl2 8 keeps the quotes of block labels; 7 does not.
    return key.strip('"')


def blocks(parsed, kind):
    for entry in parsed.get(kind, []):
        for label, body in entry.items():
            yield name_of(label), body


files = sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)
if not files:
    sys.exit(f"no .tf files under {root}")
parsed = {}
for path in files:
    try:
        with path.open() as f:
            parsed[path] = hcl2.load(f)
    except Exception as error:  # any parse failure names the file
        problems.append(f"{path}: does not parse: {error}")

units = sorted(
    [d for d in (root / "modules").iterdir() if d.is_dir()]
    + [d for d in (root / "envs").iterdir() if d.is_dir()]
)
for unit in units:
    for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        if not (unit / required).is_file():
            problems.append(f"{unit}: {required} is missing")
    versions = parsed.get(unit / "versions.tf", {})
    terraform = [t for t in versions.get("terraform", [])]
    if not any("required_version" in t for t in terraform):
        problems.append(f"{unit}/versions.tf: no required_version")
    providers = [p for t in terraform for p in t.get("required_providers", [])]
    aws = [p["aws"] for p in providers if "aws" in p]
    if not aws or not str(aws[0].get("version", "")).strip('"').startswith("~> 5."):
        problems.append(f"{unit}/versions.tf: the aws provider must be pinned to ~> 5.x")

for path, content in parsed.items():
    for name, body in blocks(content, "variable"):
        for attribute in ("description", "type"):
            if attribute not in body:
                problems.append(f"{path}: variable {name} has no {attribute}")
    for name, body in blocks(content, "output"):
        if "description" not in body:
            problems.append(f"{path}: output {name} has no description")
    for module_name, body in blocks(content, "module"):
        source = str(body.get("source", "")).strip('"')
        if not source.startswith("../"):
            problems.append(f"{path}: module {module_name} uses {source}; only local modules can be checked here")

# A skip needs a reason that says why the check does not apply.
skip = re.compile(r"checkov:skip=(CKV2?_[A-Z]+_\d+)(?::\s*(.*))?")
for path in files:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = skip.search(line)
        if match and len((match.group(2) or "").strip()) < 30:
            problems.append(f"{path}:{number}: skip of {match.group(1)} without a real reason")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"check-terraform: {len(files)} files parse; {len(units)} modules/environments are complete")
PY

echo "check-terraform: checkov $CHECKOV_VERSION (offline)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# No platform key and no downloads: only the open-source checks shipped in the package.
status=0
env -u BC_API_KEY "$TOOLS_DIR/checkov/bin/checkov" \
  -d "$TF_DIR" --framework terraform --quiet --compact \
  --download-external-modules false --skip-download >"$report" 2>&1 || status=$?
cat "$report"
summary=$(grep -E '^Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$report" || true)
if [ -z "$summary" ]; then
  echo "check-terraform: checkov printed no summary (exit $status)" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || ! grep -q 'Failed checks: 0,' <<<"$summary"; then
  echo "check-terraform: checkov failed: $summary" >&2
  exit 1
fi
echo "check-terraform: checkov: $summary"

if ! command -v terraform >/dev/null 2>&1; then
  echo "check-terraform: terraform is not installed here: fmt -check and validate skipped (they run wherever terraform is installed)"
  exit 0
fi

echo "check-terraform: terraform fmt -check ($(terraform version | head -n 1))"
terraform fmt -check -recursive -diff "$TF_DIR"

# init writes .terraform/ and a lock file: do it in a copy, never in the work tree.
work=$(mktemp -d)
cli_config=$(mktemp)
trap 'rm -rf "$report" "$work" "$cli_config"' EXIT
cp -R "$TF_DIR" "$work/terraform"
find "$work/terraform" -name .terraform -type d -prune -exec rm -rf {} +
# A machine without registry access may carry the provider in a local mirror.
mirror="${TF_PROVIDER_MIRROR:-/opt/tf-plugins}"
if [ -d "$mirror/registry.terraform.io/hashicorp/aws" ]; then
  cat >"$cli_config" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
EOF
  export TF_CLI_CONFIG_FILE="$cli_config"
  echo "check-terraform: providers from the local mirror $mirror"
fi
export TF_IN_AUTOMATION=1
for unit in "$work"/terraform/envs/* "$work"/terraform/modules/*; do
  echo "check-terraform: terraform validate ${unit#"$work"/terraform/}"
  terraform -chdir="$unit" init -backend=false -input=false -no-color >/dev/null
  terraform -chdir="$unit" validate -no-color
done
echo "check-terraform: all checks passed"
