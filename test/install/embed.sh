#!/usr/bin/env bash
# Installs dlc from the build tree into a scratch prefix, builds
# examples/embed against it with find_package(dlc), runs it and checks its
# output; then compiles a model ahead of time with the installed dlc and
# builds examples/aot against the installed runtime. Usage: embed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
# $DLC_CC: the C compiler driver (the sanitizer build sets one that links
# the sanitizer runtimes); cc by default.
CC=${DLC_CC:-cc}
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/embed" -B "$work/app" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
  ${DLC_CMAKE_ARGS:-} >/dev/null
ninja -C "$work/app" >/dev/null
out=$("$work/app/embed_model")
echo "$out"
expected='engine jit, input '"'"'x'"'"' f32[N,4]
labels 0 1
labels 0 1 2 0 1
error: input '"'"'x'"'"' dim 1 must be 4, got 5
training: loss fell, 8 of 8 right'
if [ "$out" != "$expected" ]; then
  echo "embed.sh: unexpected output; expected:"; echo "$expected"; exit 1
fi

# The installed dlc compiles a model ahead of time against the installed
# libdlc_runtime.so, and a C program builds with the installed header.
"$work/prefix/bin/dlc" compile "$src/test/tools/Inputs/small-resource.dlc" \
  -o "$work/tiny.so"
readelf -d "$work/tiny.so" | grep -q "NEEDED.*libdlc_runtime.so"
readelf -d "$work/tiny.so" | grep -q "R.*PATH.*$work/prefix/lib"
$CC -std=c99 -Wall -Werror -I"$work" -I"$work/prefix/include" -DMODEL=tiny \
  -DMODEL_UPPER=TINY -DMODEL_HEADER='"tiny.h"' "$src/examples/aot/main.c" \
  "$work/tiny.so" -L"$work/prefix/lib" -Wl,-rpath,"$work/prefix/lib" \
  -ldlc_runtime -lm -o "$work/tiny_demo"
mkdir -p "$work/tiny-run"
"$work/tiny_demo" 3 "$work/tiny-run" | grep -q "output 0: f32, rank 2, dim 0 = 3"
