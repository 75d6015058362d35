#!/usr/bin/env bash
# Issue 4's GPU checks in one go, for a session that is lent a CUDA machine (about 6-8 minutes on
# an H100/H200, plus the machine's start). Needs only python3 with torch, numpy, scipy, opencv
# and pytest there (no install of mocap: it runs from the source tree).
#
#   scripts/gpu_check.sh [OUTDIR]     # default $OUT (the device tool's) or /tmp/gpu_check
#
# Writes OUTDIR/bench_hmr2.json (scripts/bench_hmr2.py: the 4D-Humans-style loop against our
# variants, same random ViT-H weights, MFU against a measured bf16 matmul peak), the same table as
# text, and the CUDA tests' log (tests/test_hmr2.py: bf16 rotations within a degree of fp32, and
# the checkpoint-layout tests run there too).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-/tmp/gpu_check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())" \
  | tee -a "$out/gpu.txt"
"$py" -m pytest -q -p no:cacheprovider tests/test_hmr2.py \
  -k "cuda or released or identical or 6d or refused or imagenet or blur or square" 2>&1 | tee "$out/tests.log"
timeout 420 "$py" scripts/bench_hmr2.py --json "$out/bench_hmr2.json" 2>&1 | tee "$out/bench_hmr2.txt"
