"""The Python module through its users' interface: models run on numpy
arrays and match the reference interpreter, dlc's errors are dlc.Error with
dlc's message, dlc.compile writes an AOT library, and dlc.Trainer trains
(the loss falls) and saves a model that dlc.Model runs with the same
predictions."""
import os

import numpy as np
import pytest

import dlc

SRC = os.environ.get("DLC_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
CNN = os.path.join(SRC, "examples", "mnist_cnn.dlc")
CONV = os.path.join(SRC, "..", "shared", "onnx-backend-tests",
                    "pytorch-converted", "test_Conv2d", "model.onnx")


def images(n, seed=0):
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


def test_model_runs_and_matches_the_interpreter():
    jit = dlc.Model(CNN)
    assert jit.engine == "jit"
    assert jit.inputs == ["images: f32[N,1,28,28]"]
    assert jit.outputs == ["probs: f32[N,10]", "label: i64[N]"]
    x = images(3)
    out = jit.run({"images": x})
    assert out["probs"].shape == (3, 10) and out["probs"].dtype == np.float32
    np.testing.assert_allclose(out["probs"].sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(out["label"], out["probs"].argmax(axis=1))
    ref = dlc.Model(CNN, engine="interp").run([x])
    np.testing.assert_allclose(out["probs"], ref["probs"], rtol=1e-4, atol=1e-6)
    # Another batch size from the same compiled model.
    assert jit.run([images(1, seed=1)])["probs"].shape == (1, 10)


def test_gpu_emulation_matches_the_cpu():
    """device="cuda-emu" runs dlc's GPU kernels emulated on the CPU."""
    x = images(2, seed=3)
    emu = dlc.Model(CNN, device="cuda-emu").run([x])
    cpu = dlc.Model(CNN).run([x])
    np.testing.assert_allclose(emu["probs"], cpu["probs"], rtol=1e-4, atol=1e-6)


def test_outputs_are_not_copied():
    out = dlc.Model(CNN).run([images(2)])["probs"]
    # The array views dlc's tensor (kept alive by a capsule).
    assert not out.flags["OWNDATA"]
    assert out.base is not None


def test_onnx_model():
    if not os.path.exists(CONV):
        pytest.skip("the shared ONNX test data is not here")
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 5)).astype(np.float32)
    jit = dlc.Model(CONV).run([x])
    ref = dlc.Model(CONV, engine="interp").run([x])
    (name,) = jit.keys()
    assert jit[name].shape == (2, 4, 5, 4)
    np.testing.assert_allclose(jit[name], ref[name], rtol=1e-4, atol=1e-5)


def test_errors_are_dlc_errors():
    m = dlc.Model(CNN)
    with pytest.raises(dlc.Error, match=r"input 'images' must be f32\[N,1,28,28\], got f64"):
        m.run({"images": images(2).astype(np.float64)})
    with pytest.raises(dlc.Error, match=r"missing input 'images'"):
        m.run({})
    with pytest.raises(dlc.Error, match=r"the model has no input 'x'"):
        m.run({"images": images(1), "x": images(1)})
    with pytest.raises(dlc.Error, match=r"dim 1 must be 1, got 2"):
        m.run([np.zeros((1, 2, 28, 28), np.float32)])
    with pytest.raises(dlc.Error, match=r"cannot read model"):
        dlc.Model("/nonexistent/model.onnx")
    with pytest.raises(dlc.Error, match=r"device must be|unknown device|'tpu'"):
        dlc.Model(CNN, device="tpu")
    assert issubclass(dlc.Error, RuntimeError)


def test_compile(tmp_path):
    lib = tmp_path / "net.so"
    dlc.compile(CNN, str(lib), threads=1)
    assert lib.stat().st_size > 0
    header = (tmp_path / "net.h").read_text()
    assert "#define NET_INPUT0_SHAPE {-1, 1, 28, 28}" in header
    with pytest.raises(dlc.Error, match=r"pass -o NAME.so"):
        dlc.compile(CNN, str(tmp_path / "net.txt"))


def synthetic(n, seed):
    """Images whose class is the brightest of ten horizontal bands."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = rng.random((n, 1, 28, 28), dtype=np.float32) * 0.2
    for i, c in enumerate(labels):
        x[i, 0, 2 * c + 4: 2 * c + 6, :] += 0.8
    return x, labels.astype(np.int64)


def test_trainer_trains_and_saves(tmp_path):
    t = dlc.Trainer("mlp", optimizer="adam", lr=0.01, seed=3, threads=1)
    x, y = synthetic(320, seed=4)
    history = t.fit(x, y, epochs=3, batch=32)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["loss"] < history[0]["loss"]
    assert t.steps == 30
    tx, ty = synthetic(100, seed=5)
    ev = t.evaluate(tx, ty)
    assert ev["count"] == 100 and ev["correct"] >= 80
    one = t.step(tx[:8], ty[:8])
    assert set(one) == {"loss", "correct", "count"} and one["count"] == 8
    probs = t.predict(tx)
    assert probs.shape == (100, 10)
    path = tmp_path / "trained.dlc"
    t.save(str(path))
    assert (tmp_path / "trained.weights").exists()
    again = dlc.Model(str(path)).run([tx])
    np.testing.assert_allclose(list(again.values())[0], probs, rtol=1e-5, atol=1e-6)


def test_trainer_batch_norm_momentum_and_warnings():
    model = os.path.join(SRC, "test", "tools", "Inputs", "bn-stats.dlc")
    with pytest.warns(UserWarning, match=r"bn-stats.dlc:6:8: warning: this "
                      r"batch_norm's running mean and variance are constants"):
        t = dlc.Trainer(model, loss="cross_entropy", bn_momentum=0.5, threads=1)
    x, y = synthetic(4, seed=2)
    assert np.isfinite(t.step(x.reshape(4, 784), y)["loss"])
    with pytest.raises(dlc.Error, match=r"batch norm momentum must be in \[0, 1\)"):
        dlc.Trainer(model, loss="cross_entropy", bn_momentum=1.0)


def test_trainer_errors():
    with pytest.raises(dlc.Error, match=r"lbfgs"):
        dlc.Trainer("mlp", optimizer="lbfgs")
    with pytest.raises(dlc.Error, match=r"unknown model 'lenet'"):
        dlc.Trainer("lenet")
    t = dlc.Trainer("mlp", threads=1)
    x, y = synthetic(4, seed=6)
    with pytest.raises(dlc.Error, match=r"out of range"):
        t.step(x, y + 10)
    with pytest.raises(dlc.Error, match=r"unknown extension '.pt'"):
        t.save("model.pt")
