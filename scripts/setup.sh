#!/usr/bin/env bash
# Installs the Debian packages dlc needs to build and test. Safe to run again:
# it installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

PKGS=(
  cmake ninja-build g++ python3 python3-venv
  llvm-19-dev llvm-19-tools libzstd-dev zlib1g-dev libedit-dev libxml2-dev libffi-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev ccache lld
  clang-19 libclang-rt-19-dev
  dataset-fashion-mnist
  graphviz
  pybind11-dev python3-dev python3-numpy python3-pytest
  libopenmpi-dev openmpi-bin
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
