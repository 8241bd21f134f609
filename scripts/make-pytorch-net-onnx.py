#!/usr/bin/env python3
"""Writes the PyTorch examples' MNIST Net as an ONNX model for `dlc train`.

    Conv(1->32, 3) - relu - Conv(32->64, 3) - relu - MaxPool 2 - Dropout 0.25 -
    Flatten - Linear(9216->128) - relu - Dropout 0.5 - Linear(128->10) -
    log_softmax

Input `input` f32[batch,1,28,28] (dynamic batch), output `output` f32[batch,10].
The dropouts are kept as ONNX Dropout nodes in inference form (no
training_mode), so the model runs as the trained network does at inference
and `dlc train` switches them on while training.

Two ways to build it (--builder):
  torch  the Net in PyTorch, exported with torch.onnx.export (TorchScript
         exporter, opset 17, in training mode so the dropouts are written,
         then rewritten to their inference form); needs torch.
  onnx   the same graph with the onnx package's helper API and PyTorch's
         default initialization (uniform in +-1/sqrt(fan_in)) drawn with numpy;
         needs only numpy and onnx (used by the tests).
The default, auto, takes torch when it imports, else onnx. The script says
which one it used.

Usage: make-pytorch-net-onnx.py OUT.onnx [--builder auto|torch|onnx] [--seed S]
"""
import argparse
import sys


def dropouts_to_inference(model):
    """Drops the training_mode input and mask output of every Dropout and the
    Constant nodes nothing reads any more."""
    import onnx
    g = model.graph
    for n in g.node:
        if n.op_type == "Dropout":
            del n.input[2:]
            del n.output[1:]
    read = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    keep = [n for n in g.node
            if n.op_type != "Constant" or any(o in read for o in n.output)]
    del g.node[:]
    g.node.extend(keep)
    onnx.checker.check_model(model)
    return model


def build_torch(seed):
    import os
    import onnx
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    from pytorch_side_by_side import PytorchNet as Net  # the examples' Net

    torch.manual_seed(seed)
    net = Net().train()
    import io
    buf = io.BytesIO()
    torch.onnx.export(
        net, (torch.zeros(2, 1, 28, 28),), buf, input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=17, dynamo=False, do_constant_folding=False,
        training=torch.onnx.TrainingMode.TRAINING)
    return dropouts_to_inference(onnx.load_from_string(buf.getvalue()))


def build_onnx(seed):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits, inits_c = [], []  # initializers; Constant nodes

    def param(name, shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        a = rng.uniform(-bound, bound, size=shape).astype(np.float32)
        inits.append(numpy_helper.from_array(a, name))
        return name

    def const(name, value):
        inits_c.append(helper.make_node(
            "Constant", [], [name],
            value=numpy_helper.from_array(np.array(value, np.float32), name)))
        return name

    w1, b1 = param("conv1.weight", (32, 1, 3, 3), 9), param("conv1.bias", (32,), 9)
    w2, b2 = param("conv2.weight", (64, 32, 3, 3), 288), param("conv2.bias", (64,), 288)
    f1w, f1b = param("fc1.weight", (128, 9216), 9216), param("fc1.bias", (128,), 9216)
    f2w, f2b = param("fc2.weight", (10, 128), 128), param("fc2.bias", (10,), 128)
    r1, r2 = const("dropout1.ratio", 0.25), const("dropout2.ratio", 0.5)
    n = helper.make_node
    nodes = inits_c + [
        n("Conv", ["input", w1, b1], ["conv1"], kernel_shape=[3, 3]),
        n("Relu", ["conv1"], ["relu1"]),
        n("Conv", ["relu1", w2, b2], ["conv2"], kernel_shape=[3, 3]),
        n("Relu", ["conv2"], ["relu2"]),
        n("MaxPool", ["relu2"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Dropout", ["pool", r1], ["drop1"]),
        n("Flatten", ["drop1"], ["flat"], axis=1),
        n("Gemm", ["flat", f1w, f1b], ["fc1"], transB=1),
        n("Relu", ["fc1"], ["relu3"]),
        n("Dropout", ["relu3", r2], ["drop2"]),
        n("Gemm", ["drop2", f2w, f2b], ["fc2"], transB=1),
        n("LogSoftmax", ["fc2"], ["output"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "pytorch_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                       ["batch", 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="make-pytorch-net-onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--builder", choices=["auto", "torch", "onnx"], default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    builder = args.builder
    if builder == "auto":
        try:
            import torch  # noqa: F401
            builder = "torch"
        except ImportError:
            builder = "onnx"
    import onnx
    model = build_torch(args.seed) if builder == "torch" else build_onnx(args.seed)
    onnx.save(model, args.out)
    print(f"wrote {args.out} (built with {builder})")


if __name__ == "__main__":
    sys.exit(main())
