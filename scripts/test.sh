#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (GoogleTest units + lit).
# This is the README's test command and what .ci/run calls.
#   scripts/test.sh              the normal suite (build/), then the whole
#                                sanitized suite (build-san/,
#                                scripts/sanitize.sh); what CI runs
#   scripts/test.sh --normal     only the normal suite
#   scripts/test.sh --sanitize   only the whole sanitized suite: clang-19,
#                                ASan + UBSan, assertions on, in build-san/
# Both run every ctest test (the fuzz corpus replays fuzz-replay-* too),
# except the MPI ones, which run only in the normal build. On 2 cores from
# an empty compiler cache the whole run takes about 22 minutes, plus
# package installs (BENCHMARKS.md, RELIABILITY).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-default}
case $mode in
  default|--normal|--sanitize) ;;
  *) echo "usage: scripts/test.sh [--normal|--sanitize]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
if [ "$mode" != --sanitize ]; then
  bash scripts/reference-env.sh
  bash scripts/build.sh
  (cd build && ctest --output-on-failure -j"$(nproc)")
fi
if [ "$mode" != --normal ]; then
  bash scripts/sanitize.sh
fi
