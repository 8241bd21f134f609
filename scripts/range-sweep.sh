#!/bin/sh
# The full run-time value range sweep (issue 13, bad input): every ONNX node
# test whose graph inputs feed shape-like operands, run through dlc::Model
# with those values mutated (negative, zero, huge, axes past the rank, wrong
# element counts, NaN/inf scales). Each case runs in a child process with an
# address-space limit and a timeout; the sweep fails when one crashes, hangs
# or gives an error that names neither the node nor the input. The ctest
# onnx-range-sweep runs the same sweep.
#   scripts/range-sweep.sh [build dir] [extra onnx-range-sweep flags]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
[ $# -gt 0 ] && shift
exec "$build/test/onnx/onnx-range-sweep" \
  --data "${DLC_ONNX_TEST_DATA:-$here/../shared/onnx-backend-tests}" "$@"
