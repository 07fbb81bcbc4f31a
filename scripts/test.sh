#!/usr/bin/env bash
# The test command: lint, then every test (slow end-to-end ones included: real vLLM CPU server, real student
# training, real DVC). Run scripts/setup.sh first. Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VENV:-.venv}"
# the tests run `dvc`, `evokd` and the stages' `python` as subprocesses: they must be the environment's
export PATH="$(cd "$venv/bin" && pwd):$PATH" VIRTUAL_ENV="$(cd "$venv" && pwd)"
export DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ruff check evokd stages tests benchmarks scripts
python -m pytest "$@"
