#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (GoogleTest units + lit).
# This is the README's test command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/reference-env.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)"
