"""PyTorch-exported models through dlc: export with torch.onnx.export, import,
compile and run with `dlc run`, compare with PyTorch's own outputs (relative
error over the whole output), then time inference with PyTorch, onnxruntime
and `dlc bench` side by side in one run.

Needs the reference environment with torch and torchvision
(scripts/reference-env.sh --torch):
  build-ref/venv/bin/python3 bench/pytorch_models.py [--models resnet18,...]
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
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from pytorch_side_by_side import KerasCnn, PytorchNet  # noqa: E402


def models():
    return {
        "resnet18": (lambda: torchvision.models.resnet18(weights=None), (3, 224, 224)),
        "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), (3, 224, 224)),
        "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(weights=None),
                               (3, 224, 224)),
        "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None),
                            (3, 224, 224)),
        "keras_cnn": (KerasCnn, (1, 28, 28)),
        "pytorch_net": (PytorchNet, (1, 28, 28)),
    }


def export(model, chw, path, exporter):
    """Writes MODEL as ONNX with a symbolic batch dim, with PyTorch's
    TorchScript-based exporter (opset 17) or its torch.export-based one (the
    default since PyTorch 2.9, opset 18 and up)."""
    x = torch.randn(2, *chw)
    if exporter == "legacy":
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          opset_version=17, dynamo=False)
    else:
        batch = torch.export.Dim("batch", min=1, max=1024)
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["output"],
                          dynamic_shapes={"x": {0: batch}}, dynamo=True,
                          external_data=False)


def npy_save(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def dlc_outputs(dlc, model_path, x, tmp):
    npy_save(os.path.join(tmp, "x.npy"), x)
    out_dir = os.path.join(tmp, "out")
    proc = subprocess.run([dlc, "run", model_path, "--input", f"input={tmp}/x.npy",
                           "--out", out_dir], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dlc run failed:\n{proc.stdout}\n{proc.stderr}")
    return np.load(os.path.join(out_dir, "output.npy"))


def median_ms(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def dlc_bench_ms(dlc, model_path, batch, threads, runs):
    proc = subprocess.run([dlc, "bench", model_path, "--batch", str(batch), "--threads",
                           str(threads), "--runs", str(runs)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dlc bench failed:\n{proc.stdout}\n{proc.stderr}")
    m = re.search(r"median latency: ([0-9.]+) ms", proc.stdout)
    if not m:
        raise RuntimeError(f"unexpected dlc bench output:\n{proc.stdout}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,mobilenet_v2,keras_cnn,pytorch_net")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--exporter", choices=["legacy", "dynamo"], default="legacy")
    ap.add_argument("--dlc", default=os.path.join(os.path.dirname(__file__), "..",
                                                  "build", "tools", "dlc"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    table = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            make, chw = models()[name]
            model = make().eval()
            path = os.path.join(tmp, f"{name}.onnx")
            export(model, chw, path, args.exporter)
            for batch in batches:
                x = torch.randn(batch, *chw)
                with torch.no_grad():
                    ref = model(x).numpy()
                got = dlc_outputs(args.dlc, path, x.numpy(), tmp)
                rel = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
                same = got.shape == ref.shape and rel <= 1e-4
                ok &= same
                print(f"{name} batch {batch}: shape {got.shape}, max |dlc - torch| / max |torch|"
                      f" = {rel:.2e} {'OK' if same else 'MISMATCH'}", flush=True)
                if args.no_timing:
                    continue
                with torch.no_grad():
                    t_ms = median_ms(lambda: model(x), args.runs)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = args.threads
                sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                xn = x.numpy()
                o_ms = median_ms(lambda: sess.run(None, {"input": xn}), args.runs)
                d_ms = dlc_bench_ms(args.dlc, path, batch, args.threads, args.runs)
                table.append(f"| {name} | {batch} | {t_ms:.2f} | {o_ms:.2f} | {d_ms:.2f} | "
                             f"{rel:.1e} |")
    if table:
        print(f"\n| model | batch | PyTorch {torch.__version__} ms | onnxruntime "
              f"{ort.__version__} ms | dlc ms | max rel err vs PyTorch |")
        print("|---|---|---|---|---|---|")
        print("\n".join(table))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
