"""The headline of ONNX training: a small CNN with BatchNorm and Dropout,
exported by PyTorch in training mode (torch.onnx.export(...,
training=TrainingMode.TRAINING), the TorchScript exporter), is trained as
is by `dlc train model.onnx --loss cross_entropy` on a subset of
Fashion-MNIST and reaches the test accuracy PyTorch reaches with the same
recipe (Adam 1e-3, batch 32, pixels / 255, the same initial weights) within
noise; no warning is printed. The model written back (-o trained.onnx) is
in inference form (BatchNormalization without training_mode, with the
trained running statistics) and onnxruntime predicts what `dlc run` does.

Small by default (CI); bench/onnx_train_bn.py runs it at full size:
  python3 test_train_onnx_bn_dropout.py [--limit N] [--test-limit M]
      [--epochs E] [--seed S]
"""
import argparse
import gzip
import os
import re
import sys
import tempfile

from reftest import SKIP, dlc, require

np, onnx, ort, torch = require("numpy", "onnx", "onnxruntime", "torch")
from onnx import numpy_helper  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(prefix, count):
    with gzip.open(os.path.join(FASHION, prefix + "-images-idx3-ubyte.gz")) as f:
        data = f.read()
    n = min(int.from_bytes(data[4:8], "big"), count)
    images = np.frombuffer(data[16:16 + n * 784], dtype=np.uint8)
    images = (images.reshape(n, 1, 28, 28) / 255.0).astype(np.float32)
    with gzip.open(os.path.join(FASHION, prefix + "-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read()[8:8 + n], dtype=np.uint8).astype(np.int64)
    return images, labels


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 64),
            nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.features(x))


def export_training(model, path):
    """The TorchScript exporter in training mode (BatchNormalization with
    training_mode = 1 and its running outputs, Dropout with training_mode
    true)."""
    import warnings
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(2, 1, 28, 28),), path,
                          training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False, dynamo=False,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


def train_torch(model, x, y, epochs, seed):
    """The recipe `dlc train` runs: Adam 1e-3, batch 32, shuffled every
    epoch, cross-entropy on logits."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            if len(idx) < 2:  # BatchNorm1d needs two examples in training
                continue
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def run(limit, test_limit, epochs, seed, tmp, tolerance):
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    net = Net()
    model_path = os.path.join(tmp, "cnn_train.onnx")
    export_training(net, model_path)
    m = onnx.load(model_path)
    bns = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    drops = [n for n in m.graph.node if n.op_type == "Dropout"]
    assert len(bns) == 3 and len(drops) == 2, [n.op_type for n in m.graph.node]
    for n in bns:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        assert attrs.get("training_mode") == 1, attrs
        assert abs(attrs["momentum"] - 0.9) < 1e-6, attrs
        assert len(n.output) == 3, n.output

    x, y = read_idx("train", limit)
    tx, ty = read_idx("t10k", test_limit)
    train_torch(net, x, y, epochs, seed)
    torch_acc = accuracy(net, tx, ty)

    trained = os.path.join(tmp, "trained.onnx")
    r = dlc("train", model_path, "--loss", "cross_entropy", "--limit",
            str(limit), "--test-limit", str(test_limit), "--epochs",
            str(epochs), "--batch", "32", "--seed", str(seed), "-o", trained)
    print(r.stdout.strip())
    assert "warning" not in r.stderr, r.stderr
    found = re.findall(r"test[^\n]*?accuracy[^0-9]*([0-9.]+)", r.stdout)
    assert found, r.stdout
    dlc_acc = float(found[-1])
    if dlc_acc > 1:
        dlc_acc /= 100
    print(f"test accuracy after {epochs} epoch(s) on {limit} images: dlc "
          f"{dlc_acc:.4f}, PyTorch {torch_acc:.4f} ({test_limit} test images)")
    assert abs(dlc_acc - torch_acc) <= tolerance, (dlc_acc, torch_acc)

    # The trained model: inference form, running statistics trained.
    t = onnx.load(trained)
    onnx.checker.check_model(t)
    init = {i.name: numpy_helper.to_array(i) for i in t.graph.initializer}
    for n in t.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "BatchNormalization":
            assert attrs.get("training_mode", 0) == 0, attrs
            assert abs(attrs["momentum"] - 0.9) < 1e-6, attrs
            mean, var = init[n.input[3]], init[n.input[4]]
            assert not np.allclose(mean, 0) and not np.allclose(var, 1), n.name
        if n.op_type == "Dropout":
            assert len(n.input) < 3, n.input  # no training_mode: inference
    sample = tx[:64]
    x_path = os.path.join(tmp, "x.npy")
    np.save(x_path, sample)
    ref = ort.InferenceSession(trained, providers=["CPUExecutionProvider"]).run(
        None, {"input": sample})[0]
    out = os.path.join(tmp, "out")
    dlc("run", trained, "--input", f"input={x_path}", "--out", out)
    mine = np.load(os.path.join(out, "logits.npy"))
    assert np.array_equal(ref.argmax(1), mine.argmax(1)), \
        (ref.argmax(1), mine.argmax(1))
    diff = float(np.max(np.abs(ref - mine)))
    assert diff < 1e-3 * max(1.0, float(np.max(np.abs(ref)))), diff
    print(f"trained.onnx: onnxruntime and dlc agree on {len(sample)} test "
          f"images (max |diff| {diff:.2e})")
    return dlc_acc, torch_acc


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--limit", type=int, default=1500)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=0.08)
    a = p.parse_args()
    if not os.path.isdir(FASHION):
        print("SKIPPED: Fashion-MNIST (Debian's dataset-fashion-mnist) is not "
              "installed")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        run(a.limit, a.test_limit, a.epochs, a.seed, tmp, a.tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
