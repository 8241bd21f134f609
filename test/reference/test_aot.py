"""AOT libraries against ONNX's expected outputs: `dlc compile MODEL.onnx
-o NAME.so` for PyTorch-converted models of the ONNX backend tests, called
through the C API with ctypes on the test's input_0.pb, compared with
output_0.pb; a wrong dtype and a wrong input count get an error status and
message."""
import ctypes
import os
import sys
import tempfile

from reftest import build_dir, dlc, require, source_dir

np = require("numpy")
numpy_helper = require("onnx.numpy_helper")
onnx = require("onnx")

DATA = os.path.join(source_dir(), "..", "shared", "onnx-backend-tests",
                    "pytorch-converted")
MODELS = ["test_Conv2d", "test_Conv2d_strided", "test_Linear",
          "test_MaxPool2d", "test_LogSoftmax"]
MAX_RANK = 8
DTYPES = {np.dtype("float32"): 0, np.dtype("float64"): 1,
          np.dtype("int32"): 6, np.dtype("int64"): 7}


class Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("data", ctypes.c_void_p)]


def to_c(a):
    t = Tensor()
    t.dtype = DTYPES[a.dtype]
    t.rank = a.ndim
    for i, d in enumerate(a.shape):
        t.shape[i] = d
    t.data = a.ctypes.data
    return t


def from_c(t):
    dtype = {v: k for k, v in DTYPES.items()}[t.dtype]
    shape = tuple(t.shape[i] for i in range(t.rank))
    n = int(np.prod(shape)) if shape else 1
    buf = (ctypes.c_char * (n * dtype.itemsize)).from_address(t.data)
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape)


def load(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def main():
    if not os.path.isdir(DATA):
        print(f"SKIPPED: {DATA} is missing")
        return 77
    runtime = ctypes.CDLL(os.path.join(build_dir(), "exec", "libdlc_runtime.so"))
    runtime.dlc_tensor_free.argtypes = [ctypes.POINTER(Tensor)]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            prefix = name[len("test_"):].lower()
            lib_path = os.path.join(tmp, prefix + ".so")
            dlc("compile", os.path.join(DATA, name, "model.onnx"), "-o", lib_path)
            lib = ctypes.CDLL(lib_path)
            create = getattr(lib, prefix + "_create")
            run = getattr(lib, prefix + "_run")
            destroy = getattr(lib, prefix + "_destroy")
            create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                               ctypes.c_char_p, ctypes.c_size_t]
            run.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                            ctypes.POINTER(Tensor), ctypes.c_size_t,
                            ctypes.c_char_p, ctypes.c_size_t]
            destroy.argtypes = [ctypes.c_void_p]
            err = ctypes.create_string_buffer(512)
            model = ctypes.c_void_p()
            assert create(ctypes.byref(model), 1, err, 512) == 0, err.value
            x = np.ascontiguousarray(load(os.path.join(DATA, name, "test_data_set_0",
                                                       "input_0.pb")))
            want = load(os.path.join(DATA, name, "test_data_set_0", "output_0.pb"))
            ins = (Tensor * 1)(to_c(x))
            outs = (Tensor * 1)()
            status = run(model, ins, 1, outs, 1, err, 512)
            if status != 0:
                print(f"{name}: status {status}: {err.value.decode()}")
                failures += 1
            else:
                got = from_c(outs[0])
                runtime.dlc_tensor_free(ctypes.byref(outs[0]))
                ok = got.shape == want.shape and np.allclose(got, want, rtol=1e-4,
                                                             atol=1e-5)
                diff = np.abs(got - want).max() if got.shape == want.shape else "-"
                print(f"{name}: {got.shape}, max abs diff {diff}: "
                      f"{'ok' if ok else 'MISMATCH'}")
                failures += not ok
            # A wrong dtype, then no inputs at all.
            x64 = x.astype(np.float64)
            ins = (Tensor * 1)(to_c(x64))
            status = run(model, ins, 1, outs, 1, err, 512)
            msg = err.value.decode()
            if status != 1 or "must be f32" not in msg:
                print(f"{name}: f64 input gave status {status}: {msg}")
                failures += 1
            status = run(model, ins, 0, outs, 1, err, 512)
            msg = err.value.decode()
            if status != 1 or "takes 1 input(s), got 0" not in msg:
                print(f"{name}: no inputs gave status {status}: {msg}")
                failures += 1
            destroy(model)
    print("PASS" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
