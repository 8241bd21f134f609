"""ONNX export against onnxruntime: models imported by dlc and exported again
(`dlc export`), and the tutorial models built in dlc, give in onnxruntime the
outputs that dlc computes (rtol 1e-4).

For the ONNX backend test models (../shared/onnx-backend-tests) the exported
model must also reproduce the test's expected outputs. A fixed list must
pass; `--all` sweeps every backend test that dlc can import and reports how
many exports agree (not part of ctest).
"""
import os
import re
import sys
import tempfile

from reftest import dlc, require, source_dir

np, onnx, ort = require("numpy", "onnx", "onnxruntime")
from onnx import numpy_helper  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5

MODELS = [
    "pytorch-converted/test_Conv1d_pad2",
    "pytorch-converted/test_Conv2d",
    "pytorch-converted/test_Conv2d_depthwise_padded",
    "pytorch-converted/test_Conv2d_dilated",
    "pytorch-converted/test_Conv2d_groups",
    "pytorch-converted/test_Conv2d_no_bias",
    "pytorch-converted/test_Conv2d_strided",
    "pytorch-converted/test_Conv3d_stride_padding",
    "pytorch-converted/test_ConvTranspose2d",
    "pytorch-converted/test_AvgPool2d_stride",
    "pytorch-converted/test_MaxPool2d_stride_padding_dilation",
    "pytorch-converted/test_BatchNorm2d_eval",
    "pytorch-converted/test_Linear",
    "pytorch-converted/test_LogSoftmax",
    "pytorch-converted/test_Softmax",
    "pytorch-converted/test_ELU",
    "pytorch-converted/test_LeakyReLU_with_negval",
    "pytorch-converted/test_ReflectionPad2d",
    "pytorch-converted/test_ZeroPad2d",
    "pytorch-converted/test_GLU",
    "pytorch-converted/test_Embedding",
    "pytorch-operator/test_operator_addmm",
    "pytorch-operator/test_operator_chunk",
    "pytorch-operator/test_operator_permute2",
    "pytorch-operator/test_operator_reduced_mean_keepdim",
    "pytorch-operator/test_operator_repeat",
    "pytorch-operator/test_operator_flatten",
    "pytorch-operator/test_operator_index",
    "node/test_gemm_all_attributes",
    "node/test_matmul_4d",
    "node/test_softmax_axis_1",
    "node/test_reduce_sum_keepdims_example",
    "node/test_reduce_log_sum_exp_do_not_keepdims_example",
    "node/test_slice_neg_steps",
    "node/test_split_variable_parts_2d_opset18",
    "node/test_layer_normalization_4d_axis1",
    "node/test_gelu_tanh_2",
    "node/test_clip",
    "node/test_expand_dim_changed",
    "node/test_where_example",
    "node/test_argmax_keepdims_example_select_last_index",
    "node/test_tile",
    "node/test_batchnorm_epsilon",
    "node/test_averagepool_2d_ceil",
    "node/test_maxpool_2d_ceil",
    "node/test_convtranspose_pads",
    "node/test_dropout_default",
    "node/test_pow",
    "node/test_erf",
    "node/test_round",
    "node/test_transpose_default",
    "node/test_unsqueeze_two_axes",
    "node/test_squeeze",
    "node/test_concat_3d_axis_1",
    "node/test_sigmoid",
    "node/test_tanh",
    "node/test_exp",
    "node/test_sqrt",
]

TUTORIAL = ["keras-cnn", "pytorch-net", "small-cnn", "mlp", "neuron"]


def backend_dir():
    return os.path.join(os.path.dirname(source_dir()), "shared",
                        "onnx-backend-tests")


def graph_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def dlc_outputs(model_path, feeds, tmp):
    """Runs dlc (reference interpreter) on the model; outputs by name."""
    args = ["run", model_path, "--out", tmp]
    for name, value in feeds.items():
        path = os.path.join(tmp, f"in_{len(args)}.npy")
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    dlc(*args)
    model = onnx.load(model_path)
    return [np.load(os.path.join(tmp, re.sub(r"[^A-Za-z0-9_.-]", "_", o.name) + ".npy"))
            for o in model.graph.output]


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        return np.array_equal(a, b)
    return np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=RTOL,
                       atol=ATOL, equal_nan=True)


