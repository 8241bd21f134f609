"""Workload (e): the PyTorch examples Net as an ONNX model (built with the
onnx package by scripts/make-pytorch-net-onnx.py, so torch is not needed),
trained by `dlc train model.onnx` for a few steps and written back with
`-o trained.onnx`. onnxruntime on the trained model then predicts what
`dlc run trained.onnx` predicts (same argmax, log-probabilities close), the
weights have moved, and the untouched model still gives the old outputs.

Data: Debian's Fashion-MNIST when installed, else a tiny generated MNIST-format
set (test/tools/Inputs/make_tiny_mnist.py).
"""
import gzip
import os
import subprocess
import sys
import tempfile

from reftest import dlc, require, source_dir

np, onnx, ort = require("numpy", "onnx", "onnxruntime")
from onnx import numpy_helper  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx_images(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[4:8], "big")
    count = min(n, count)
    pixels = np.frombuffer(data[16:16 + count * 784], dtype=np.uint8)
    return (pixels.reshape(count, 1, 28, 28) / 255.0).astype(np.float32)


def weights(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def main():
    src = source_dir()
    with tempfile.TemporaryDirectory() as tmp:
        if os.path.isdir(FASHION):
            data_spec, data_dir = "fashion-mnist", FASHION
        else:
            data_dir = os.path.join(tmp, "data")
            subprocess.run([sys.executable, os.path.join(
                src, "test", "tools", "Inputs", "make_tiny_mnist.py"), data_dir,
                "320", "64"], check=True)
            data_spec = "mnist:" + data_dir
        model = os.path.join(tmp, "net.onnx")
        r = subprocess.run([sys.executable, os.path.join(
            src, "scripts", "make-pytorch-net-onnx.py"), model, "--builder",
            "onnx"], check=True, capture_output=True, text=True)
        assert "built with onnx" in r.stdout, r.stdout
        trained = os.path.join(tmp, "trained.onnx")
        r = dlc("train", model, "--data", data_spec, "--limit", "320",
                "--test-limit", "64", "--batch", "32", "--seed", "3",
                "-o", trained)
        print(r.stdout.strip())
        assert "loss nll" in r.stdout, r.stdout
        assert f"wrote {trained}" in r.stdout, r.stdout

        before, after = weights(model), weights(trained)
        assert sorted(before) == sorted(after), (sorted(before), sorted(after))
        for name in before:
            assert before[name].shape == after[name].shape, name
            assert not np.array_equal(before[name], after[name]), \
                f"{name} did not change in training"
        trained_model = onnx.load(trained)
        onnx.checker.check_model(trained_model)
        ops = [n.op_type for n in trained_model.graph.node]
        assert ops.count("Dropout") == 2 and "Conv" in ops and "Gemm" in ops, ops

        images = read_idx_images(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"), 16)
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, images)
        for path in (model, trained):
            ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
                None, {"input": images})[0]
            out = os.path.join(tmp, "out")
            dlc("run", path, "--engine", "jit", "--input", f"input={x_path}",
                "--out", out)
            mine = np.load(os.path.join(out, "output.npy"))
            assert mine.shape == (16, 10), mine.shape
            assert np.array_equal(ref.argmax(1), mine.argmax(1)), \
                (ref.argmax(1), mine.argmax(1))
            diff = np.max(np.abs(ref - mine))
            assert np.allclose(ref, mine, rtol=1e-4, atol=1e-4), diff
            print(f"{os.path.basename(path)}: onnxruntime and dlc agree on 16 "
                  f"test images (max |diff| {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
