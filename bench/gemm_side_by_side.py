"""fp32 GEMM, dlc against torch.mm (MKL or whatever BLAS PyTorch was built
with) in one run, on 1 and 2 threads: 1024^3, the GEMMs of the tutorial
CNN's training step at batch 64 (forward, weight and input gradients of its
convolutions as im2col GEMMs, and its dense layers) and two ResNet-18 layers
at batch 1.

dlc's time is the matmul kernel's own time from `dlc bench --profile` on a
one-op model (both operands are inputs, random, of static shape); its share
of the FMA peak is against the peak that dlc measures in the same process.
PyTorch's is the median wall time of torch.mm on tensors of the same shapes.

Needs the reference environment with torch (scripts/reference-env.sh --torch):
  build-ref/venv/bin/python3 bench/gemm_side_by_side.py [--threads 1,2]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from machine import cpu_model  # noqa: E402

# name, m, k, n: out[m, n] = a[m, k] @ b[k, n]
SHAPES = [
    ("1024^3", 1024, 1024, 1024),
    ("CNN conv2 forward", 64, 288, 7744),
    ("CNN conv2 dW", 64, 7744, 288),
    ("CNN conv2 dX", 288, 64, 7744),
    ("CNN conv1 dW", 32, 43264, 9),
    ("CNN dense forward", 64, 1600, 64),
    ("CNN dense dW", 1600, 64, 64),
    ("ResNet-18 layer3", 256, 2304, 196),
    ("ResNet-18 layer4", 49, 4608, 512),
]

KERNEL = re.compile(r"^\s*([0-9.]+)\s+[0-9.]+%\s+([0-9.]+)\s+([0-9.]+)%\s+k\d+_matmul")
PEAK = re.compile(r"fp32 FMA peak ([0-9.]+) GFLOP/s per core")


def dlc_gemm(dlc, tmp, m, k, n, threads, runs):
    """(ms, GFLOP/s, % of peak x threads, peak per core) of dlc's kernel."""
    path = os.path.join(tmp, f"mm_{m}_{k}_{n}.dlc")
    with open(path, "w") as f:
        f.write(f"func @main(%a: f32[{m},{k}], %b: f32[{k},{n}]) -> (y: f32[{m},{n}]) {{\n"
                f"  %y = matmul %a, %b\n  return %y\n}}\n")
    proc = subprocess.run([dlc, "bench", path, "--threads", str(threads), "--runs", str(runs),
                           "--profile"], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dlc bench failed on {path}:\n{proc.stderr}")
    peak = None
    for line in proc.stdout.splitlines():
        if (p := PEAK.search(line)):
            peak = float(p.group(1))
        if (km := KERNEL.match(line)):
            return float(km.group(1)), float(km.group(2)), float(km.group(3)), peak
    sys.exit(f"no matmul kernel in dlc's profile of {path}:\n{proc.stdout}")


def torch_gemm_ms(m, k, n, threads, runs):
    torch.set_num_threads(threads)
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        torch.mm(a, b)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--dlc", default=os.path.join(os.path.dirname(__file__), "..",
                                                  "build", "tools", "dlc"))
    a = ap.parse_args()
    print(f"CPU: {cpu_model()}; PyTorch {torch.__version__}, "
          f"BLAS: {'MKL' if torch.backends.mkl.is_available() else 'not MKL'}")
    print()
    print("| GEMM | m x k x n | threads | dlc GFLOP/s | dlc % of peak | torch.mm GFLOP/s "
          "| torch.mm % of peak | dlc / torch.mm |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for threads in [int(t) for t in a.threads.split(",")]:
            for name, m, k, n in SHAPES:
                ms, gf, pct, peak = dlc_gemm(a.dlc, tmp, m, k, n, threads, a.runs)
                t_ms = torch_gemm_ms(m, k, n, threads, a.runs)
                t_gf = 2.0 * m * k * n / t_ms / 1e6
                t_pct = 100.0 * t_gf / (peak * threads) if peak else float("nan")
                print(f"| {name} | {m} x {k} x {n} | {threads} | {gf:.1f} | {pct:.1f}% | "
                      f"{t_gf:.1f} | {t_pct:.1f}% | {gf / t_gf:.2f} |", flush=True)


if __name__ == "__main__":
    main()
