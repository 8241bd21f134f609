#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (GoogleTest units + lit).
# This is the README's test command and what .ci/run calls.
#   scripts/test.sh              the normal suite (build/), then the sanitized
#                                subset (build-san/, scripts/sanitize.sh
#                                --subset: importer, parsers, fusion, C API,
#                                fuzz corpora; the whole sanitized suite does
#                                not fit CI's time on 2 cores)
#   scripts/test.sh --normal     only the normal suite
#   scripts/test.sh --sanitize   only the whole sanitized suite: clang-19,
#                                ASan + UBSan, assertions on, in build-san/
# The fuzz corpora are replayed by both (ctest fuzz-replay-*).
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
case $mode in
  default) bash scripts/sanitize.sh --subset ;;
  --sanitize) bash scripts/sanitize.sh ;;
esac
