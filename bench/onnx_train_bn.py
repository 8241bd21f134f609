"""A PyTorch CNN with BatchNorm and Dropout, exported in training mode, trained
by `dlc train model.onnx --loss cross_entropy` and by PyTorch with the same
recipe from the same initial weights, side by side, for several seeds (the
CI version is test/reference/test_train_onnx_bn_dropout.py, which this runs
at a larger size). Also the same dlc run with --bn-momentum 0.99 (the
default before batch norms kept the node's momentum) to show what the
node's momentum (0.9, PyTorch's 0.1) is worth.

  build-ref/venv/bin/python bench/onnx_train_bn.py [--limit 12000]
      [--test-limit 10000] [--epochs 1] [--seeds 1,2,3]
"""
import argparse
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "reference"))
import test_train_onnx_bn_dropout as t  # noqa: E402
from reftest import dlc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--limit", type=int, default=12000)
    p.add_argument("--test-limit", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seeds", default="1,2,3")
    a = p.parse_args()
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            d, torch_acc = t.run(a.limit, a.test_limit, a.epochs, seed, tmp, 1.0)
            r = dlc("train", os.path.join(tmp, "cnn_train.onnx"), "--loss",
                    "cross_entropy", "--limit", str(a.limit), "--test-limit",
                    str(a.test_limit), "--epochs", str(a.epochs), "--batch",
                    "32", "--seed", str(seed), "--bn-momentum", "0.99")
            old = float(re.findall(r"test accuracy: ([0-9.]+)", r.stdout)[-1])
            rows.append((seed, d, torch_acc, old))
    print(f"\n{a.limit} training images, {a.epochs} epoch(s), "
          f"{a.test_limit} test images: test accuracy")
    print("seed  dlc (node's momentum 0.9)  PyTorch  dlc --bn-momentum 0.99")
    for seed, d, pt, old in rows:
        print(f"{seed:4d}  {d:25.4f}  {pt:7.4f}  {old:21.4f}")
    mean = lambda i: sum(r[i] for r in rows) / len(rows)  # noqa: E731
    print(f"mean  {mean(1):25.4f}  {mean(2):7.4f}  {mean(3):21.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
