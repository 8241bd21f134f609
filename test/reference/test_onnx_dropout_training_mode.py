"""Dropout with a training_mode input, as onnxruntime runs it and `dlc run`
does (interpreter and JIT): switched on, elements are dropped with the
ratio and the rest scaled by 1 / (1 - ratio), and the mask output is the
real mask; off, the output is x and the mask all true. training_mode as a
constant (PyTorch's training-mode export), an initializer, or a graph input
whose value comes at run time (dlc compiles the model for each value).
Random draws differ between runtimes: the checks are on structure and
frequency, not on which elements drop.
"""
import os
import sys
import tempfile

from reftest import dlc, require

np, onnx, ort = require("numpy", "onnx", "onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

N = 4000
RATIO = 0.3


def model(mode, path):
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [N])]
    inits = [numpy_helper.from_array(np.array(RATIO, np.float32), "r")]
    nodes = []
    if mode == "input":
        inputs.append(helper.make_tensor_value_info("t", TensorProto.BOOL, []))
    elif mode == "init":
        inits.append(numpy_helper.from_array(np.array(True), "t"))
    else:
        nodes.append(helper.make_node("Constant", [], ["t"],
                                      value=numpy_helper.from_array(np.array(True))))
    nodes.append(helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"],
                                  name="drop", seed=3))
    g = helper.make_graph(nodes, "g", inputs, [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [N]),
        helper.make_tensor_value_info("mask", TensorProto.BOOL, [N])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, path)


def check(y, mask, x, on, who):
    assert mask.dtype == np.bool_, (who, mask.dtype)
    if not on:
        assert np.array_equal(y, x) and mask.all(), who
        return
    assert np.allclose(y[mask], x[mask] / (1 - RATIO), rtol=1e-6), who
    assert (y[~mask] == 0).all(), who
    dropped = 1 - mask.mean()
    # 4000 draws: the dropped fraction is within 5 standard deviations.
    assert abs(dropped - RATIO) < 5 * np.sqrt(RATIO * (1 - RATIO) / N), (who, dropped)


def main():
    x = np.random.default_rng(0).uniform(0.5, 2, N).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, x)
        for mode in ("const", "init", "input"):
            path = os.path.join(tmp, f"drop_{mode}.onnx")
            model(mode, path)
            for on in ((True, False) if mode == "input" else (True,)):
                feeds = {"x": x}
                args = ["--input", f"x={x_path}"]
                if mode == "input":
                    feeds["t"] = np.array(on)
                    t_path = os.path.join(tmp, f"t_{on}.npy")
                    np.save(t_path, np.array(on))
                    args += ["--input", f"t={t_path}"]
                y, mask = ort.InferenceSession(
                    path, providers=["CPUExecutionProvider"]).run(None, feeds)
                check(y, mask, x, on, f"onnxruntime {mode} {on}")
                for engine in ("interp", "jit"):
                    out = os.path.join(tmp, f"out_{mode}_{on}_{engine}")
                    dlc("run", path, "--engine", engine, *args, "--out", out)
                    y = np.load(os.path.join(out, "y.npy"))
                    mask = np.load(os.path.join(out, "mask.npy"))
                    check(y, mask, x, on, f"dlc {engine} {mode} {on}")
                    print(f"training_mode {mode} = {on}, {engine}: dropped "
                          f"{1 - mask.mean():.3f} (ratio {RATIO}), kept ones "
                          f"scaled by 1/(1-ratio)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
