"""Peak resident memory of inference, side by side: each engine runs the same
PyTorch-exported ONNX model in a fresh process of its own, and the peak RSS
of that process (getrusage's ru_maxrss, read by the parent with wait4) is
reported in MiB:

  onnxruntime   python3 + numpy + onnxruntime: create the session, run RUNS times
  PyTorch       python3 + torch: build the model, run it RUNS times (no_grad)
  dlc JIT       `dlc bench MODEL --batch B --runs RUNS`: import, optimize,
                compile with LLVM, run; "cold" with an empty kernel cache,
                "warm" when an earlier process filled it
  dlc AOT       a C program linked with the model's `dlc compile` library and
                libdlc_runtime: create, run RUNS times (bench/aot_run.c)

The "empty" rows are the same processes before any model: python3 with the
library imported, and `dlc --version`, so that a reader can tell the
engine's own footprint from the model's.

Needs the reference environment with torch (scripts/reference-env.sh --torch):
  build-ref/venv/bin/python3 bench/peak_memory.py [--models resnet18,...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pytorch_models import export, models  # noqa: E402
from rss import peak_mib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)

ORT_CHILD = """
import sys, numpy as np, onnxruntime as ort
path, batch, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if path == "-":
    sys.exit(0)
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [batch if not isinstance(d, int) else d for d in inp.shape]
x = np.zeros(shape, np.float32)
for _ in range(runs):
    sess.run(None, {inp.name: x})
"""

TORCH_CHILD = """
import sys, torch
sys.path.insert(0, sys.argv[5])
from pytorch_models import models
name, batch, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if name == "-":
    sys.exit(0)
torch.set_num_threads(threads)
make, chw = models()[name]
model = make().eval()
x = torch.zeros(batch, *chw)
with torch.no_grad():
    for _ in range(runs):
        model(x)
"""


def build_aot_runner(dlc, model_path, name, work):
    """Compiles MODEL_PATH with `dlc compile` and links bench/aot_run.c to it."""
    so = os.path.join(work, f"{name}.so")
    subprocess.run([dlc, "compile", model_path, "-o", so, "--name", name], check=True,
                   capture_output=True)
    build = os.path.dirname(os.path.dirname(os.path.abspath(dlc)))
    rtdir = os.path.join(build, "exec")
    exe = os.path.join(work, f"{name}_run")
    subprocess.run(["cc", "-std=c99", "-O2", f"-I{SRC}/exec", f"-I{work}",
                    f"-DMODEL={name}", f"-DMODEL_MACRO={name.upper()}",
                    f'-DMODEL_HEADER="{name}.h"', os.path.join(HERE, "aot_run.c"), so,
                    f"-Wl,-rpath,{work}", f"-L{rtdir}", f"-Wl,-rpath,{rtdir}",
                    "-ldlc_runtime", "-o", exe], check=True)
    return exe, rtdir


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_b0,keras_cnn")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dlc", default=os.path.join(SRC, "build", "tools", "dlc"))
    args = ap.parse_args()
    py = sys.executable
    t, r = str(args.threads), str(args.runs)

    def row(what, batch, ort_mib, torch_mib, cold, warm, aot):
        print(f"| {what} | {batch} | {ort_mib:.0f} | {torch_mib:.0f} | {cold:.0f} | "
              f"{warm:.0f} | {aot:.0f} |", flush=True)

    print("| model | batch | onnxruntime MiB | PyTorch MiB | dlc JIT cold MiB | "
          "dlc JIT warm MiB | dlc AOT MiB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        empty_ort = peak_mib([py, "-c", ORT_CHILD, "-", "1", t, r])
        empty_torch = peak_mib([py, "-c", TORCH_CHILD, "-", "1", t, r, HERE])
        empty_dlc = peak_mib([args.dlc, "--version"])
        print(f"| (empty process) | - | {empty_ort:.0f} | {empty_torch:.0f} | "
              f"{empty_dlc:.0f} | {empty_dlc:.0f} | - |", flush=True)
        for name in args.models.split(","):
            make, chw = models()[name]
            path = os.path.join(work, f"{name}.onnx")
            export(make().eval(), chw, path, "legacy")
            exe, rtdir = build_aot_runner(args.dlc, path, name, work)
            env = dict(os.environ, LD_LIBRARY_PATH=rtdir)
            for batch in [b for b in args.batches.split(",")]:
                ort_mib = peak_mib([py, "-c", ORT_CHILD, path, batch, t, r])
                torch_mib = peak_mib([py, "-c", TORCH_CHILD, name, batch, t, r, HERE])
                cache = os.path.join(work, f"cache-{name}-{batch}")
                bench = [args.dlc, "bench", path, "--batch", batch, "--threads", t,
                         "--runs", r, "--cache-dir", cache]
                cold = peak_mib(bench)
                warm = peak_mib(bench)
                aot = peak_mib([exe, batch, r, t], env=env)
                row(name, batch, ort_mib, torch_mib, cold, warm, aot)


if __name__ == "__main__":
    main()
