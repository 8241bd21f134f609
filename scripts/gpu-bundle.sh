#!/bin/bash
# Makes gpu-bundle.tar.xz in the repository root: what scripts/gpu-check.sh
# needs on a device machine, which has the NVIDIA driver, Python and
# PyTorch but no LLVM, no compiler toolchain for dlc and no network.
#
#   scripts/gpu-bundle.sh [BUILD_DIR]     (default: build)
#
# Inside: bin/dlc (stripped; dlc links LLVM statically, so its only shared
# libraries are protobuf, onnx_proto, zstd, zlib and the C/C++ runtime),
# lib/ (those libraries), glibc/ (this machine's loader, libc, libm,
# libstdc++ and libgcc_s, used only if the device's glibc is older than
# the one dlc was built against), examples/ (every op's example, from
# dlc-op-examples), onnx-backend-tests/ (node and simple), fashion-mnist/
# (Debian's dataset-fashion-mnist), aot/ (a GPU artifact of the tutorial
# CNN, a C program on it and reference outputs) and BUILD (what was
# bundled). The
# working tree that travels to a device is limited to 64 MiB, so the
# tarball must stay under 60 MiB; the script fails if it does not.
#
# Then, in a session lent a GPU (see scripts/gpu-check.sh), carry it (git
# ignores it):  run(command="bash scripts/gpu-check.sh",
#                   carry=["gpu-bundle.tar.xz"], timeout_s=540)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DATA=${DLC_ONNX_TEST_DATA:-$ROOT/../shared/onnx-backend-tests}
FMNIST=${DLC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
OUTFILE=$ROOT/gpu-bundle.tar.xz
LIMIT=$((60 * 1024 * 1024))

for f in "$BUILD/tools/dlc" "$BUILD/test/cuda/dlc-op-examples"; do
  [ -x "$f" ] || { echo "error: $f is missing: build dlc and dlc-op-examples first" >&2; exit 1; }
done
[ -d "$DATA/node" ] || { echo "error: no ONNX backend tests at $DATA (set DLC_ONNX_TEST_DATA)" >&2; exit 1; }
[ -f "$FMNIST/train-images-idx3-ubyte.gz" ] || { echo "error: no Fashion-MNIST at $FMNIST (scripts/setup.sh installs dataset-fashion-mnist)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/gpu-bundle
mkdir -p "$B/bin" "$B/lib" "$B/glibc" "$B/fashion-mnist" "$B/onnx-backend-tests"
cp "$BUILD/tools/dlc" "$B/bin/dlc"
strip "$B/bin/dlc"
"$BUILD/test/cuda/dlc-op-examples" "$B/examples" >/dev/null

# Shared libraries: the C/C++ runtime (with the loader) apart, the rest in lib/.
ldd "$BUILD/tools/dlc" | awk '/=> \//{print $3} /^\s*\/.*ld-linux/{print $1}' |
  while read -r so; do
    real=$(readlink -f "$so")
    name=$(basename "$so")
    case $name in
      ld-linux*|libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|libpthread.so.*|libdl.so.*|librt.so.*)
        cp "$real" "$B/glibc/$name" ;;
      *) cp "$real" "$B/lib/$name" ;;
    esac
  done
for name in libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libdl.so.2 libpthread.so.0; do
  [ -e "$B/glibc/$name" ] || cp "$(readlink -f /lib/x86_64-linux-gnu/$name)" "$B/glibc/$name"
done
[ -e "$B/glibc/ld-linux-x86-64.so.2" ] || cp "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$B/glibc/ld-linux-x86-64.so.2"

# AOT: the tutorial CNN compiled for the GPU (tf32, with fp32 beside it), a
# C program on its header (test/aot/gpu_main.c), libdlc_runtime.so next to
# them ($ORIGIN), examples/aot/main.c for its --compare, and the outputs the
# CPU emulation of the same kernels gives at batch 8: the references
# gpu-check.sh's aot part compares the GPU with.
A=$B/aot
mkdir -p "$A/ref-tf32" "$A/ref-fp32"
"$BUILD/tools/dlc" compile "$ROOT/examples/mnist_cnn.dlc" --target nvptx \
  --precision tf32 -o "$A/cnn.so"
cp "$BUILD/exec/libdlc_runtime.so" "$A/"
for prog in test/aot/gpu_main.c:gpu_main examples/aot/main.c:compare; do
  cc -std=c99 -O2 -I"$ROOT/exec" -I"$A" -DMODEL=cnn -DMODEL_UPPER=CNN \
    -DMODEL_HEADER='"cnn.h"' "$ROOT/${prog%%:*}" "$A/cnn.so" -L"$A" \
    -ldlc_runtime -lm -Wl,-rpath,'$ORIGIN' -o "$A/${prog##*:}"
done
"$A/gpu_main" run cuda-emu tf32 8 "$A/ref-tf32" >/dev/null
"$A/gpu_main" run cuda-emu fp32 8 "$A/ref-fp32" >/dev/null
cp -r "$DATA/node" "$DATA/simple" "$B/onnx-backend-tests/"
cp "$FMNIST"/*-ubyte.gz "$B/fashion-mnist/"
{
  echo "dlc $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  echo "built on $(. /etc/os-release; echo "$PRETTY_NAME"), $(ldd --version | head -1)"
  echo "dlc needs $(objdump -T "$B/bin/dlc" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  date -u
} > "$B/BUILD"

tar -C "$STAGE" -cf - gpu-bundle | xz -6 -T2 > "$OUTFILE.tmp"
SIZE=$(stat -c %s "$OUTFILE.tmp")
if [ "$SIZE" -gt "$LIMIT" ]; then
  rm -f "$OUTFILE.tmp"
  echo "error: the bundle is $((SIZE / 1048576)) MiB, over the 60 MiB that may travel" >&2
  exit 1
fi
mv "$OUTFILE.tmp" "$OUTFILE"
echo "wrote $OUTFILE ($((SIZE / 1048576)) MiB)"
