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
  "$work/tiny.so" -Wl,-rpath,"$work" -L"$work/prefix/lib" -Wl,-rpath,"$work/prefix/lib" \
  -ldlc_runtime -lm -o "$work/tiny_demo"
mkdir -p "$work/tiny-run"
"$work/tiny_demo" 3 "$work/tiny-run" | grep -q "output 0: f32, rank 2, dim 0 = 3"

# The README's AOT example, exactly as written there: app.c from its C block,
# then its shell lines with PREFIX and dlc pointing at the scratch install.
# The program must start from any directory (net.so found through $ORIGIN,
# libdlc_runtime.so through dlc.pc's run path).
readme=$work/readme-app
mkdir -p "$readme/examples"
cp "$src/examples/mnist_cnn.dlc" "$readme/examples/"
python3 - "$src/README.md" "$readme" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
app = [b for lang, b in blocks if lang == "c" and b.startswith("/* app.c:")]
sh = [b for lang, b in blocks if lang == "sh" and "-o net.so" in b]
if len(app) != 1 or len(sh) != 1:
    sys.exit("embed.sh: README must hold one app.c block and one build block")
open(sys.argv[2] + "/app.c", "w").write(app[0])
open(sys.argv[2] + "/build.sh", "w").write(sh[0])
PY
# (Its `cc` becomes $DLC_CC when one is set: the sanitizer build's libraries
# need the sanitizer runtimes at link time.)
(cd "$readme" && PATH="$work/prefix/bin:$PATH" \
  bash -euo pipefail -c "$(sed "s|PREFIX|$work/prefix|g; s|^cc |$CC |" build.sh)") |
  tee "$readme/out"
grep -qx "probs: \[2, 10\]" "$readme/out"
(cd / && "$readme/app") | grep -qx "probs: \[2, 10\]"
echo "embed.sh: the README's AOT example builds and runs"
