#!/usr/bin/env bash
# The GPU path on a machine with an NVIDIA GPU: install the project in a fresh virtualenv, then
#   - a 60 s training on the demo corpus on CUDA (bf16 autocast, TF32, pinned memory, non-blocking copies),
#   - a 2-process DDP run (torchrun, NCCL) when two GPUs are present,
#   - generation on CUDA from each model (bf16 autocast),
# printing tokens/s (training and generation) and the adherence reached on 200 held-out prompts.
#
#   bench/gpu_check.sh                # BUDGET=60 PYTHON=python3.11 VENV=.venv-gpu OUT=<temp dir>
#
# Not run in development: no GPU was lent to the task that wrote it (see README, "The GPU path").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv-gpu}
BUDGET=${BUDGET:-60}
OUT=${OUT:-$(mktemp -d -t gpu-check-XXXXXX)}

if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: nvidia-smi not found; this script needs an NVIDIA GPU and its driver" >&2
    exit 2
fi
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch==2.13.0 from PyPI ships its CUDA libraries; PIP_INDEX_URL / PIP_EXTRA_INDEX_URL pick another build.
"$VENV/bin/python" -m pip install --quiet -e .
"$VENV/bin/python" -c 'import torch, sys; ok = torch.cuda.is_available(); print("torch", torch.__version__, "cuda", torch.version.cuda, "available", ok); sys.exit(0 if ok else 3)'

GPUS=$("$VENV/bin/python" -c 'import torch; print(torch.cuda.device_count())')
echo "gpu_check: $GPUS GPU(s), ${BUDGET}s per training run, output in $OUT"
"$VENV/bin/python" bench/gpu_check.py --device cuda --budget "$BUDGET" --processes 2 --out "$OUT"
