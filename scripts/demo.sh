#!/usr/bin/env bash
# Sets up, builds and runs the main demo: the Keras tutorial CNN is trained
# on Fashion-MNIST for one epoch (forward, autodiff backward and Adam update
# in one JIT-compiled step); an ONNX model from the conformance data is
# imported and run; an MNIST-style CNN written in dlc IR is optimized, run by
# the reference interpreter and by the LLVM JIT, and benchmarked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
out=build/demo
mkdir -p "$out"
echo "== Training the Keras tutorial CNN on Fashion-MNIST (1 epoch, Adam):"
build/tools/dlc train --model keras-cnn --optimizer adam --lr 0.001 \
  --epochs 1 --batch 64 --seed 1 --plot "$out/keras-cnn.svg" -o "$out/keras-cnn.dlc"
echo "(trained model: $out/keras-cnn.dlc, loss and accuracy plot: $out/keras-cnn.svg)"
echo
onnx=../shared/onnx-backend-tests/pytorch-converted/test_Conv2d
if [ -f "$onnx/model.onnx" ]; then
  echo "== Importing and running an ONNX model ($onnx/model.onnx) with the JIT:"
  build/tools/dlc run "$onnx/model.onnx" --random-inputs --engine=jit --out "$out/onnx"
  echo
fi
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
