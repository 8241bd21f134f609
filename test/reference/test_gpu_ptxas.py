"""ResNet-18 and MobileNetV2 (torchvision, random weights, exported to ONNX
with a symbolic batch) compile with `dlc compile --target nvptx` for sm_80
and sm_90, and ptxas accepts the PTX. Skipped (exit 77) without torch and
torchvision, or without ptxas (scripts/reference-env.sh installs it from the
PyPI wheel nvidia-cuda-nvcc-cu12; DLC_PTXAS overrides)."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from reftest import SKIP, dlc, require, source_dir

torch, torchvision = require("torch", "torchvision")


def find_ptxas():
    if os.environ.get("DLC_PTXAS"):
        return os.environ["DLC_PTXAS"]
    venv = os.path.join(source_dir(), "build-ref", "venv", "lib")
    for pattern in ("python3*/site-packages/nvidia/cuda_nvcc/bin/ptxas",
                    "python3*/site-packages/triton/backends/nvidia/bin/ptxas"):
        for path in glob.glob(os.path.join(venv, pattern)):
            if os.access(path, os.X_OK):
                return path
    return shutil.which("ptxas")


ptxas = find_ptxas()
if not ptxas:
    print("SKIPPED: no ptxas; run scripts/reference-env.sh (nvidia-cuda-nvcc-cu12) "
          "or set DLC_PTXAS")
    sys.exit(SKIP)

models = {
    "resnet18": torchvision.models.resnet18,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}
with tempfile.TemporaryDirectory() as tmp:
    for name, make in models.items():
        torch.manual_seed(0)
        model = make(weights=None).eval()
        path = os.path.join(tmp, name + ".onnx")
        torch.onnx.export(model, (torch.randn(2, 3, 224, 224),), path,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          opset_version=17, dynamo=False)
        for arch in ("sm_80", "sm_90"):
            ptx = os.path.join(tmp, f"{name}_{arch}.ptx")
            dlc("compile", "--target", "nvptx", "--gpu-arch", arch, path, "-o", ptx)
            with open(ptx) as f:
                text = f.read()
            entries = text.count(".entry")
            assert entries > 10, f"{name}: only {entries} kernels"
            assert f".target {arch}" in text
            proc = subprocess.run([ptxas, f"-arch={arch}", ptx, "-o", ptx + ".cubin"],
                                  capture_output=True, text=True)
            assert proc.returncode == 0, f"ptxas {name} {arch}:\n{proc.stderr}"
            print(f"{name} {arch}: {entries} kernels, ptxas ok "
                  f"({os.path.getsize(ptx + '.cubin')} bytes of cubin)")
print("PASS")
