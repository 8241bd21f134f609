"""ONNX control flow decided at run time, against onnxruntime: an If whose
condition is a graph input and whose branches differ in shape, a Loop with
a run-time trip count and a data-dependent condition (carried value and scan
output), and a Scan over a symbolic length. Each model runs in dlc (JIT and
interpreter, through `dlc run`) and in onnxruntime for several inputs; then
`dlc export` writes it back (If / Loop / Scan with subgraphs) and
onnxruntime runs the export with the same results. A Loop that never ends
stops at DLC_MAX_LOOP_ITERATIONS with a located error.
"""
import os
import sys
import tempfile

from reftest import dlc, require

np, onnx, ort = require("numpy", "onnx", "onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6
OPSET = 17


def model(graph):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def if_model():
    # y = cond ? x * 2 : x[0:2] (different lengths), then y + 1.
    then = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, ["m"])])
    els = helper.make_graph(
        [helper.make_node("Slice", ["x", "s0", "s2"], ["e"])], "else", [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["m"])])
    g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["y"], then_branch=then,
                          else_branch=els),
         helper.make_node("Add", ["y", "one"], ["out"])],
        "if_model",
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["m"])],
        [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
         helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
         helper.make_tensor("s0", TensorProto.INT64, [1], [0]),
         helper.make_tensor("s2", TensorProto.INT64, [1], [2])])
    return model(g)


def loop_model():
    # v <- v * 0.5 + x while i < M and sum(v) > limit; scan out sum(v).
    body = helper.make_graph(
        [helper.make_node("Mul", ["v", "half"], ["vh"]),
         helper.make_node("Add", ["vh", "x"], ["v_out"]),
         helper.make_node("ReduceSum", ["v_out"], ["s"], keepdims=0),
         helper.make_node("Greater", ["s", "limit"], ["c_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["M", "", "v0"], ["v", "sums"], body=body)],
        "loop_model",
        [helper.make_tensor_value_info("M", TensorProto.INT64, []),
         helper.make_tensor_value_info("v0", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("limit", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("sums", TensorProto.FLOAT, ["k"])],
        [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])])
    return model(g)


def scan_model():
    # Running max over rows of x [L, 2] in reverse, plus each row * k.
    body = helper.make_graph(
        [helper.make_node("Max", ["acc", "row"], ["acc_out"]),
         helper.make_node("Mul", ["row", "k"], ["scaled"])],
        "body",
        [helper.make_tensor_value_info("acc", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("row", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [2])])
    g = helper.make_graph(
        [helper.make_node("Scan", ["init", "x"], ["final", "ys"], body=body,
                          num_scan_inputs=1, scan_input_directions=[1])],
        "scan_model",
        [helper.make_tensor_value_info("init", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["L", 2]),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("final", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("ys", TensorProto.FLOAT, ["L", 2])])
    return model(g)


def forever_model():
    body = helper.make_graph(
        [helper.make_node("Neg", ["v"], ["v_out"]),
         helper.make_node("Identity", ["c"], ["c_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2])])
    g = helper.make_graph(
        [helper.make_node("Loop", ["", "go", "v0"], ["v"], body=body,
                          name="forever")],
        "forever",
        [helper.make_tensor_value_info("go", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v0", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("v", TensorProto.FLOAT, [2])])
    return model(g)


def run_dlc(path, feeds, tmp, engine):
    args = ["run", path, "--engine", engine, "--out", tmp]
    for name, value in feeds.items():
        p = os.path.join(tmp, name + ".in.npy")
        np.save(p, value)
        args += ["--input", f"{name}={p}"]
    dlc(*args)
    m = onnx.load(path)
    return [np.load(os.path.join(tmp, o.name + ".npy")) for o in m.graph.output]


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def check(name, m, cases, failures):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, name + ".onnx")
        onnx.save(m, src)
        exported = os.path.join(tmp, name + ".export.onnx")
        dlc("export", src, "-o", exported)
        onnx.checker.check_model(onnx.load(exported))
        ops = {n.op_type for n in onnx.load(exported).graph.node}
        want_op = {"if": "If", "loop": "Loop", "scan": "Scan"}[name]
        if want_op not in ops:
            failures.append(f"{name}: the export has no {want_op} node ({ops})")
        ref = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
        exp = ort.InferenceSession(exported, providers=["CPUExecutionProvider"])
        for feeds in cases:
            want = ref.run(None, feeds)
            for engine in ("jit", "interp"):
                got = run_dlc(src, feeds, tmp, engine)
                for k, (w, g) in enumerate(zip(want, got)):
                    if not same(w, g):
                        failures.append(f"{name} ({engine}) output {k} for "
                                        f"{ {k2: v.tolist() for k2, v in feeds.items()} }: "
                                        f"onnxruntime {w.tolist()}, dlc {g.tolist()}")
            back = exp.run(None, feeds)
            for k, (w, g) in enumerate(zip(want, back)):
                if not same(w, g):
                    failures.append(f"{name} export output {k}: onnxruntime on "
                                    f"the export gives {g.tolist()}, expected "
                                    f"{w.tolist()}")
        print(f"{name}: {len(cases)} inputs agree with onnxruntime, "
              "before and after export")


def main():
    failures = []
    f32 = np.float32
    x = np.array([1.5, -2.0, 3.0, 0.25], f32)
    check("if", if_model(),
          [{"cond": np.array(c), "x": x} for c in (True, False)], failures)
    check("loop", loop_model(),
          [{"M": np.array(m, np.int64), "v0": np.array([4, 5, 6], f32),
            "x": np.array([1, -1, 0.5], f32), "limit": np.array(lim, f32)}
           for m, lim in ((0, 0), (3, -100), (20, 2.0), (20, 9.0), (7, 100))],
          failures)
    rng = np.random.default_rng(3)
    check("scan", scan_model(),
          [{"init": np.array([-1, 0.5], f32),
            "x": rng.standard_normal((n, 2)).astype(f32),
            "k": np.array(1.5, f32)} for n in (1, 4, 9)], failures)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "forever.onnx")
        onnx.save(forever_model(), src)
        np.save(os.path.join(tmp, "go.npy"), np.array(True))
        np.save(os.path.join(tmp, "v0.npy"), np.array([1, 2], f32))
        env_before = os.environ.get("DLC_MAX_LOOP_ITERATIONS")
        os.environ["DLC_MAX_LOOP_ITERATIONS"] = "1000"
        r = dlc("run", src, "--input", f"go={tmp}/go.npy", "--input",
                f"v0={tmp}/v0.npy", check=False)
        if env_before is None:
            del os.environ["DLC_MAX_LOOP_ITERATIONS"]
        else:
            os.environ["DLC_MAX_LOOP_ITERATIONS"] = env_before
        msg = "the loop ran 1000 iterations and its condition still holds"
        if r.returncode == 0 or msg not in r.stderr or "forever" not in r.stderr:
            failures.append(f"forever: expected the loop bound error, got "
                            f"{r.returncode}: {r.stderr.strip()}")
        else:
            print("forever: stopped by DLC_MAX_LOOP_ITERATIONS:",
                  r.stderr.strip().splitlines()[0])
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
