#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60) with libFuzzer, one after
# the other, in build-fuzz/ (clang-19, ASan + UBSan + coverage in every
# library). Each starts from a copy of its checked-in corpus (fuzz/corpus/
# NAME), with a 10 s per-input timeout and a 2 GB memory bound; crashes, hangs
# and OOMs land in fuzz/findings/NAME/ (add each, once fixed, to the corpus
# as a regression case). Prints executions and findings per target.
# With FUZZ_RUNS=N in the environment, a target also stops after N
# executions (e.g. FUZZ_RUNS=1000000 fuzz/run.sh 1800: 10^6 runs or 30 min).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(npy ir kernel-ir onnx pb aot compile)
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -gline-tables-only" \
  "-DCMAKE_C_FLAGS_RELEASE=-O1 -gline-tables-only" \
  -DDLC_SANITIZE=ON -DDLC_FUZZ=ON -DDLC_BUILD_TESTS=OFF "${LAUNCHER[@]}" >/dev/null
ninja -C build-fuzz -j"${DLC_JOBS:-$(nproc)}" "${targets[@]/%/-fuzzer}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
  work=build-fuzz/work/$t findings=fuzz/findings/$t
  rm -rf "$work"
  mkdir -p "$work" "$findings"
  cp fuzz/corpus/"$t"/* "$work"/
  extra=()
  [ "$t" = onnx ] && extra=(-dict=fuzz/onnx.dict)
  [ -n "${FUZZ_RUNS:-}" ] && extra+=(-runs="$FUZZ_RUNS")
  log=build-fuzz/work/$t.log
  set +e
  start=$SECONDS
  build-fuzz/fuzz/"$t"-fuzzer "$work" "${extra[@]}" -max_total_time="$secs" \
    -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$findings"/ >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  took=$((SECONDS - start))
  echo "$t: exit $rc, $execs executions in ${took}s (limit ${secs}s), $(ls "$findings" | wc -l) findings"
done
