"""dlc on an NVIDIA GPU against the interpreter, the ONNX expected outputs and
PyTorch CUDA, in one run on the same machine. scripts/gpu-check.sh runs each
part on a device machine from a bundle (scripts/gpu-bundle.sh); every part
drives the `dlc` binary only (the device has no compiler).

  ops    every op's example: `dlc run --device cuda` vs `--engine interp`
  onnx   ONNX backend node/simple tests through `dlc run --device cuda`
  gemm   4096^3 fp32 matmul: `dlc bench --device cuda` vs torch.mm (TF32 off)
  models ResNet-18 and MobileNetV2, batch 1 and 64: dlc vs PyTorch CUDA eager
         (batch 1 also without CUDA graphs)
  train  the Keras tutorial CNN (a), one epoch of Fashion-MNIST, both sides

Each prints one summary line starting with "RESULT".
"""
import argparse
import concurrent.futures as cf
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np


def sh(cmd, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def sanitize(name):
    s = "".join(c if c.isalnum() or c in "_.-" else "_" for c in name)
    return s or "_"


def close(got, want):
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f":
        g, w = got.astype(np.float64), want.astype(np.float64)
        ok = (np.isnan(g) & np.isnan(w)) | (g == w) | (np.abs(g - w) <= 1e-7 + 1e-3 * np.abs(w))
        return bool(ok.all())
    return bool((got == want).all())


def part_ops(a):
    names = sorted(f[:-4] for f in os.listdir(a.examples) if f.endswith(".dlc"))

    def one(name):
        path = os.path.join(a.examples, name + ".dlc")
        with open(path) as f:
            signature = f.readline()
        dims = ["--dim", "N=7"] if re.search(r"[\[,]N[\],]", signature) else []
        with tempfile.TemporaryDirectory() as t:
            ref = sh([a.dlc, "run", path, "--random-inputs", *dims, "--seed", "3",
                      "--engine", "interp", "--out", t + "/ref"])
            if ref.returncode:
                return name, "skip", "interpreter: " + ref.stderr.strip()[:120]
            gpu = sh([a.dlc, "run", path, "--random-inputs", *dims, "--seed", "3",
                      "--device", a.device, "--engine", "jit", "--out", t + "/gpu"])
            if gpu.returncode:
                return name, "fail", gpu.stderr.strip()[:200]
            for f in sorted(os.listdir(t + "/ref")):
                if not close(np.load(t + "/gpu/" + f), np.load(t + "/ref/" + f)):
                    return name, "fail", f + " differs"
            return name, "pass", ""

    with cf.ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(one, names))
    for name, status, why in rows:
        print(f"{name:24} {status:5} {why}")
    ran = [r for r in rows if r[1] != "skip"]
    passed = sum(r[1] == "pass" for r in rows)
    print(f"RESULT ops: {passed}/{len(ran)} ops' GPU results match the interpreter "
          f"({len(rows) - len(ran)} examples the interpreter cannot run on random inputs)")


