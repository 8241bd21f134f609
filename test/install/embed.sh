#!/usr/bin/env bash
# Installs dlc from the build tree into a scratch prefix, builds
# examples/embed against it with find_package(dlc), runs it and checks its
# output. Usage: embed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/embed" -B "$work/app" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
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
