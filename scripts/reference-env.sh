#!/usr/bin/env bash
# Makes build-ref/venv: a Python environment with numpy, onnx and onnxruntime
# from PyPI, used only by the reference tests and benchmarks (dlc itself never
# needs it). Best effort: without PyPI it says so and the reference tests are
# skipped with a message. PyTorch, torchvision and onnxscript (for the
# benchmarks and the model-export scripts) come only with --torch: they are
# large. nvidia-cuda-nvcc-cu12 brings `ptxas`, which the GPU code generator's
# tests use to check generated PTX without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=build-ref/venv
PKGS=(numpy onnx onnxruntime nvidia-cuda-nvcc-cu12)
if [ "${1:-}" = "--torch" ]; then PKGS+=(torch torchvision onnxscript); fi

if [ ! -x "$VENV/bin/python3" ]; then
  mkdir -p build-ref
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    echo "reference-env: python3 -m venv failed (is python3-venv installed?); reference tests will be skipped"
    exit 0
  fi
fi
missing=()
for p in "${PKGS[@]}"; do
  if [ "$p" = nvidia-cuda-nvcc-cu12 ]; then # no module to import: its ptxas
    ls "$VENV"/lib/python3*/site-packages/nvidia/cuda_nvcc/bin/ptxas >/dev/null 2>&1 ||
      missing+=("$p")
    continue
  fi
  "$VENV/bin/python3" -c "import $p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "reference-env: ${PKGS[*]} present"
  exit 0
fi
echo "reference-env: installing ${missing[*]} into $VENV"
if ! "$VENV/bin/pip" install -q --disable-pip-version-check "${missing[@]}"; then
  echo "reference-env: pip could not install ${missing[*]}; the tests that need them will be skipped"
fi
exit 0