def part_onnx(a):
    import onnx
    from onnx import numpy_helper

    cases = []
    for suite in ("node", "simple"):
        root = os.path.join(a.data, suite)
        if os.path.isdir(root):
            cases += [os.path.join(root, d) for d in sorted(os.listdir(root))]

    def one(case):
        try:
            return one_case(case)
        except Exception as e:  # noqa: BLE001 (a test the runner cannot read)
            return case, False, f"{type(e).__name__}: {e}"[:200]

    def one_case(case):
        model = os.path.join(case, "model.onnx")
        try:
            g = onnx.load(model, load_external_data=False).graph
        except Exception as e:  # noqa: BLE001
            return case, False, f"load: {e}"
        inits = {i.name for i in g.initializer}
        ins = [i.name for i in g.input if i.name not in inits]
        outs = [o.name for o in g.output]
        ds = os.path.join(case, "test_data_set_0")
        with tempfile.TemporaryDirectory() as t:
            cmd = [a.dlc, "run", model, "--device", a.device, "--out", t + "/out"]
            for k, name in enumerate(ins):
                pb = os.path.join(ds, f"input_{k}.pb")
                if not os.path.exists(pb):
                    return case, False, "input is not a tensor"
                tp = onnx.TensorProto()
                with open(pb, "rb") as f:
                    tp.ParseFromString(f.read())
                np.save(f"{t}/in{k}.npy", numpy_helper.to_array(tp))
                cmd += ["--input", f"{name}={t}/in{k}.npy"]
            r = sh(cmd, timeout=120)
            if r.returncode:
                return case, False, r.stderr.strip()[:200]
            for k, name in enumerate(outs):
                tp = onnx.TensorProto()
                with open(os.path.join(ds, f"output_{k}.pb"), "rb") as f:
                    tp.ParseFromString(f.read())
                want = numpy_helper.to_array(tp)
                got_path = f"{t}/out/{sanitize(name)}.npy"
                if not os.path.exists(got_path) or not close(np.load(got_path), want):
                    return case, False, f"output {k} differs"
            return case, True, ""

    if a.limit:
        cases = cases[:a.limit]
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(one, cases))
    for case, ok, why in rows:
        if not ok and a.verbose:
            print(f"FAIL {os.path.basename(case)}: {why}")
    node = [r for r in rows if "/node/" in r[0]]
    print(f"RESULT onnx: node {sum(r[1] for r in node)}/{len(node)}, "
          f"all {sum(r[1] for r in rows)}/{len(rows)} pass with --device {a.device}")


