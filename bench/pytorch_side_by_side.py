"""Side-by-side training benchmark: the issue's tutorial workloads trained by
PyTorch and by `dlc train` in one run, on the same machine, data, recipe and
thread count. Prints seconds per epoch (training only, as dlc reports it),
test accuracy and peak resident memory for both (PyTorch's is this script's
own process, data set and torch import included, also printed before
training; dlc's is the `dlc train` process, data set included).

Needs the reference environment with torch (scripts/reference-env.sh --torch):
  build-ref/venv/bin/python3 bench/pytorch_side_by_side.py --workload a --epochs 1

Workloads:
  a  Keras tutorial CNN, Adam 1e-3, sparse categorical cross-entropy, inputs x/255
  b  PyTorch examples Net, SGD lr 0.01 momentum 0.5, NLL, inputs normalized
     with (0.1307, 0.3081) as in that example
  d  small Keras CNN, Adam 1e-3

Each side shuffles every epoch and times the training loop only (not the
test evaluation). PyTorch initializes with its defaults; dlc's models with
their tutorial's (Glorot uniform for the Keras ones, PyTorch's scheme for (b)).
"""
import argparse
import gzip
import os
import re
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from rss import run_measured  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class KerasCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.c2 = nn.Conv2d(32, 64, 3)
        self.c3 = nn.Conv2d(64, 64, 3)
        self.d1 = nn.Linear(576, 64)
        self.d2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        return self.d2(F.relu(self.d1(torch.flatten(x, 1))))  # logits


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3)
        self.d1 = nn.Linear(32 * 13 * 13, 128)
        self.d2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        return self.d2(F.relu(self.d1(torch.flatten(x, 1))))


class PytorchNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(x)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        x = self.fc2(self.dropout2(x))
        return F.log_softmax(x, dim=1)


WORKLOADS = {
    # name: (torch model, dlc model, optimizer, lr, normalize, loss)
    "a": (KerasCnn, "keras-cnn", "adam", 1e-3, None, "ce"),
    "b": (PytorchNet, "pytorch-net", "momentum", 1e-2, (0.1307, 0.3081), "nll"),
    "d": (SmallCnn, "small-cnn", "adam", 1e-3, None, "ce"),
}


def torch_run(workload, epochs, batch, threads, seed):
    model_cls, _, opt_name, lr, norm, loss_name = WORKLOADS[workload]
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    xs = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").astype(np.float32) / 255
    ys = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    yt = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if norm:
        xs = (xs - norm[0]) / norm[1]
        xt = (xt - norm[0]) / norm[1]
    xs = torch.from_numpy(xs).unsqueeze(1)
    xt = torch.from_numpy(xt).unsqueeze(1)
    ys, yt = torch.from_numpy(ys), torch.from_numpy(yt)
    model = model_cls()
    if opt_name == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    loss_fn = F.nll_loss if loss_name == "nll" else F.cross_entropy
    epoch_s = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xs))
        start = time.perf_counter()
        for i in range(0, len(xs), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum())
                      for i in range(0, len(xt), 1000))
    return epoch_s, correct / len(xt)


def dlc_run(dlc, workload, epochs, batch, threads, seed):
    _, name, opt_name, lr, norm, _ = WORKLOADS[workload]
    cmd = [dlc, "train", "--model", name, "--data", "fashion-mnist",
           "--optimizer", opt_name, "--lr", str(lr), "--epochs", str(epochs),
           "--batch", str(batch), "--threads", str(threads), "--seed", str(seed)]
    if opt_name == "momentum":
        cmd += ["--momentum", "0.5"]
    if norm:
        cmd += ["--normalize", f"{norm[0]},{norm[1]}"]
    code, out, err, peak = run_measured(cmd)
    if code != 0:
        sys.exit(f"dlc train failed:\n{out}\n{err}")
    # Each epoch line ends with "N images/s, T.Ts"; the last line has the accuracy.
    epoch_s = [float(t) for t in re.findall(r"images/s, ([0-9.]+)s", out)]
    acc = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    return epoch_s, acc, peak, " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="a")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dlc", default=os.path.join(os.path.dirname(__file__), "..",
                                                  "build", "tools", "dlc"))
    ap.add_argument("--skip-dlc", action="store_true", help="train with PyTorch only")
    ap.add_argument("--no-normalize", action="store_true",
                    help="pixels in [0, 1] for (b) too (both sides)")
    args = ap.parse_args()
    if args.no_normalize:
        w = WORKLOADS[args.workload]
        WORKLOADS[args.workload] = (*w[:4], None, w[5])

    t_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_s, t_acc = torch_run(args.workload, args.epochs, args.batch, args.threads, args.seed)
    t_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch {torch.__version__}: s/epoch {' '.join(f'{s:.1f}' for s in t_s)}, "
          f"test accuracy {t_acc:.4f}, peak RSS {t_peak:.0f} MiB "
          f"({t_base:.0f} MiB with torch imported, before training)", flush=True)
    if args.skip_dlc:
        return
    d_s, d_acc, d_peak, cmd = dlc_run(args.dlc, args.workload, args.epochs, args.batch,
                                      args.threads, args.seed)
    print(f"dlc ({cmd}): s/epoch {' '.join(f'{s:.1f}' for s in d_s)}, "
          f"test accuracy {d_acc:.4f}, peak RSS {d_peak:.0f} MiB")
    print(f"| ({args.workload}) | {args.epochs} | {args.threads} | "
          f"{min(t_s):.1f} s | {t_acc:.4f} | {t_peak:.0f} MiB | {min(d_s):.1f} s | "
          f"{d_acc:.4f} | {d_peak:.0f} MiB | {min(d_s) / min(t_s):.2f}x |")


if __name__ == "__main__":
    main()
