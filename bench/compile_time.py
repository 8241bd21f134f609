"""Compile time of PyTorch-exported models: dlc's cold compile (empty kernel
cache) and warm compile (a second process with the cache the first one
filled), side by side with onnxruntime's session creation in the same run.

dlc's numbers are the compile time `dlc bench --profile` reports (reading the
model to having every kernel linked); the process wall time of that `dlc
bench --runs 1` is printed beside it. onnxruntime's is the median wall time of
creating an InferenceSession (loading the file and its graph optimizations).

Needs the reference environment with torch and torchvision
(scripts/reference-env.sh --torch):
  build-ref/venv/bin/python3 bench/compile_time.py [--models resnet18,...]
      [--threads 2] [--repeat 1] [--profile]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(__file__))
from machine import cpu_model  # noqa: E402
from pytorch_models import export, models  # noqa: E402

DEFAULT_MODELS = "resnet18,mobilenet_v2,efficientnet_b0"


def ort_session_s(path, threads, repeat):
    times = []
    for _ in range(repeat):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        start = time.perf_counter()
        ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def dlc_compile(dlc, path, threads, cache_dir, profile):
    """One `dlc bench --runs 1` process with the kernel cache in CACHE_DIR:
    (compile seconds as dlc reports them, process wall seconds, the report)."""
    env = dict(os.environ, DLC_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    proc = subprocess.run([dlc, "bench", path, "--runs", "1", "--threads", str(threads),
                           "--profile"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"dlc bench failed:\n{proc.stdout}\n{proc.stderr}")
    m = re.search(r"compile time: ([0-9.]+) s", proc.stdout)
    if not m:
        raise RuntimeError(f"unexpected dlc bench output:\n{proc.stdout}")
    report = proc.stdout[m.start():] if profile else ""
    return float(m.group(1)), wall, report


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="cold and warm compiles per model (medians are printed)")
    ap.add_argument("--profile", action="store_true",
                    help="print dlc's per-phase report of the first cold and warm compile")
    ap.add_argument("--dlc", default=os.path.join(os.path.dirname(__file__), "..",
                                                  "build", "tools", "dlc"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_model()}, {args.threads} threads, onnxruntime {ort.__version__}",
          flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            make, chw = models()[name]
            path = os.path.join(tmp, f"{name}.onnx")
            export(make().eval(), chw, path, "legacy")
            o_s = ort_session_s(path, args.threads, max(3, args.repeat))
            cold, cold_wall, warm, warm_wall = [], [], [], []
            for r in range(args.repeat):
                cache = tempfile.mkdtemp(dir=tmp, prefix=f"cache-{name}-")
                c, cw, crep = dlc_compile(args.dlc, path, args.threads, cache, args.profile)
                w, ww, wrep = dlc_compile(args.dlc, path, args.threads, cache, args.profile)
                cold.append(c)
                cold_wall.append(cw)
                warm.append(w)
                warm_wall.append(ww)
                if r == 0 and args.profile:
                    print(f"\n{name}, cold:\n{crep}{name}, warm:\n{wrep}", flush=True)
            c, w = float(np.median(cold)), float(np.median(warm))
            print(f"{name}: onnxruntime session {o_s:.3f} s, dlc cold {c:.3f} s, "
                  f"warm {w:.3f} s", flush=True)
            rows.append(f"| {name} | {o_s:.3f} | {c:.3f} ({np.median(cold_wall):.2f}) | "
                        f"{w:.3f} ({np.median(warm_wall):.2f}) | {c / o_s:.0f}x | "
                        f"{w / o_s:.1f}x |")
    print(f"\n| model | onnxruntime {ort.__version__} session s | dlc cold s (process) | "
          f"dlc warm s (process) | cold / ort | warm / ort |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
