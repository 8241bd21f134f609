#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer:
# configures build-san/ with clang-19 (-DDLC_SANITIZE=ON: every report is
# fatal, assertions on), builds it and runs ctest there. Test scripts that
# compile C programs against libdlc_runtime.so use $DLC_CC, which follows
# the sanitizer build.
# The benchmarks are not built here (no test runs them).
#   scripts/sanitize.sh            the whole suite (what CI runs, through
#                                  scripts/test.sh)
#   scripts/sanitize.sh --subset   a shortcut while developing: the importer
#                                  (malformed models, control flow, scale),
#                                  the parsers (.npy, .pb, graph and kernel
#                                  IR), fusion, memory bounds, the C API (GPU
#                                  artifacts on the fake driver too) and the
#                                  fuzz corpora; builds only what those need
#   scripts/sanitize.sh [--subset] -R REGEX ...   extra ctest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
subset=0
if [ "${1:-}" = --subset ]; then subset=1; shift; fi
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -gline-tables-only" \
  "-DCMAKE_C_FLAGS_RELEASE=-O1 -gline-tables-only" \
  -DDLC_SANITIZE=ON -DDLC_BUILD_BENCHMARKS=OFF "${LAUNCHER[@]}" >/dev/null
jobs=${DLC_JOBS:-$(nproc)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ $subset = 1 ]; then
  ninja -C build-san -j"$jobs" dlc dlc-opt dlc_runtime OnnxMalformedTest \
    OnnxImportTest OnnxControlTest OnnxScaleTest SerializationTest \
    KernelIRTest JitFusionTest JitMemoryTest npy-replay ir-replay \
    kernel-ir-replay onnx-replay pb-replay aot-replay compile-replay \
    dlc_fake_cuda
  cd build-san
  ctest --output-on-failure -j"$jobs" -R \
    'OnnxMalformed|OnnxImport|OnnxControl|OnnxScale|Serialization|Npy|KernelIR|JitFusion|JitMemory|aot-|fuzz-replay' \
    "$@"
else
  ninja -C build-san -j"$jobs"
  cd build-san
  ctest --output-on-failure -j"$jobs" "$@"
fi