def check_backend_model(name, tmp):
    """Returns None when the export agrees, else a one-line reason."""
    folder = os.path.join(backend_dir(), name)
    original = onnx.load(os.path.join(folder, "model.onnx"))
    data = os.path.join(folder, "test_data_set_0")
    feeds = {}
    for k, vi in enumerate(graph_inputs(original)):
        t = onnx.TensorProto()
        with open(os.path.join(data, f"input_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        feeds[vi.name] = numpy_helper.to_array(t)
    # Integer inputs (axes, shapes, repeats, ... that dlc needs at import
    # time, as the conformance runner binds them) become initializers.
    bound = os.path.join(tmp, "bound.onnx")
    for vi in graph_inputs(original):
        if vi.type.tensor_type.elem_type == onnx.TensorProto.INT64:
            original.graph.initializer.append(
                numpy_helper.from_array(feeds.pop(vi.name), vi.name))
    onnx.save(original, bound)
    out = os.path.join(tmp, "exported.onnx")
    r = dlc("export", bound, "-o", out, check=False)
    if r.returncode != 0:
        return "dlc export failed: " + r.stderr.strip().splitlines()[0]
    try:
        onnx.checker.check_model(onnx.load(out))
    except Exception as e:  # the checker's own exception types vary
        return f"onnx.checker: {e}"
    expected = []
    k = 0
    while os.path.exists(os.path.join(data, f"output_{k}.pb")):
        t = onnx.TensorProto()
        with open(os.path.join(data, f"output_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        expected.append(numpy_helper.to_array(t))
        k += 1
    sess = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)
    mine = dlc_outputs(out, feeds, tmp)
    for i, (g, e, m) in enumerate(zip(got, expected, mine)):
        if not close(g, e):
            return f"output {i}: onnxruntime on the export differs from the expected output"
        if not close(g, m):
            return f"output {i}: onnxruntime and dlc differ on the export"
    return None


def check_tutorial(name, tmp):
    out = os.path.join(tmp, name + ".onnx")
    dlc("export", "--model", name, "--seed", "4", "-o", out)
    model = onnx.load(out)
    onnx.checker.check_model(model)
    rng = np.random.default_rng(1)
    feeds = {}
    for vi in graph_inputs(model):
        dims = [d.dim_value if d.HasField("dim_value") else 3
                for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.random(dims, dtype=np.float32)
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, feeds)
    mine = dlc_outputs(out, feeds, tmp)
    for g, m in zip(got, mine):
        if not close(g, m):
            return f"onnxruntime and dlc differ (max diff {np.max(np.abs(g - m))})"
    # The high-level form: the readable ops, with the dropouts kept.
    ops = {n.op_type for n in model.graph.node}
    if name == "pytorch-net" and not {"Conv", "MaxPool", "Dropout", "LogSoftmax"} <= ops:
        return f"unexpected ops {sorted(ops)}"
    return None


def check_dlc_file(rel, dims, tmp):
    """A .dlc file of the source tree whose graph-input dims are all set by
    dims (symbolic ones in the file): ONNX export run by onnxruntime gives
    the outputs of the original .dlc in dlc."""
    src = os.path.join(source_dir(), rel)
    out = os.path.join(tmp, "m.onnx")
    dlc("export", src, "-o", out)
    model = onnx.load(out)
    onnx.checker.check_model(model)
    rng = np.random.default_rng(1)
    feeds = {vi.name: rng.random(dims, dtype=np.float32)
             for vi in graph_inputs(model)}
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, feeds)
    args = ["run", src, "--out", tmp]
    for name, value in feeds.items():
        np.save(os.path.join(tmp, name + ".in.npy"), value)
        args += ["--input", f"{name}={os.path.join(tmp, name + '.in.npy')}"]
    dlc(*args)
    mine = [np.load(os.path.join(tmp, o.name + ".npy")) for o in model.graph.output]
    for i, (g, m) in enumerate(zip(got, mine)):
        if g.shape != m.shape or not close(g, m):
            return f"output {i}: onnxruntime and dlc differ"
    return None


def main():
    if not os.path.isdir(backend_dir()):
        print(f"SKIPPED: no ONNX backend tests at {backend_dir()}")
        return 77
    failures = []
    names = MODELS
    if "--all" in sys.argv:
        names = sorted(os.path.join(s, t) for s in
                       ("node", "simple", "pytorch-converted", "pytorch-operator")
                       for t in os.listdir(os.path.join(backend_dir(), s)))
    agreed = skipped = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                why = check_backend_model(name, tmp)
            except Exception as e:  # onnxruntime or dlc run refusing a model
                why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if why is None:
            agreed += 1
        elif "--all" in sys.argv and why.startswith("dlc export failed"):
            skipped += 1
        else:
            failures.append(f"{name}: {why}")
    print(f"{agreed} of {len(names)} backend models export and agree"
          + (f" ({skipped} not importable)" if skipped else ""))
    for name in TUTORIAL:
        with tempfile.TemporaryDirectory() as tmp:
            why = check_tutorial(name, tmp)
        if why:
            failures.append(f"--model {name}: {why}")
        else:
            print(f"--model {name}: onnxruntime agrees with dlc")
    # resize_coords along a dim that is symbolic in the exported model.
    with tempfile.TemporaryDirectory() as tmp:
        why = check_dlc_file("test/tools/Inputs/resize-coords.dlc", [5, 3], tmp)
    if why:
        failures.append(f"resize-coords.dlc: {why}")
    else:
        print("resize-coords.dlc: onnxruntime agrees with dlc")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
