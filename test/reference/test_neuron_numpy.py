"""Workload (c): dlc trains the sigmoid neuron y = sigmoid(x W + b) on two
inputs with MSE and plain gradient descent (lr 0.01, 1000 steps); an
independent numpy implementation of the same descent, from the same initial
weights and data, must give the same loss every 100 steps (within 1e-6) and
the same final weights."""
import json
import os
import subprocess
import sys

from reftest import build_dir, require

np = require("numpy")


def numpy_descent(x, y, w, b, lr, steps):
    """Full-batch gradient descent on mean((sigmoid(x w + b) - y)^2), in
    float64; returns {step: loss before that step's update} and the weights."""
    losses = {}
    n = y.size
    for step in range(steps + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        loss = np.mean((p - y) ** 2)
        if step % 100 == 0 or step == steps:
            losses[step] = loss
        if step == steps:
            break
        dp = 2.0 * (p - y) / n          # d loss / d p
        dz = dp * p * (1.0 - p)          # through the sigmoid
        w = w - lr * (x.T @ dz)
        b = b - lr * dz.sum(axis=0)
    return losses, w, b


def main():
    exe = os.path.join(build_dir(), "test", "reference", "neuron-trace")
    out = subprocess.run([exe], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
        return 1
    trace = json.loads(out.stdout)
    x = np.array(trace["x"], np.float64).reshape(-1, 2)
    y = np.array(trace["y"], np.float64).reshape(-1, 1)
    init = trace["initial"]
    w = np.array(init["dense.kernel"], np.float64).reshape(2, 1)
    b = np.array(init["dense.bias"], np.float64).reshape(1)
    steps = trace["steps"]
    losses, w_end, b_end = numpy_descent(x, y, w, b, trace["lr"], steps)

    failures = 0
    print(f"{'step':>5} {'dlc':>12} {'numpy':>12} {'|diff|':>10}")
    for step, want in sorted(losses.items()):
        got = trace["loss"][str(step)]
        diff = abs(got - want)
        print(f"{step:>5} {got:12.8f} {want:12.8f} {diff:10.2e}")
        if not diff <= 1e-6:
            failures += 1
    # The descent must have gone somewhere for the comparison to mean much.
    if not losses[steps] < 0.9 * losses[0]:
        print(f"FAIL: the loss did not fall ({losses[0]} -> {losses[steps]})")
        failures += 1
    final = trace["final"]
    for name, want in (("dense.kernel", w_end.ravel()), ("dense.bias", b_end)):
        got = np.array(final[name], np.float64)
        if not np.allclose(got, want, rtol=0, atol=1e-5):
            print(f"FAIL: final {name}: dlc {got}, numpy {want}")
            failures += 1
    if failures:
        print(f"FAIL: {failures} mismatches")
        return 1
    print("OK: dlc's gradient descent matches numpy every 100 steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
