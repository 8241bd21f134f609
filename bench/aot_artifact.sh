#!/usr/bin/env bash
# AOT artifact size, `dlc compile` time and model load (MODEL_create) time
# for ResNet-18 (torchvision, random weights, ONNX via torch.onnx.export).
# Needs the reference environment with torch (scripts/reference-env.sh --torch).
# Usage: bench/aot_artifact.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
work=${2:-$(mktemp -d)}
mkdir -p "$work"
dlc=$build/tools/dlc
rtdir=$(dirname "$(ls "$build"/exec/libdlc_runtime.so)")
py=$src/build-ref/venv/bin/python3
if [ ! -f "$work/resnet18.onnx" ]; then
  "$py" - "$work/resnet18.onnx" <<'PY'
import sys, torch, torchvision
sys.path.insert(0, "bench")
torch.manual_seed(0)
m = torchvision.models.resnet18(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(m, (x,), sys.argv[1], input_names=["input"],
                  output_names=["output"], opset_version=17, dynamo=False)
PY
fi
ls -l "$work/resnet18.onnx"
/usr/bin/time -f "dlc compile: %e s wall, %M KiB max RSS" \
  "$dlc" compile "$work/resnet18.onnx" -o "$work/resnet18.so" --name resnet18
ls -l "$work/resnet18.so"
cc -std=c99 -O2 -I"$src/exec" -I"$work" -DMODEL=resnet18 \
  -DMODEL_HEADER='"resnet18.h"' "$src/bench/aot_load.c" "$work/resnet18.so" \
  -Wl,-rpath,"$work" -L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime \
  -o "$work/aot_load"
# The artifact's RUNPATH names the runtime of the dlc that made it; load the
# one of BUILD_DIR (LD_LIBRARY_PATH comes first).
LD_LIBRARY_PATH=$rtdir "$work/aot_load" 5
