#!/usr/bin/env bash
# Configures and builds dlc in ./build (Release, Ninja, all cores). Uses
# ccache when it is installed (scripts/setup.sh installs it), with paths
# relative to the checkout so that several checkouts share the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${LAUNCHER[@]}" >/dev/null
ninja -C build -j"$(nproc)"
