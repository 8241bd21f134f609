"""ResNet- and MobileNetV2-style ONNX models with random weights, built with
the onnx package's helpers, run by `dlc run` and by onnxruntime: the outputs
must agree within 1e-4 relative at two batch sizes (symbolic batch dim).

The full-size ResNet-18 / MobileNetV2 exported from PyTorch are checked by
bench/pytorch_models.py (it needs torch, which CI does not install)."""
import os
import sys
import tempfile

from reftest import dlc, require

np, onnx, ort = require("numpy", "onnx", "onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

rng = np.random.default_rng(7)


class Net:
    """Collects nodes and initializers; each method adds one layer."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def weight(self, base, shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        scale = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        name = self.name(base)
        arr = (rng.uniform(-1, 1, size=shape) * scale).astype(np.float32)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_bn(self, x, cin, cout, k, stride=1, group=1, act="relu"):
        w = self.weight("w", [cout, cin // group, k, k])
        y = self.node("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride],
                      pads=[k // 2] * 4, group=group)
        scale = self.weight("gamma", [cout], 1.0)
        bias = self.weight("beta", [cout], 0.1)
        mean = self.weight("mean", [cout], 0.1)
        var_name = self.name("var")
        var = rng.uniform(0.5, 1.5, size=[cout]).astype(np.float32)
        self.inits.append(numpy_helper.from_array(var, var_name))
        y = self.node("BatchNormalization", [y, scale, bias, mean, var_name], epsilon=1e-5)
        if act == "relu":
            y = self.node("Relu", [y])
        elif act == "relu6":
            lo = self.name("lo")
            hi = self.name("hi")
            self.inits.append(numpy_helper.from_array(np.array(0, np.float32), lo))
            self.inits.append(numpy_helper.from_array(np.array(6, np.float32), hi))
            y = self.node("Clip", [y, lo, hi])
        return y

    def head(self, x, c, classes):
        y = self.node("GlobalAveragePool", [x])
        y = self.node("Flatten", [y], axis=1)
        w = self.weight("fc", [classes, c])
        b = self.weight("fcb", [classes], 0.1)
        return self.node("Gemm", [y, w, b], transB=1)

    def model(self, out, chw, name):
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *chw])],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", None])],
            self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(m)
        return m


def resnet_like():
    n = Net()
    x = n.conv_bn("input", 3, 16, 3, stride=2)
    x = n.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    c = 16
    for cout, stride in [(16, 1), (32, 2), (64, 2)]:
        y = n.conv_bn(x, c, cout, 3, stride)
        y = n.conv_bn(y, cout, cout, 3, act=None)
        skip = x if (stride == 1 and c == cout) else n.conv_bn(x, c, cout, 1, stride, act=None)
        x = n.node("Relu", [n.node("Add", [y, skip])])
        c = cout
    return n.model(n.head(x, c, 10), [3, 64, 64], "resnet_like")


def mobilenet_like():
    n = Net()
    x = n.conv_bn("input", 3, 16, 3, stride=2, act="relu6")
    c = 16
    for cout, stride, expand in [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6)]:
        hidden = c * expand
        y = x if expand == 1 else n.conv_bn(x, c, hidden, 1, act="relu6")
        y = n.conv_bn(y, hidden, hidden, 3, stride, group=hidden, act="relu6")  # depthwise
        y = n.conv_bn(y, hidden, cout, 1, act=None)
        x = n.node("Add", [x, y]) if stride == 1 and c == cout else y
        c = cout
    return n.model(n.head(x, c, 10), [3, 64, 64], "mobilenet_like")


def check(model, tmp):
    path = os.path.join(tmp, f"{model.graph.name}.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (1, 3):
        x = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
        np.save(os.path.join(tmp, "x.npy"), x)
        out_dir = os.path.join(tmp, f"{model.graph.name}_out_{batch}")
        dlc("run", path, "--input", f"input={tmp}/x.npy", "--out", out_dir)
        got = np.load(os.path.join(out_dir, os.listdir(out_dir)[0]))
        (ref,) = sess.run(None, {"input": x})
        assert got.shape == ref.shape, f"{model.graph.name}: shape {got.shape} vs {ref.shape}"
        rel = float(np.abs(got - ref).max() / np.abs(ref).max())
        print(f"{model.graph.name} batch {batch}: max rel err vs onnxruntime {rel:.2e}")
        assert rel <= 1e-4, f"{model.graph.name} batch {batch}: rel err {rel}"
        worst = max(worst, rel)
    return worst


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for model in (resnet_like(), mobilenet_like()):
            check(model, tmp)
    print("2 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())