def torch_ms(fn, runs):
    import torch
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1e3)
    return sorted(ms)[len(ms) // 2]


def dlc_bench_ms(a, model, batch, extra=()):
    r = sh([a.dlc, "bench", model, "--batch", str(batch), "--runs", str(a.runs),
            "--device", a.device, *extra])
    if r.returncode:
        return None, r.stderr.strip()[:200]
    return float(re.search(r"median latency: ([0-9.]+) ms", r.stdout).group(1)), ""


def part_gemm(a):
    import torch
    n = 4096
    path = os.path.join(a.work, "gemm4096.dlc")
    with open(path, "w") as f:
        f.write(f"func @gemm(%a: f32[{n},{n}], %b: f32[{n},{n}]) -> (c: f32[{n},{n}]) {{\n"
                "  %c = matmul %a, %b\n  return %c\n}\n")
    flop = 2.0 * n ** 3
    x = torch.randn(n, n, device="cuda")
    y = torch.randn(n, n, device="cuda")
    lines = []
    precisions = [("fp32", False, torch.float32)]
    if "--precision" in sh([a.dlc, "bench", "--help"]).stdout:
        precisions += [("tf32", True, torch.float32), ("bf16", False, torch.bfloat16)]
    for name, tf32, dt in precisions:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        xs, ys = x.to(dt), y.to(dt)
        t_ms = torch_ms(lambda: torch.mm(xs, ys), a.runs)
        extra = [] if name == "fp32" else ["--precision", name]
        d_ms, why = dlc_bench_ms(a, path, 1, extra)
        ratio = f"{t_ms / d_ms:.2f}x of cuBLAS" if d_ms else f"dlc failed: {why}"
        d_tf = f"{flop / d_ms / 1e9:.1f}" if d_ms else "-"
        lines.append(f"gemm {name}: dlc {d_tf} TFLOP/s, torch.mm {flop / t_ms / 1e9:.1f} "
                     f"TFLOP/s ({ratio})")
    torch.backends.cuda.matmul.allow_tf32 = False
    for line in lines:
        print("RESULT " + line)


def part_models(a):
    import torch
    import torchvision
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name, ctor in (("resnet18", torchvision.models.resnet18),
                       ("mobilenet_v2", torchvision.models.mobilenet_v2)):
        torch.manual_seed(0)
        model = ctor(weights=None).eval()
        path = os.path.join(a.work, name + ".onnx")
        torch.onnx.export(model, (torch.randn(2, 3, 224, 224),), path, input_names=["input"],
                          output_names=["output"], opset_version=17, dynamo=False,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        gpu_model = model.cuda()
        for batch in (1, 64):
            x = torch.randn(batch, 3, 224, 224)
            np.save(os.path.join(a.work, "x.npy"), x.numpy())
            with torch.no_grad():
                want = gpu_model(x.cuda()).cpu().numpy()
                xc = x.cuda()
                t_ms = torch_ms(lambda: gpu_model(xc), a.runs)
            out = os.path.join(a.work, "out")
            r = sh([a.dlc, "run", path, "--input", f"input={a.work}/x.npy", "--device", a.device,
                    "--out", out])
            if r.returncode:
                err = "dlc run failed: " + r.stderr.strip()[:200]
            else:
                got = np.load(os.path.join(out, "output.npy"))
                err = f"rel. error {np.abs(got - want).max() / np.abs(want).max():.2e}"
            d_ms, why = dlc_bench_ms(a, path, batch)
            ratio = f"{t_ms / d_ms:.2f}x PyTorch's speed" if d_ms else f"dlc bench failed: {why}"
            d_txt = f"{d_ms:.3f}" if d_ms else "-"
            graphs = ""
            if batch == 1 and "--cuda-graphs" in sh([a.dlc, "bench", "--help"]).stdout:
                # Launch overhead: the same bench with every kernel launched
                # directly instead of replayed as CUDA graphs.
                n_ms, _ = dlc_bench_ms(a, path, batch, ["--cuda-graphs=false"])
                graphs = f"; without CUDA graphs {n_ms:.3f} ms" if n_ms else ""
            print(f"RESULT {name} batch {batch}: dlc {d_txt} ms, PyTorch CUDA eager "
                  f"{t_ms:.3f} ms ({ratio}){graphs}; {err}")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


def part_train(a):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pytorch_side_by_side import KerasCnn
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    r = sh([a.dlc, "train", "--model", "keras-cnn", "--data", f"fashion-mnist:{a.data}",
            "--optimizer", "adam", "--lr", "0.001", "--epochs", "1", "--batch", "64",
            "--seed", "1", "--device", a.device], timeout=900)
    if r.returncode:
        dlc_txt, dlc_s = "dlc train failed: " + r.stderr.strip()[:300], None
    else:
        dlc_s = float(re.findall(r"images/s, ([0-9.]+)s", r.stdout)[-1])
        acc = float(re.search(r"test accuracy: ([0-9.]+)", r.stdout).group(1))
        dlc_txt = f"dlc {dlc_s:.2f} s/epoch, test accuracy {acc:.4f}"
    torch.manual_seed(1)
    d = a.data
    xs = torch.from_numpy(read_idx(f"{d}/train-images-idx3-ubyte.gz").astype(np.float32) / 255)
    ys = torch.from_numpy(read_idx(f"{d}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(read_idx(f"{d}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    yt = torch.from_numpy(read_idx(f"{d}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    xs, ys = xs.unsqueeze(1).cuda(), ys.cuda()
    xt, yt = xt.unsqueeze(1).cuda(), yt.cuda()
    model = KerasCnn().cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    perm = torch.randperm(len(xs), device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(0, len(xs), 64):
        idx = perm[i:i + 64]
        opt.zero_grad()
        F.cross_entropy(model(xs[idx]), ys[idx]).backward()
        opt.step()
    torch.cuda.synchronize()
    torch_s = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        tacc = float((model(xt).argmax(1) == yt).float().mean())
    ratio = f" ({dlc_s / torch_s:.2f}x PyTorch's epoch time)" if dlc_s else ""
    print(f"RESULT train keras-cnn (a): {dlc_txt}; PyTorch CUDA {torch_s:.2f} s/epoch, "
          f"test accuracy {tacc:.4f}{ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["ops", "onnx", "gemm", "models", "train"])
    ap.add_argument("--dlc", required=True)
    ap.add_argument("--examples", help="ops: folder of op examples (.dlc)")
    ap.add_argument("--data", help="onnx: onnx-backend-tests; train: fashion-mnist folder")
    ap.add_argument("--work", default=tempfile.gettempdir())
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--device", default="cuda",
                    help="dlc's device (cpu checks this script on a machine without a GPU)")
    ap.add_argument("--limit", type=int, default=0, help="onnx: the first N tests only")
    a = ap.parse_args()
    globals()["part_" + a.part](a)


if __name__ == "__main__":
    main()
