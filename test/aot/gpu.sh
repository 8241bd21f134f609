#!/usr/bin/env bash
# GPU artifacts end to end: `dlc compile --target nvptx -o NAME.so|NAME.o`,
# a C program built against the generated header (test/aot/gpu_main.c), run
# on the CPU emulation of the GPU and on the test suite's fake CUDA driver
# (which runs each kernel through the emulation the program registers, after
# loading the embedded PTX, copying buffers and checking every launch),
# against `dlc run` (the JIT's GPU path, and the CPU); the embedded PTX
# through ptxas for sm_80 and sm_90 when ptxas is there; and the errors
# without a driver, on a GPU older than the PTX and on the CPU.
# Nothing here runs on a real GPU.
# Usage: gpu.sh BUILD_DIR SOURCE_DIR FAKE_CUDA_LIBRARY
set -euo pipefail
CC=${DLC_CC:-cc}
build=$1 src=$2 fake=$3
dlc=$build/tools/dlc
rtdir=$(dirname "$(ls "$build"/exec/libdlc_runtime.so)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$src/examples/mnist_cnn.dlc
cflags=(-std=c99 -Wall -Werror -I"$src/exec" -I"$work")
link=(-L"$rtdir" -Wl,-rpath,"$rtdir" -ldlc_runtime -lm)
fail() { echo "gpu.sh: $*"; exit 1; }

# tf32 (the default) with fp32 beside it, as a shared library.
"$dlc" compile "$model" --target nvptx --precision tf32 -o "$work/cnn.so"
grep -q '#define CNN_TARGET "nvptx"' "$work/cnn.h"
grep -q '#define CNN_GPU_ARCH "sm_80"' "$work/cnn.h"
grep -q 'int cnn_create_with(const dlc_model_options \*options' "$work/cnn.h"
grep -q 'extern const dlc_aot_gpu_image cnn_gpu_image;' "$work/cnn.h"
main=(-DMODEL=cnn -DMODEL_UPPER=CNN -DMODEL_HEADER='"cnn.h"')
$CC "${cflags[@]}" "${main[@]}" "$src/test/aot/gpu_main.c" "$work/cnn.so" \
  -Wl,-rpath,"$work" "${link[@]}" -o "$work/plain"
$CC "${cflags[@]}" "${main[@]}" -DFAKE_CUDA "$src/test/aot/gpu_main.c" \
  "$work/cnn.so" "$fake" -Wl,-rpath,"$work" -Wl,-rpath,"$(dirname "$fake")" \
  "${link[@]}" -o "$work/faked"
# examples/aot/main.c, only for its --compare.
$CC "${cflags[@]}" "${main[@]}" "$src/examples/aot/main.c" "$work/cnn.so" \
  -Wl,-rpath,"$work" "${link[@]}" -o "$work/compare"
cmp_npy() { "$work/compare" --compare "$1" "$2" "$3"; }

# The embedded PTX: two programs, every kernel an .entry of its module.
"$work/plain" ptx "$work" | tee "$work/ptx.log"
grep -q '^program 0: tf32, sm_80, ' "$work/ptx.log"
grep -q '^program 1: fp32, sm_80, ' "$work/ptx.log"
for p in tf32 fp32; do
  grep -q '^\.target sm_80' "$work/$p.ptx" || fail "$p.ptx: no .target sm_80"
  n=$(grep -c "^  cnn_${p}_" "$work/ptx.log")
  [ "$n" -ge 5 ] || fail "$p: only $n kernels"
  for k in $(grep -o "^  cnn_${p}_[^ ]*" "$work/ptx.log"); do
    grep -q "\.entry $k(" "$work/$p.ptx" || fail "$p.ptx: no .entry $k"
  done
done
grep -q 'mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32' "$work/tf32.ptx" ||
  fail "tf32.ptx has no tf32 mma"
if grep -q 'mma.sync' "$work/fp32.ptx"; then fail "fp32.ptx uses mma"; fi
ptxas=${DLC_PTXAS:-}
if [ -z "$ptxas" ]; then
  for c in "$src"/build-ref/venv/lib/*/site-packages/nvidia/cuda_nvcc/bin/ptxas; do
    [ -x "$c" ] && ptxas=$c
  done
fi
[ -n "$ptxas" ] || ptxas=$(command -v ptxas || true)
if [ -n "$ptxas" ]; then
  for p in tf32 fp32; do
    for arch in sm_80 sm_90; do
      "$ptxas" -arch=$arch "$work/$p.ptx" -o "$work/$p.$arch.cubin" ||
        fail "ptxas -arch=$arch rejects the embedded $p PTX"
      echo "ptxas -arch=$arch: embedded $p PTX ok"
    done
  done
else
  echo "gpu.sh: no ptxas (scripts/reference-env.sh installs one): PTX not assembled"
fi

# run DEV PREC BATCH NAME [ENV...]: the program on DEV, outputs in NAME/.
run() {
  local dev=$1 prec=$2 batch=$3 dir=$work/$4
  shift 4
  mkdir -p "$dir"
  env "$@" "$work/faked" run "$dev" "$prec" "$batch" "$dir" | tee "$dir/log"
  grep -q 'wrong dtype: status 1' "$dir/log"
  grep -q '^run 3: the same outputs' "$dir/log" || fail "$4: runs 2 and 3 differ from run 1"
}
# ref NAME DEVICE PREC: dlc run (JIT) on NAME's input, into NAME/DEVICE-PREC.
ref() {
  local dir=$work/$1
  "$dlc" run "$model" --device "$2" --precision "$3" \
    --input "images=$dir/input.npy" --out "$dir/$2-$3" >/dev/null
}
fake_env=(DLC_CUDA_DRIVER="$fake")

# The emulation at tf32 (the default) and fp32: the JIT's GPU kernels are
# the same code, so the results agree to rounding; fp32 also matches the CPU.
run cuda-emu default 3 emu-tf32
ref emu-tf32 cuda-emu tf32
cmp_npy "$work/emu-tf32/output0.npy" "$work/emu-tf32/cuda-emu-tf32/probs.npy" 1e-6
cmp_npy "$work/emu-tf32/output1.npy" "$work/emu-tf32/cuda-emu-tf32/label.npy" 0
# ... and tf32 is not fp32 (the products moved by its rounding).
ref emu-tf32 cpu fp32
if cmp_npy "$work/emu-tf32/output0.npy" "$work/emu-tf32/cpu-fp32/probs.npy" 1e-5; then
  fail "the tf32 results are those of fp32"
fi
run cuda-emu fp32 5 emu-fp32
ref emu-fp32 cuda-emu fp32
ref emu-fp32 cpu fp32
cmp_npy "$work/emu-fp32/output0.npy" "$work/emu-fp32/cuda-emu-fp32/probs.npy" 1e-6
cmp_npy "$work/emu-fp32/output0.npy" "$work/emu-fp32/cpu-fp32/probs.npy" 1e-4
cmp_npy "$work/emu-fp32/output1.npy" "$work/emu-fp32/cpu-fp32/label.npy" 0

# The fake driver: cnn_create (CUDA, the default tf32) and fp32, each kernel
# launched from the loaded PTX module.
run cuda default 3 fake-tf32 "${fake_env[@]}"
grep -q '^launches: [1-9]' "$work/fake-tf32/log"
# Runs 2 and 3 replay CUDA graphs (recorded in run 2); without graphs none.
grep -q '^graph launches: [1-9]' "$work/fake-tf32/log" || fail "no CUDA graph replayed"
run cuda default 3 fake-nographs "${fake_env[@]}" DLC_CUDA_GRAPHS=0
grep -q '^graph launches: 0$' "$work/fake-nographs/log" || fail "DLC_CUDA_GRAPHS=0 replayed graphs"
cmp_npy "$work/fake-nographs/output0.npy" "$work/fake-tf32/output0.npy" 0
cmp_npy "$work/fake-tf32/output0.npy" "$work/emu-tf32/cuda-emu-tf32/probs.npy" 1e-6
run cuda fp32 5 fake-fp32 "${fake_env[@]}"
cmp_npy "$work/fake-fp32/output0.npy" "$work/emu-fp32/cpu-fp32/probs.npy" 1e-4
cmp_npy "$work/fake-fp32/output1.npy" "$work/emu-fp32/cpu-fp32/label.npy" 0

# Errors: no driver, a GPU older than the PTX, the CPU.
out=$(DLC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$work/plain" create)
echo "$out"
grep -q '^create: status 5: no NVIDIA driver found (DLC_CUDA_DRIVER=/nonexistent/libcuda.so.1' <<<"$out"
grep -q 'use --device cpu' <<<"$out"
out=$(DLC_CUDA_DRIVER=$fake DLC_FAKE_CUDA_CC=75 "$work/plain" create)
echo "$out"
grep -q "^create: status 5: the GPU .*(sm_75.* is older than sm_80, which this model's PTX was compiled for" <<<"$out"
out=$("$work/plain" run cpu default 1 "$work" || true)
echo "$out"
grep -q '^create: status 5: this model was compiled for the GPU' <<<"$out"

# fp32 only, for sm_90, as an object file linked into the program; only the
# entry points and the GPU image are global.
"$dlc" compile "$model" --target nvptx --gpu-arch sm_90 -o "$work/net.o" --name net
nm "$work/net.o" | grep ' [TDR] ' | awk '{print $3}' | sort > "$work/globals"
printf '%s\n' net_create net_create_with net_destroy net_gpu_image net_run |
  diff - "$work/globals"
$CC "${cflags[@]}" -DMODEL=net -DMODEL_UPPER=NET -DMODEL_HEADER='"net.h"' \
  "$src/test/aot/gpu_main.c" "$work/net.o" "${link[@]}" -o "$work/net"
"$work/net" ptx "$work" | grep -q '^program 0: fp32, sm_90, '
if "$work/net" ptx "$work" | grep -q '^program 1'; then
  fail "an fp32 artifact holds one program"
fi
mkdir -p "$work/obj"
"$work/net" run cuda-emu default 4 "$work/obj" | grep -q 'wrong dtype: status 1'
ref obj cpu fp32
cmp_npy "$work/obj/output0.npy" "$work/obj/cpu-fp32/probs.npy" 1e-4
out=$("$work/net" run cuda-emu tf32 1 "$work/obj" || true)
echo "$out"
grep -q '^create: status 1: this compiled model has no tf32 kernels (it has fp32)' <<<"$out"

# Control flow in a GPU artifact (test/tools/Inputs/control-flow.dlc: a loop
# whose trip count is the input's length, an if on it): libdlc_runtime.so
# runs the control-flow ops as host steps through its interpreter, regions
# included, as a CPU artifact does, between the launches of the other
# kernels; on the emulation and the fake driver, against `dlc run` on the CPU.
cf=$src/test/tools/Inputs/control-flow.dlc
"$dlc" compile "$cf" --target nvptx -o "$work/cf.so"
$CC "${cflags[@]}" -DMODEL=cf -DMODEL_UPPER=CF -DMODEL_HEADER='"cf.h"' \
  -DFAKE_CUDA "$src/test/aot/gpu_main.c" "$work/cf.so" "$fake" \
  -Wl,-rpath,"$work" -Wl,-rpath,"$(dirname "$fake")" "${link[@]}" -o "$work/cf"
for dev in cuda-emu cuda; do
  for n in 2 5; do
    dir=$work/cf-$dev-$n
    mkdir -p "$dir"
    env "${fake_env[@]}" "$work/cf" run $dev fp32 $n "$dir" | tee "$dir/log"
    grep -q '^run 3: the same outputs' "$dir/log" || fail "cf $dev $n: runs differ"
    "$dlc" run "$cf" --input "x=$dir/input.npy" --out "$dir/cpu" >/dev/null
    cmp_npy "$dir/output0.npy" "$dir/cpu/y.npy" 0
    cmp_npy "$dir/output1.npy" "$dir/cpu/s.npy" 0
    cmp_npy "$dir/output2.npy" "$dir/cpu/z.npy" 0
  done
done
echo "gpu.sh: all checks passed"
