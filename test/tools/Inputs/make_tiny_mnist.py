# Writes a tiny MNIST-format data set (the four IDX files, gzip-compressed)
# that a small model learns in a few steps: class c is a 28x28 image with a
# bright horizontal bar at rows 2c+4, 2c+5, plus seeded noise.
# Usage: make_tiny_mnist.py DIR [TRAIN_COUNT TEST_COUNT]
import gzip, os, random, struct, sys

def write(path, dims, data):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, len(dims)))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(data))

def split(prefix, count, rng, out):
    images, labels = [], []
    for n in range(count):
        c = n % 10
        for r in range(28):
            for col in range(28):
                bar = r in (2 * c + 4, 2 * c + 5)
                images.append(200 + rng.randrange(56) if bar else rng.randrange(40))
        labels.append(c)
    write(os.path.join(out, prefix + "-images-idx3-ubyte.gz"), [count, 28, 28], images)
    write(os.path.join(out, prefix + "-labels-idx1-ubyte.gz"), [count], labels)

out = sys.argv[1]
train = int(sys.argv[2]) if len(sys.argv) > 2 else 200
test = int(sys.argv[3]) if len(sys.argv) > 3 else 50
os.makedirs(out, exist_ok=True)
rng = random.Random(1)
split("train", train, rng, out)
split("t10k", test, rng, out)
