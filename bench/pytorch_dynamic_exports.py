"""PyTorch exports with dynamic batch (and sequence) dims through dlc.

Exports an LSTM classifier (2-layer nn.LSTM + Linear; also bidirectional,
and with nn.GRU), a transformer encoder layer (nn.TransformerEncoderLayer,
batch_first; also under a causal mask built from the run-time length, and
with a key padding mask as a second input),
MobileNetV3 (small) and EfficientNet-B0 with both of PyTorch's exporters:
the torch.export-based one
(`dynamo=True, dynamic_shapes=...`) and the TorchScript-based one
(`dynamo=False, dynamic_axes=...`). Each file is loaded ONCE as a
`dlc.Model` (the Python module over dlc::Model, the JIT) and that one object
runs every shape: batch 1 and 3, and for the sequence models sequence length
5 and 11. Each output is compared with PyTorch eager on the same input:
max |dlc - torch| / max |torch| <= 1e-4. onnxruntime runs the same file
side by side: a case where it does not match PyTorch either is the
exporter's (EXPORT BROKEN), reported but not counted against dlc.

Needs the reference environment with torch and torchvision
(scripts/reference-env.sh --torch) and dlc's Python module (build/python):
  build-ref/venv/bin/python3 bench/pytorch_dynamic_exports.py
      [--models lstm,bilstm,gru,transformer,causal_transformer,
                padded_transformer,mobilenet_v3,efficientnet_b0]
      [--exporters dynamo,legacy] [--image-size 224] [--keep DIR] [--check]
--check (the test suite's mode) exits 1 when a case fails and 77 (skip) when
torch, torchvision or the module is missing.
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import warnings

SKIP = 77


def source_dir():
    return os.environ.get("DLC_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))


def build_dir():
    return os.environ.get("DLC_BUILD_DIR") or os.path.join(source_dir(), "build")


def imports(check):
    """numpy, torch, torchvision and dlc, or a skip (77) in check mode."""
    try:
        import numpy as np
        import torch
        import torchvision
    except ImportError as e:
        print(f"SKIPPED: {e.name} is missing; run scripts/reference-env.sh --torch")
        sys.exit(SKIP if check else 1)
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None
    sys.path.insert(0, os.path.join(build_dir(), "python"))
    try:
        import dlc
    except ImportError as e:
        print(f"SKIPPED: dlc's Python module is not built ({e})")
        sys.exit(SKIP if check else 1)
    return np, torch, torchvision, dlc, onnxruntime


def make_models(torch, torchvision, image_size):
    nn = torch.nn

    class LstmClassifier(nn.Module):
        def __init__(self, rnn=nn.LSTM, bidirectional=False):
            super().__init__()
            self.lstm = rnn(16, 24, num_layers=2, batch_first=True,
                            bidirectional=bidirectional)
            self.fc = nn.Linear(48 if bidirectional else 24, 5)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.fc(y[:, -1, :])

    class Transformer(nn.Module):
        # A wrapper: the TorchScript exporter traces the layer's keyword
        # arguments as tensors otherwise (is_causal then fails in PyTorch).
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(d_model=32, nhead=4,
                                                    dim_feedforward=64, dropout=0.0,
                                                    batch_first=True)

        def forward(self, x):
            return self.layer(x)

    class CausalTransformer(Transformer):
        # The same layer under a causal mask built from the run-time
        # sequence length (full / triu / where on a symbolic dim).
        def forward(self, x):
            n = x.size(1)
            mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
            return self.layer(x, src_mask=mask, is_causal=True)

    class PaddedTransformer(Transformer):
        # The layer with a key padding mask, a second input (bool [batch,
        # seq], True where a position is padding).
        def forward(self, x, mask):
            return self.layer(x, src_key_padding_mask=mask)

    chw = (3, image_size, image_size)
    # name: (constructor, per-example shape, has a sequence dim (dim 1)),
    # and a padding mask as a second input when the tuple says True.
    return {
        "lstm": (LstmClassifier, (None, 16), True),
        "bilstm": (lambda: LstmClassifier(bidirectional=True), (None, 16), True),
        "gru": (lambda: LstmClassifier(nn.GRU), (None, 16), True),
        "transformer": (Transformer, (None, 32), True),
        "causal_transformer": (CausalTransformer, (None, 32), True),
        "padded_transformer": (PaddedTransformer, (None, 32), True, True),
        "mobilenet_v3": (lambda: torchvision.models.mobilenet_v3_small(weights=None),
                         chw, False),
        "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None),
                            chw, False),
    }


def example(torch, shape, batch, seq, masked=False):
    """The inputs: x, and with MASKED a padding mask whose row b pads its
    last b % 3 positions (never a whole row)."""
    dims = [seq if d is None else d for d in shape]
    x = torch.randn(batch, *dims)
    if not masked:
        return (x,)
    pos = torch.arange(seq).unsqueeze(0)
    pad = (torch.arange(batch) % 3).unsqueeze(1)
    return (x, pos >= seq - pad)


def names(inputs):
    return ["input", "mask"][:len(inputs)]


def export(torch, model, shape, has_seq, masked, path, exporter):
    """Writes MODEL as ONNX with a dynamic batch dim (and sequence dim)."""
    x = example(torch, shape, 2, 7, masked)
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), \
            contextlib.redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            axes = {0: "batch", 1: "seq"} if has_seq else {0: "batch"}
            dyn = {n: axes for n in names(x)}
            dyn["output"] = {0: "batch"}
            torch.onnx.export(model, x, path, input_names=names(x),
                              output_names=["output"], dynamic_axes=dyn,
                              opset_version=17, dynamo=False)
        else:
            dims = {0: torch.export.Dim("batch", min=1, max=1024)}
            if has_seq:
                dims[1] = torch.export.Dim("seq", min=2, max=512)
            torch.onnx.export(model, x, path, input_names=names(x),
                              output_names=["output"],
                              dynamic_shapes=tuple(dims for _ in x),
                              dynamo=True, external_data=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="lstm,bilstm,gru,transformer,"
                    "causal_transformer,padded_transformer,mobilenet_v3,"
                    "efficientnet_b0")
    ap.add_argument("--exporters", default="dynamo,legacy")
    ap.add_argument("--batches", default="1,3")
    ap.add_argument("--seqs", default="5,11")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--keep", help="write the ONNX files here (kept)")
    ap.add_argument("--check", action="store_true",
                    help="test mode: exit 1 on a failure, 77 when a package is missing")
    args = ap.parse_args()
    np, torch, torchvision, dlc, ort = imports(args.check)

    def rel_err(got, ref):
        return float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-30))

    def ort_verdict(sess, x, ref):
        """None when onnxruntime matches PyTorch (or is absent), else why not."""
        if sess is None:
            return None
        try:
            got = sess.run(None, x)[0]
        except Exception as e:
            msg = str(e).strip().splitlines()[0]
            return "onnxruntime fails too: ..." + msg[-110:]
        if got.shape != ref.shape or rel_err(got, ref) > args.tolerance:
            return f"onnxruntime differs from PyTorch too ({rel_err(got, ref):.1e})"
        return None
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    seqs = [int(s) for s in args.seqs.split(",")]
    zoo = make_models(torch, torchvision, args.image_size)
    rows, notes, ok = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or tmp
        os.makedirs(out_dir, exist_ok=True)
        for name in args.models.split(","):
            make, shape, has_seq, *masked = zoo[name]
            masked = bool(masked and masked[0])
            torch.manual_seed(0)
            model = make().eval()
            for exporter in args.exporters.split(","):
                path = os.path.join(out_dir, f"{name}-{exporter}.onnx")
                start = time.time()
                try:
                    export(torch, model, shape, has_seq, masked, path, exporter)
                except Exception as e:  # an exporter failure is PyTorch's, not dlc's
                    msg = str(e).strip().splitlines()[0][:100]
                    rows.append((name, exporter, "-", "-", f"EXPORT FAILED: {msg}"))
                    ok = False
                    continue
                try:
                    m = dlc.Model(path, threads=args.threads)
                except dlc.Error as e:
                    rows.append((name, exporter, "-", "-", "error: " + str(e).strip()))
                    ok = False
                    continue
                sess = None
                if ort is not None:
                    ort.set_default_logger_severity(4)  # its errors are in the table
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = args.threads
                    sess = ort.InferenceSession(path, opts,
                                                providers=["CPUExecutionProvider"])
                for batch in batches:
                    for seq in seqs if has_seq else [None]:
                        torch.manual_seed(batch * 100 + (seq or 0))
                        x = example(torch, shape, batch, seq, masked)
                        with torch.no_grad():
                            ref = model(*x).numpy()
                        feed = {n: t.numpy() for n, t in zip(names(x), x)}
                        dims = f"batch {batch}" + (f", seq {seq}" if seq else "")
                        broken = ort_verdict(sess, feed, ref)
                        try:
                            got = m.run(feed)["output"]
                            if got.shape != ref.shape:
                                err, verdict = "-", (f"FAIL: shape {got.shape}, "
                                                     f"torch {ref.shape}")
                            else:
                                rel = rel_err(got, ref)
                                err = f"{rel:.1e}"
                                verdict = "PASS" if rel <= args.tolerance else "FAIL"
                        except dlc.Error as e:
                            err, verdict = "-", "error: " + str(e).strip()
                        if broken:
                            verdict = f"EXPORT BROKEN ({broken}); dlc: {verdict}"
                        else:
                            ok &= verdict == "PASS"
                        rows.append((name, exporter, dims, err, verdict))
                spec = m.specialization
                if spec["inputs"]:
                    notes.append(f"{name} ({exporter}): one dlc.Model, "
                                 f"{spec['compiles']} variant(s) compiled for "
                                 f"{', '.join(spec['inputs'])}, {spec['hits']} cache hit(s)")
                else:
                    notes.append(f"{name} ({exporter}): one dlc.Model, "
                                 "compiled once for every shape")
                print(f"{name} ({exporter}): {time.time() - start:.0f} s", file=sys.stderr,
                      flush=True)
    print(f"| model | exporter | shape | max rel err vs PyTorch {torch.__version__} | result |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(s.replace("\n", " ") for s in r) + " |")
    print()
    print("\n".join(notes))
    passed = sum(1 for r in rows if r[4] == "PASS")
    print(f"{passed} of {len(rows)} cases pass (tolerance {args.tolerance:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
