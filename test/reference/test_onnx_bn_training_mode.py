"""BatchNormalization in training mode as PyTorch exports it
(training=TrainingMode.TRAINING): `dlc run` with the interpreter and the JIT
gives onnxruntime's outputs: the batch-normalized output (batch mean, biased
variance) and, made graph outputs here, the updated running mean and
variance (the node's momentum, 0.3 in PyTorch's form = 0.7 in ONNX's).
BatchNorm2d on [N,C,H,W], BatchNorm1d on [N,C] and on [N,C,L].
"""
import os
import re
import sys
import tempfile
import warnings

from reftest import dlc, require

np, onnx, ort, torch = require("numpy", "onnx", "onnxruntime", "torch")


class Net(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        nn = torch.nn
        self.kind = kind
        if kind == "2d":
            self.pre = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4, momentum=0.3, eps=1e-3)
        elif kind == "1d":
            self.pre = nn.Linear(6, 5)
            self.bn = nn.BatchNorm1d(5, momentum=0.3, eps=1e-3)
        else:
            self.pre = nn.Conv1d(3, 4, 2)
            self.bn = nn.BatchNorm1d(4, momentum=0.3, eps=1e-3)

    def forward(self, x):
        return torch.relu(self.bn(self.pre(x))) * 2.0


SHAPES = {"2d": (5, 3, 7, 6), "1d": (9, 6), "3d": (4, 3, 11)}


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, shape in SHAPES.items():
            net = Net(kind)
            with torch.no_grad():  # running statistics away from 0 and 1
                net.bn.running_mean.uniform_(-1, 1)
                net.bn.running_var.uniform_(0.5, 2)
                net.bn.weight.uniform_(0.5, 2)
                net.bn.bias.uniform_(-1, 1)
            net.train()
            path = os.path.join(tmp, f"bn_{kind}.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, (torch.zeros(*shape),), path,
                                  training=torch.onnx.TrainingMode.TRAINING,
                                  do_constant_folding=False, dynamo=False,
                                  input_names=["x"], output_names=["y"])
            m = onnx.load(path)
            bn = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
            assert len(bn) == 1, [n.op_type for n in m.graph.node]
            attrs = {a.name: onnx.helper.get_attribute_value(a)
                     for a in bn[0].attribute}
            assert attrs["training_mode"] == 1 and abs(attrs["momentum"] - 0.7) < 1e-6, attrs
            # The running statistics as graph outputs, so both runtimes show them.
            names = ["y", bn[0].output[1], bn[0].output[2]]
            for n in names[1:]:
                m.graph.output.append(onnx.helper.make_tensor_value_info(
                    n, onnx.TensorProto.FLOAT, None))
            onnx.save(m, path)

            x = (np.random.default_rng(len(kind)).standard_normal(shape) * 2 + 1
                 ).astype(np.float32)
            ref = ort.InferenceSession(path, providers=["CPUExecutionProvider"]
                                       ).run(names, {"x": x})
            # onnxruntime matches PyTorch's training forward.
            with torch.no_grad():
                want = net(torch.from_numpy(x)).numpy()
            assert np.allclose(ref[0], want, atol=1e-4), np.abs(ref[0] - want).max()
            x_path = os.path.join(tmp, f"x_{kind}.npy")
            np.save(x_path, x)
            for engine in ("interp", "jit"):
                out = os.path.join(tmp, f"out_{kind}_{engine}")
                dlc("run", path, "--engine", engine, "--input", f"x={x_path}",
                    "--out", out)
                diffs = []
                for name, r in zip(names, ref):
                    # dlc run names files after outputs, other characters as '_'.
                    file = re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".npy"
                    mine = np.load(os.path.join(out, file))
                    assert mine.shape == r.shape, (kind, engine, name, mine.shape)
                    diffs.append(float(np.max(np.abs(mine - r))))
                    assert diffs[-1] < 1e-4, (kind, engine, name, diffs[-1])
                print(f"BatchNorm {kind} {shape}, {engine}: y, running mean and "
                      f"var match onnxruntime (max |diff| {max(diffs):.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
