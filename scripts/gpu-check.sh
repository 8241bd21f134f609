#!/bin/bash
# The GPU check, run on a device machine lent to a session, from the
# repository root, with gpu-bundle.tar.xz (scripts/gpu-bundle.sh) carried:
#
#   run(command="bash scripts/gpu-check.sh", carry=["gpu-bundle.tar.xz"],
#       timeout_s=540)
#
# No build happens there (no LLVM): everything goes through the bundled
# `dlc` and the device's python3 with PyTorch. Parts, each with a time
# budget so the whole stays under 8 minutes:
#   ops     every op's GPU kernels against the interpreter (dlc run)
#   onnx    the ONNX node and simple tests with --device cuda
#   gemm    4096^3 fp32 (and tf32/bf16 when dlc has --precision) vs torch.mm
#   models  ResNet-18 and MobileNetV2 at batch 1 and 64 vs PyTorch CUDA eager
#           (batch 1 also with --cuda-graphs=false: the launch overhead)
#   train   the Keras tutorial CNN (a), one epoch, vs PyTorch CUDA
#   aot     the tutorial CNN compiled ahead of time (dlc compile --target
#           nvptx, tf32 and fp32) run by a C program through
#           libdlc_runtime on the GPU, against the CPU emulation's outputs
# Results: $OUT/gpu.txt (the GPU and the bundle), one $OUT/<part>.txt each,
# and $OUT/summary.txt (every RESULT line). Record them in BENCHMARKS.md,
# naming the GPU. GPU_CHECK_PARTS="ops onnx" runs only those parts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/gpu-check-out}
mkdir -p "$OUT"
TARBALL=${GPU_BUNDLE:-$ROOT/gpu-bundle.tar.xz}
[ -f "$TARBALL" ] || { echo "error: no $TARBALL: make it with scripts/gpu-bundle.sh and carry it" >&2; exit 1; }
B=$(mktemp -d)/gpu-bundle
tar -C "$(dirname "$B")" -xJf "$TARBALL" || exit 1
export LD_LIBRARY_PATH=$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
DLC=$B/bin/dlc
if ! "$DLC" --list-ops >/dev/null 2>&1; then
  # The device's glibc is older than the build machine's: use the bundled
  # loader and C/C++ runtime (the driver is still the device's).
  printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' \
    "$B/glibc/ld-linux-x86-64.so.2" "$B/lib:$B/glibc" "$B/bin/dlc" > "$B/dlc-wrapped"
  chmod +x "$B/dlc-wrapped"
  DLC=$B/dlc-wrapped
  "$DLC" --list-ops >/dev/null 2>&1 || { echo "error: the bundled dlc does not start here" >&2; "$DLC" --list-ops 2>&1 | head -5 >&2; exit 1; }
fi
if [ -z "${DLC_CUDA_DRIVER:-}" ]; then
  LIBCUDA=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
  for p in $LIBCUDA /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib64/libcuda.so.1 \
           /usr/local/nvidia/lib64/libcuda.so.1; do
    [ -e "$p" ] && { export DLC_CUDA_DRIVER=$p; break; }
  done
fi
{
  nvidia-smi -L 2>&1
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  cat "$B/BUILD"
  echo "dlc: $DLC, driver: ${DLC_CUDA_DRIVER:-libcuda.so.1 on the loader path}"
  python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())' 2>&1
} > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"

export PYTHONUNBUFFERED=1
PY="python3 $ROOT/bench/gpu_side_by_side.py"
WORK=$(mktemp -d)
part() { # NAME SECONDS ARGS...
  local name=$1 secs=$2
  shift 2
  case " ${GPU_CHECK_PARTS:-ops onnx gemm models train aot} " in *" $name "*) ;; *) return ;; esac
  echo "== $name (at most ${secs}s)"
  timeout "$secs" $PY "$name" --dlc "$DLC" --work "$WORK" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  [ $rc -eq 124 ] && echo "RESULT $name: stopped after ${secs}s" >> "$OUT/$name.txt"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "RESULT $name: failed (exit $rc), see $name.txt" >> "$OUT/$name.txt"
  grep '^RESULT' "$OUT/$name.txt"
}
# The budgets add up to 450 s (with aot's 2 x 25 s), so that even when
# every part runs to its limit the check ends well inside 8 minutes.
START=$(date +%s)
part ops 40 --examples "$B/examples"
part onnx 100 --data "$B/onnx-backend-tests" -v
part gemm 40 --runs 10
part models 90 --runs 20
part train 130 --data "$B/fashion-mnist"
aot() { # the aot part: C programs, no python
  case " ${GPU_CHECK_PARTS:-ops onnx gemm models train aot} " in *" aot "*) ;; *) return ;; esac
  echo "== aot (at most 25s per run)"
  local A=$B/aot RUN=() p ref d ok i
  # A usage error (exit 2) means it starts here; otherwise the device's
  # glibc is older: use the bundled loader.
  "$A/gpu_main" >/dev/null 2>&1
  [ $? -eq 2 ] || RUN=("$B/glibc/ld-linux-x86-64.so.2" --library-path "$A:$B/lib:$B/glibc")
  {
    for p in default fp32; do
      ref=$A/ref-fp32
      [ $p = default ] && ref=$A/ref-tf32
      d=$WORK/aot-$p
      mkdir -p "$d"
      if timeout 25 "${RUN[@]}" "$A/gpu_main" run cuda $p 8 "$d"; then
        ok=1
        for i in 0 1; do
          "${RUN[@]}" "$A/compare" --compare "$d/output$i.npy" "$ref/output$i.npy" 1e-4 || ok=0
        done
        [ $ok = 1 ] && echo "RESULT aot $p: the GPU matches the CPU emulation (batch 8)" ||
          echo "RESULT aot $p: the GPU DIFFERS from the CPU emulation (batch 8)"
      else
        echo "RESULT aot $p: failed"
      fi
    done
  } > "$OUT/aot.txt" 2>&1
  grep '^RESULT' "$OUT/aot.txt"
}
aot
grep -h '^RESULT' "$OUT"/*.txt > "$OUT/summary.txt"
echo "RESULT gpu-check: $(( $(date +%s) - START )) s for the parts" >> "$OUT/summary.txt"
echo "== summary ($OUT/summary.txt)"
cat "$OUT/summary.txt"
