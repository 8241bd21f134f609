#!/usr/bin/env bash
# Sets up, builds and runs the main demo: an MNIST-style CNN written in dlc
# IR is parsed, optimized (decomposition, folding, CSE, DCE), run on a batch
# of random images by the reference interpreter and by the LLVM JIT, and
# benchmarked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out=build/demo
mkdir -p "$out"
echo "== The model (examples/mnist_cnn.dlc), optimized:"
build/tools/dlc-opt examples/mnist_cnn.dlc \
  --pass-pipeline=optimize \
  --save-weights="$out/mnist_cnn.weights" -o "$out/mnist_cnn.opt.dlc" --time-passes
cat "$out/mnist_cnn.opt.dlc"
echo
echo "== Running it on 4 random 28x28 images, reference interpreter:"
build/tools/dlc run "$out/mnist_cnn.opt.dlc" --random-inputs --dim N=4 --out "$out/outputs"
echo
echo "== The same, compiled by the LLVM JIT (same values):"
build/tools/dlc run "$out/mnist_cnn.opt.dlc" --random-inputs --dim N=4 --engine=jit
echo
echo "== Latency of the JIT-compiled model:"
build/tools/dlc bench examples/mnist_cnn.dlc --batch 1
build/tools/dlc bench examples/mnist_cnn.dlc --batch 16 --runs 5
echo
echo "== Op coverage:"
build/tools/dlc --list-ops | tail -n 1
