#!/usr/bin/env python3
# Writes a small MNIST-shaped data set as raw IDX files (train-*/t10k-* images and labels) into a
# folder, for CLI tests that must not depend on the real data set: make_idx.py DIR [TRAIN TEST].
# Images are class-dependent noise, so a model can learn something from them.
import os
import random
import struct
import sys


def write(folder, prefix, n, rng):
    labels = [rng.randrange(10) for _ in range(n)]
    with open(os.path.join(folder, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        for y in labels:
            f.write(bytes(min(255, rng.randrange(200) + (30 if (i // 28) % 10 == y else 0)) for i in range(784)))
    with open(os.path.join(folder, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(bytes(labels))


if __name__ == "__main__":
    folder = sys.argv[1]
    n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 640
    n_test = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(7)
    write(folder, "train", n_train, rng)
    write(folder, "t10k", n_test, rng)
