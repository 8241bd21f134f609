#!/usr/bin/env bash
# The C API never reads past a caller's buffer: guarded.c feeds inputs that
# end at an inaccessible page with a wrong dtype, dim or rank, and expects a
# status and a message for each (a read before the check would fault).
# Usage: guarded.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dlc=$build/tools/dlc
rtdir=$(dirname "$(ls "$build"/exec/libdlc_runtime.so)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CC=${CC:-cc}
"$dlc" compile "$src/examples/mnist_cnn.dlc" -o "$work/cnn.so"
$CC -std=c99 -Wall -Werror -I"$src/exec" -I"$work" "$src/test/aot/guarded.c" \
  "$work/cnn.so" -Wl,-rpath,"$work" -L"$rtdir" -Wl,-rpath,"$rtdir" \
  -ldlc_runtime -o "$work/guarded"
"$work/guarded"
