#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (GoogleTest units + lit).
# This is the README's test command and what .ci/run calls.
#   scripts/test.sh              the normal suite (build/)
#   scripts/test.sh --all        the normal suite, then the sanitized one
#   scripts/test.sh --sanitize   only the sanitized suite: clang-19, ASan +
#                                UBSan, assertions on, in build-san/
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---normal}
case $mode in
  --all|--normal|--sanitize) ;;
  *) echo "usage: scripts/test.sh [--all|--sanitize]" >&2; exit 2 ;;
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
