#!/usr/bin/env python3
"""The PyTorch side of workload (b): the PyTorch examples' MNIST Net trained
on Fashion-MNIST (Debian's dataset-fashion-mnist files) with SGD lr 0.01,
momentum 0.5, NLL loss, batch 64, shuffled, one epoch; prints the test
accuracy. A benchmark reference only (needs torch); dlc never runs it.

    build-ref/venv/bin/python3 bench/torch_pytorch_net.py [--seed S]
        [--normalize MEAN,STD | --no-normalize] [--epochs E] [--threads T]
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Net(nn.Module):
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
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--normalize", default="0.1307,0.3081")
    p.add_argument("--no-normalize", action="store_true")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    def load(split):
        x = idx(f"{DATA}/{split}-images-idx3-ubyte.gz").astype(np.float32) / 255
        if not a.no_normalize:
            mean, std = (float(v) for v in a.normalize.split(","))
            x = (x - mean) / std
        y = idx(f"{DATA}/{split}-labels-idx1-ubyte.gz").astype(np.int64)
        return torch.from_numpy(x[:, None]), torch.from_numpy(y)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    for epoch in range(a.epochs):
        model.train()
        start = time.time()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            loss = F.nll_loss(model(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
        secs = time.time() - start
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                          for i in range(0, len(xte), 1000))
        print(f"epoch {epoch + 1}: {secs:.1f} s, test accuracy {correct / len(xte):.4f}")


if __name__ == "__main__":
    main()
