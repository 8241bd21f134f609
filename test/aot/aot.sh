#!/usr/bin/env bash
# AOT end to end: compiles models with `dlc compile -o NAME.so` and
# `-o NAME.o`, builds examples/aot/main.c against each generated header with
# the system C compiler (-std=c99 -Wall -Werror), runs it and compares its
# outputs with `dlc run` (the JIT, and the reference interpreter).
# Usage: aot.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
# $DLC_CC: the C compiler driver (the sanitizer build sets one that links
# the sanitizer runtimes); cc by default.
CC=${DLC_CC:-cc}
build=$1 src=$2
dlc=$build/tools/dlc
rtdir=$(dirname "$(ls "$build"/exec/libdlc_runtime.so)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cflags=(-std=c99 -Wall -Werror -I"$src/exec" -I"$work")

# check NAME MODEL BATCH INPUT: runs the demo at BATCH, then dlc run (jit and
# interp) on the same input, and compares every output.
check() {
  local name=$1 model=$2 batch=$3 input=$4 dir=$work/$1-$3
  mkdir -p "$dir"
  "$work/$name" "$batch" "$dir" | tee "$dir/log"
  grep -q "wrong dtype: status 1: input '$input' must be f32" "$dir/log"
  grep -q "wrong shape: status 1: input '$input' dim .* must be" "$dir/log"
  grep -q "no inputs: status 1: '@.*' takes 1 input(s), got 0" "$dir/log"
  same "$@"
}

# The outputs of the run above against `dlc run` with the JIT and with the
# interpreter.
same() {
  local name=$1 model=$2 batch=$3 input=$4 dir=$work/$1-$3
  for engine in jit interp; do
    "$dlc" run "$model" --engine=$engine --input "$input=$dir/input.npy" \
      --out "$dir/$engine" >/dev/null
    local i=0
    # dlc run names files after the outputs, in the model's output order.
    for out in "${@:5}"; do
      "$work/$name" --compare "$dir/output$i.npy" "$dir/$engine/$out.npy" 1e-4
      i=$((i + 1))
    done
  done
}

# A graph IR model with a symbolic batch (N), as a shared library, at two
# batch sizes; --threads sets its default thread count.
"$dlc" compile "$src/examples/mnist_cnn.dlc" -o "$work/cnn.so" --threads 2
grep -q '#define CNN_INPUT0_SHAPE {-1, 1, 28, 28}' "$work/cnn.h"
$CC "${cflags[@]}" -DMODEL=cnn -DMODEL_UPPER=CNN -DMODEL_HEADER='"cnn.h"' \
  "$src/examples/aot/main.c" "$work/cnn.so" -Wl,-rpath,"$work" \
  -L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime -lm -o "$work/cnn_so"
check cnn_so "$src/examples/mnist_cnn.dlc" 1 images probs label
check cnn_so "$src/examples/mnist_cnn.dlc" 5 images probs label

# An ONNX model (PyTorch's Conv2d) as an object file linked into the
# program with the runtime library; --name sets the symbol prefix.
conv=$src/../shared/onnx-backend-tests/pytorch-converted/test_Conv2d/model.onnx
if [ ! -f "$conv" ]; then
  echo "aot.sh: $conv is missing"; exit 1
fi
"$dlc" compile "$conv" -o "$work/conv2d.o" --name torch_conv -O2
$CC "${cflags[@]}" -DMODEL=torch_conv -DMODEL_UPPER=TORCH_CONV \
  -DMODEL_HEADER='"conv2d.h"' -c "$src/examples/aot/main.c" -o "$work/main.o"
$CC "$work/main.o" "$work/conv2d.o" -L"$rtdir" -Wl,-rpath,"$rtdir" \
  -ldlc_runtime -lm -o "$work/conv_o"
nm "$work/conv2d.o" | grep -q ' T torch_conv_run$'
if nm "$work/conv2d.o" | grep -q ' T .*_k0_'; then
  echo "aot.sh: kernels should be internal to the object"; exit 1
fi
out=$(grep -o '^ \*   0 [^:]*' "$work/conv2d.h" | tail -1 | sed 's/^ \*   0 //')
in=$(sed -n 's/^#define TORCH_CONV_INPUT0_NAME "\(.*\)"$/\1/p' "$work/conv2d.h")
check conv_o "$conv" 3 "$in" "$out"
# A shape read by value at run time (reshape to [N * 2, -1]): the runtime
# library evaluates it when it plans each batch size.
"$dlc" compile "$src/test/aot/Inputs/by-value.dlc" -o "$work/byval.so"
$CC "${cflags[@]}" -DMODEL=byval -DMODEL_UPPER=BYVAL -DMODEL_HEADER='"byval.h"' \
  "$src/examples/aot/main.c" "$work/byval.so" -Wl,-rpath,"$work" \
  -L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime -lm -o "$work/byval_so"
check byval_so "$src/test/aot/Inputs/by-value.dlc" 2 x y
check byval_so "$src/test/aot/Inputs/by-value.dlc" 5 x y
# Results sized by the data (unique, nonzero): host steps, which the
# runtime library runs with the reference interpreter's kernels.
"$dlc" compile "$src/test/aot/Inputs/data-sized.dlc" -o "$work/dsz.so"
$CC "${cflags[@]}" -DMODEL=dsz -DMODEL_UPPER=DSZ -DMODEL_HEADER='"dsz.h"' \
  "$src/examples/aot/main.c" "$work/dsz.so" -Wl,-rpath,"$work" \
  -L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime -lm -o "$work/dsz_so"
check dsz_so "$src/test/aot/Inputs/data-sized.dlc" 4 x u c i s
check dsz_so "$src/test/aot/Inputs/data-sized.dlc" 9 x u c i s
# Control flow with regions (a loop whose trip count is the input's
# length, an if on a run-time condition): host steps too, whose regions the
# runtime library runs with the reference interpreter.
"$dlc" compile "$src/test/tools/Inputs/control-flow.dlc" -o "$work/cf.so"
$CC "${cflags[@]}" -DMODEL=cf -DMODEL_UPPER=CF -DMODEL_HEADER='"cf.h"' \
  "$src/examples/aot/main.c" "$work/cf.so" -Wl,-rpath,"$work" \
  -L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime -lm -o "$work/cf_so"
# Any length is a valid x here, so there is no wrong shape to refuse.
for n in 2 5; do
  mkdir -p "$work/cf_so-$n"
  "$work/cf_so" "$n" "$work/cf_so-$n" | tee "$work/cf_so-$n/log"
  grep -q "wrong dtype: status 1: input 'x' must be f32" "$work/cf_so-$n/log"
  same cf_so "$src/test/tools/Inputs/control-flow.dlc" "$n" x y s z
done
echo "aot.sh: all checks passed"
