# Writes a small CNN with a batch norm for 28x28 images (dlc IR text with
# its weights inline), seeded: conv 4x3x3 stride 2, batch_norm, relu,
# max_pool 2, dense 196 -> 10, softmax. Used by mpi.sh dlc-train-sync-bn.
# Usage: make_bn_model.py OUT.dlc
import random, sys

rng = random.Random(5)

def dense(shape, values):
    dims = ",".join(str(d) for d in shape)
    return "dense<f32[%s]>[%s]" % (dims, ", ".join("%.6f" % v for v in values))

def uniform(shape, scale):
    n = 1
    for d in shape:
        n *= d
    return dense(shape, [scale * (2 * rng.random() - 1) for _ in range(n)])

params = [
    ("w1", [4, 1, 3, 3], uniform([4, 1, 3, 3], 0.5)),
    ("g", [4], dense([4], [1.0])),
    ("b", [4], dense([4], [0.0])),
    ("m", [4], dense([4], [0.0])),
    ("v", [4], dense([4], [1.0])),
    ("w2", [196, 10], uniform([196, 10], 0.1)),
    ("b2", [10], dense([10], [0.0])),
]
text = "func @bn(%%x: f32[N,1,28,28]) params(%s) -> (p: f32[N,10]) {\n" % ", ".join(
    "%%%s: f32[%s] = %s" % (n, ",".join(str(d) for d in s), v) for n, s, v in params)
text += """  %c = conv %x, %w1 {pads = [1, 1, 1, 1], strides = [2, 2]}
  %n = batch_norm %c, %g, %b, %m, %v {epsilon = 0.001}
  %r = relu %n
  %q = max_pool %r {kernel = [2, 2], strides = [2, 2]}
  %f = flatten %q
  %h = matmul %f, %w2
  %z = add %h, %b2
  %p = softmax %z
  return %p
}
"""
with open(sys.argv[1], "w") as f:
    f.write(text)
