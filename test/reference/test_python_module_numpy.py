"""dlc's Python module under the reference environment's numpy (2.x, where
Debian's python3 may have 1.x or none): outputs of several element types
and ranks come back element for element (pybind11 2.10 once built them
with strides from numpy 1's dtype layout, and every element read the
first one), from a model compiled once and run at two batch sizes."""
import os
import sys
import tempfile

from reftest import build_dir, require

np = require("numpy")
sys.path.insert(0, os.path.join(build_dir(), "python"))
try:
    import dlc
except ImportError as e:
    print(f"SKIPPED: dlc's Python module is not built ({e})")
    sys.exit(77)

MODEL = """
func @main(%x: f32[N,3], %d: f64[N,2,2], %i: i64[N]) -> (y: f32[N,3], e: f64[N,2,2], j: i64[N], b: bool[N,3]) {
  %y = add %x, %x
  %e = mul %d, %d
  %j = add %i, %i
  %z = constant {value = dense<f32[]>[0.0]}
  %b = greater %x, %z
  return %y, %e, %j, %b
}
"""


def main():
    print("numpy", np.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.dlc")
        with open(path, "w") as f:
            f.write(MODEL)
        for engine in ("jit", "interp"):
            m = dlc.Model(path, engine=engine, threads=1)
            for n in (1, 4):
                rng = np.random.default_rng(n)
                x = rng.standard_normal((n, 3)).astype(np.float32)
                d = rng.standard_normal((n, 2, 2))
                i = rng.integers(-50, 50, n)
                out = m.run({"x": x, "d": d, "i": i})
                want = {"y": x + x, "e": d * d, "j": i + i, "b": x > 0}
                for name, ref in want.items():
                    got = out[name]
                    assert got.dtype == ref.dtype, (engine, name, got.dtype)
                    assert got.shape == ref.shape, (engine, name, got.shape)
                    assert np.array_equal(got, ref), (engine, name, got, ref)
                    assert got.flags["C_CONTIGUOUS"], (engine, name)
    print("PASS: outputs match numpy element for element")


if __name__ == "__main__":
    main()
