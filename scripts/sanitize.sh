#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer:
# configures build-san/ with clang-19 (-DDLC_SANITIZE=ON: every report is
# fatal, assertions on), builds it and runs ctest there. Test scripts that
# compile C programs against libdlc_runtime.so use $DLC_CC, which follows
# the sanitizer build. Extra arguments go to ctest (e.g. -R Onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build-san -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -gline-tables-only" \
  "-DCMAKE_C_FLAGS_RELEASE=-O1 -gline-tables-only" \
  -DDLC_SANITIZE=ON "${LAUNCHER[@]}" >/dev/null
ninja -C build-san -j"${DLC_JOBS:-$(nproc)}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-san
ctest --output-on-failure -j"${DLC_JOBS:-$(nproc)}" "$@"
