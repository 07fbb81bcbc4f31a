#!/usr/bin/env bash
# The test command: lint, then every test (slow end-to-end ones included: real vLLM CPU server, real student
# training, real DVC). Run scripts/setup.sh first. Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
export DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$venv/bin/ruff" check evokd stages tests benchmarks
"$venv/bin/python" -m pytest "$@"
