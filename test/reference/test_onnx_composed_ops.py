"""ONNX ops that the importer composes of dlc ops, on attribute combinations
the backend node tests do not cover (Einsum with implicit output and
broadcast ellipses, bidirectional GRU with linear_before_reset, reverse LSTM
with sequence lengths and clip, 3-D GridSample with reflection, cubic
GridSample with border padding,
DFT with dft_length, Col2Im with uneven strides): `dlc run` against ONNX's
reference evaluator on random inputs."""
import os
import sys
import tempfile

from reftest import dlc, require

np = require("numpy")
onnx = require("onnx")
helper = require("onnx.helper")
reference = require("onnx.reference")

FLOAT, INT32 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT32


def model(op, inputs, outputs, opset, **attrs):
    """A one-node model; inputs / outputs are (name, elem type, shape);
    inputs named c_* are initializers added by the caller, not graph inputs."""
    node = helper.make_node(op, [n for n, _, _ in inputs],
                            [n for n, _, _ in outputs], **attrs)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs
         if not n.startswith("c_")],
        [helper.make_tensor_value_info(n, t, None) for n, t, _ in outputs])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8  # readable by older onnxruntime releases too
    return m


def check(name, m, feeds, tol=1e-4, ort=None):
    """Compares with onnxruntime when ORT is given (ONNX's reference ignores
    clip and sequence_lens of the recurrent ops), else with ONNX's reference."""
    if ort:
        sess = ort.InferenceSession(m.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        want = sess.run(None, feeds)
    else:
        want = reference.ReferenceEvaluator(m).run(None, feeds)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        onnx.save(m, path)
        args = ["run", path, "--out", tmp]
        for k, v in feeds.items():
            np.save(os.path.join(tmp, k + ".npy"), v)
            args += ["--input", f"{k}={os.path.join(tmp, k + '.npy')}"]
        dlc(*args)
        for out, w in zip(m.graph.output, want):
            got = np.load(os.path.join(tmp, out.name + ".npy"))
            if got.shape != w.shape or not np.allclose(got, w, rtol=tol, atol=tol):
                print(f"FAIL {name}: {out.name} {got.shape} vs {w.shape}\n"
                      f"got {got.ravel()[:8]}\nwant {w.ravel()[:8]}")
                return False
    print(f"ok {name}")
    return True


def main():
    rng = np.random.default_rng(7)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    ok = True

    m = model("Einsum", [("a", FLOAT, [2, 3, 4]), ("b", FLOAT, [4, 5])],
              [("y", FLOAT, None)], 17, equation="...ij,jk")
    ok &= check("einsum implicit ellipsis", m, {"a": f(2, 3, 4), "b": f(4, 5)})
    m = model("Einsum", [("a", FLOAT, [3, 1, 4, 4]), ("b", FLOAT, [2, 4])],
              [("y", FLOAT, None)], 17, equation="...ii,...i->...i")
    ok &= check("einsum diagonal broadcast", m, {"a": f(3, 1, 4, 4), "b": f(2, 4)})

    ort = require("onnxruntime")
    h, i, t, b = 3, 2, 4, 2
    m = model("GRU", [("X", FLOAT, [t, b, i]), ("W", FLOAT, [2, 3 * h, i]),
                      ("R", FLOAT, [2, 3 * h, h]), ("B", FLOAT, [2, 6 * h])],
              [("Y", FLOAT, None), ("Y_h", FLOAT, None)], 14, hidden_size=h,
              direction="bidirectional", linear_before_reset=1)
    ok &= check("gru bidirectional linear_before_reset", m,
                {"X": f(t, b, i), "W": f(2, 3 * h, i), "R": f(2, 3 * h, h),
                 "B": f(2, 6 * h)}, ort=ort)
    m = model("LSTM", [("X", FLOAT, [t, b, i]), ("W", FLOAT, [1, 4 * h, i]),
                       ("R", FLOAT, [1, 4 * h, h]), ("B", FLOAT, [1, 8 * h]),
                       ("L", INT32, [b])],
              [("Y", FLOAT, None), ("Y_h", FLOAT, None), ("Y_c", FLOAT, None)],
              14, hidden_size=h, direction="reverse", clip=0.8)
    ok &= check("lstm reverse sequence_lens clip", m,
                {"X": f(t, b, i), "W": f(1, 4 * h, i), "R": f(1, 4 * h, h),
                 "B": f(1, 8 * h), "L": np.array([4, 2], np.int32)}, ort=ort)

    m = model("GridSample", [("X", FLOAT, [1, 2, 3, 4, 5]),
                             ("G", FLOAT, [1, 2, 3, 2, 3])],
              [("Y", FLOAT, None)], 22, mode="linear",
              padding_mode="reflection", align_corners=0)
    ok &= check("gridsample 3-D reflection", m,
                {"X": f(1, 2, 3, 4, 5),
                 "G": (rng.random((1, 2, 3, 2, 3)) * 4 - 2).astype(np.float32)})
    m = model("GridSample", [("X", FLOAT, [2, 1, 4, 5]),
                             ("G", FLOAT, [2, 3, 3, 2])],
              [("Y", FLOAT, None)], 22, mode="cubic", padding_mode="border",
              align_corners=1)
    ok &= check("gridsample cubic border", m,
                {"X": f(2, 1, 4, 5),
                 "G": (rng.random((2, 3, 3, 2)) * 3 - 1.5).astype(np.float32)})

    m = model("DFT", [("x", FLOAT, [2, 7, 2]), ("c_n", onnx.TensorProto.INT64, [])],
              [("y", FLOAT, None)], 20, inverse=0)
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array(5), "c_n"))
    ok &= check("dft complex truncated", m, {"x": f(2, 7, 2)})
    m = model("DFT", [("x", FLOAT, [3, 4, 1]), ("c_n", onnx.TensorProto.INT64, [])],
              [("y", FLOAT, None)], 20, onesided=1)
    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array(7), "c_n"))
    ok &= check("rfft zero padded odd", m, {"x": f(3, 4, 1)})

    m = model("Col2Im", [("x", FLOAT, [1, 8, 9]),
                         ("c_s", onnx.TensorProto.INT64, [2]),
                         ("c_k", onnx.TensorProto.INT64, [2])],
              [("y", FLOAT, None)], 18, strides=[2, 2], pads=[1, 0, 0, 1])
    m.graph.initializer.extend([
        onnx.numpy_helper.from_array(np.array([5, 6]), "c_s"),
        onnx.numpy_helper.from_array(np.array([2, 2]), "c_k")])
    ok &= check("col2im uneven strides", m, {"x": f(1, 8, 9)})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
