#!/usr/bin/env python3
# Writes small NumPy archives (x_train, y_train, x_test, y_test, as np.savez does) for the CLI's
# own-data checks, with the standard library only (no numpy in CI):
#   make_npz.py classify FILE    3 Gaussian blobs in 6 features of very different scales, int64 labels
#   make_npz.py regress FILE     2 targets, each a linear function of 5 features plus noise 0.05
#   make_npz.py images FILE      uint8 (N, 12, 12) images, the class is the bright quadrant (4 classes)
#   make_npz.py bad KIND FILE    a broken archive (KIND: missing, nan, negative, count, shape, mixed)
#   make_npz.py npy FILE.npz NAME OUT.npy   one array of an archive as a .npy file
#   make_npz.py rmse CSV FILE.npz           RMSE of a predict CSV against the archive's y_test
#   make_npz.py accuracy CSV FILE.npz       accuracy of a predict CSV (class column) against y_test
#   make_npz.py mae_r2 CSV FILE.npz         MAE and R^2 (averaged over the targets) of a predict CSV
import io
import math
import random
import struct
import sys
import zipfile

CODES = {"f8": "d", "f4": "f", "i8": "q", "u1": "B", "i4": "i"}


def npy_bytes(descr, shape, values):
    header = "{'descr': '<%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    payload = struct.pack("<%d%s" % (len(values), CODES[descr]), *values)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def read_npy(raw):
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode()
    descr = header.split("'descr': '")[1][1:3]
    shape = tuple(int(d) for d in header.split("(")[1].split(")")[0].split(",") if d.strip())
    n = 1
    for d in shape:
        n *= d
    return shape, struct.unpack("<%d%s" % (n, CODES[descr]), raw[10 + hlen:10 + hlen + n * struct.calcsize(CODES[descr])])


def savez(path, arrays):
    with zipfile.ZipFile(path, "w") as z:
        for name, (descr, shape, values) in arrays.items():
            z.writestr(name + ".npy", npy_bytes(descr, shape, values))


def classify(rng, n):
    centers = [[0, 0, 0, 0, 0, 0], [2, -1, 1, 0, 1, -2], [-2, 1, 2, 1, -1, 1]]
    scales = [1, 100, 0.01, 10, 1000, 1]  # standardisation must cope with these
    offsets = [0, 500, -3, 20, 1e4, 7]
    xs, ys = [], []
    for _ in range(n):
        c = rng.randrange(3)
        ys.append(c)
        xs += [(centers[c][j] + rng.gauss(0, 0.6)) * scales[j] + offsets[j] for j in range(6)]
    return xs, ys


W = [[0.5, -1.0, 2.0, 0.0, 1.5], [1.0, 1.0, -0.5, 0.7, 0.0]]


def regress(rng, n):
    xs, ys = [], []
    for _ in range(n):
        x = [rng.gauss(0, 1) for _ in range(5)]
        xs += x
        ys += [sum(w * v for w, v in zip(row, x)) + 3.0 + rng.gauss(0, 0.05) for row in W]
    return xs, ys


def images(rng, n):
    xs, ys = [], []
    for _ in range(n):
        q = rng.randrange(4)
        ys.append(q)
        for i in range(12):
            for j in range(12):
                bright = (i >= 6) == (q // 2 == 1) and (j >= 6) == (q % 2 == 1)
                xs.append(min(255, rng.randrange(120) + (110 if bright else 0)))
    return xs, ys


def main():
    rng = random.Random(11)
    cmd = sys.argv[1]
    if cmd == "classify":
        xtr, ytr = classify(rng, 600)
        xte, yte = classify(rng, 300)
        savez(sys.argv[2], {"x_train": ("f8", (600, 6), xtr), "y_train": ("i8", (600,), ytr),
                            "x_test": ("f8", (300, 6), xte), "y_test": ("i8", (300,), yte)})
    elif cmd == "regress":
        xtr, ytr = regress(rng, 800)
        xte, yte = regress(rng, 200)
        savez(sys.argv[2], {"x_train": ("f4", (800, 5), xtr), "y_train": ("f4", (800, 2), ytr),
                            "x_test": ("f4", (200, 5), xte), "y_test": ("f4", (200, 2), yte)})
    elif cmd == "images":
        xtr, ytr = images(rng, 400)
        xte, yte = images(rng, 100)
        savez(sys.argv[2], {"x_train": ("u1", (400, 12, 12), xtr), "y_train": ("u1", (400,), ytr),
                            "x_test": ("u1", (100, 12, 12), xte), "y_test": ("u1", (100,), yte)})
    elif cmd == "bad":
        kind, path = sys.argv[2], sys.argv[3]
        x, y = [float(i % 7) for i in range(40)], [i % 2 for i in range(10)]
        arrays = {"x_train": ("f8", (10, 4), x), "y_train": ("i8", (10,), y),
                  "x_test": ("f8", (10, 4), x), "y_test": ("i8", (10,), y)}
        if kind == "missing":
            del arrays["y_test"]
        elif kind == "nan":
            arrays["x_train"] = ("f8", (10, 4), x[:13] + [float("nan")] + x[14:])
        elif kind == "negative":
            arrays["y_train"] = ("i8", (10,), y[:5] + [-1] + y[6:])
        elif kind == "count":
            arrays["y_train"] = ("i8", (9,), y[:9])
        elif kind == "shape":
            arrays["x_test"] = ("f8", (8, 5), x)
        elif kind == "mixed":
            arrays["y_test"] = ("f8", (10,), [float(v) for v in y])
        savez(path, arrays)
    elif cmd == "npy":
        with zipfile.ZipFile(sys.argv[2]) as z:
            open(sys.argv[4], "wb").write(z.read(sys.argv[3] + ".npy"))
    elif cmd == "rmse":
        rows = [l.split(",") for l in open(sys.argv[2]).read().splitlines()[1:]]
        with zipfile.ZipFile(sys.argv[3]) as z:
            shape, y = read_npy(z.read("y_test.npy"))
        k = shape[1] if len(shape) > 1 else 1
        err = [(float(r[1 + j]) - y[int(r[0]) * k + j]) ** 2 for r in rows for j in range(k)]
        print("%.6f" % math.sqrt(sum(err) / len(err)))
    elif cmd == "mae_r2":
        rows = [l.split(",") for l in open(sys.argv[2]).read().splitlines()[1:]]
        with zipfile.ZipFile(sys.argv[3]) as z:
            shape, y = read_npy(z.read("y_test.npy"))
        k = shape[1] if len(shape) > 1 else 1
        n = len(rows)
        pred = {(int(r[0]), j): float(r[1 + j]) for r in rows for j in range(k)}
        mae = sum(abs(pred[i, j] - y[i * k + j]) for i in range(n) for j in range(k)) / (n * k)
        r2 = 0.0
        for j in range(k):
            col = [y[i * k + j] for i in range(n)]
            mean = sum(col) / n
            sse = sum((pred[i, j] - col[i]) ** 2 for i in range(n))
            r2 += 1 - sse / sum((v - mean) ** 2 for v in col)
        print("%.6f %.6f" % (mae, r2 / k))
    elif cmd == "accuracy":
        rows = [l.split(",") for l in open(sys.argv[2]).read().splitlines()[1:]]
        with zipfile.ZipFile(sys.argv[3]) as z:
            _, y = read_npy(z.read("y_test.npy"))
        print("%.4f" % (sum(int(r[1]) == y[int(r[0])] for r in rows) / len(y)))


if __name__ == "__main__":
    main()
