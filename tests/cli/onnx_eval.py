#!/usr/bin/env python3
"""Checks an exported ONNX file independently of MagmaDNN: onnx.checker (full check, with shape
inference) and a small NumPy interpreter that follows the ONNX operator specifications (opset 13)
for the operators the exporter writes. onnx 1.12 (Debian 12) has no reference runtime of its own.

    onnx_eval.py check MODEL.onnx                       structural check; prints the operators used
    onnx_eval.py run MODEL.onnx INPUT.npy OUTPUT.npy    runs the model on the input
    onnx_eval.py compare MODEL.onnx INPUT.npy CSV       runs it and compares with a predict CSV:
        the softmax of the outputs against every class's probability (predict --top K, all
        classes), or the outputs against a regression's y0, y1, ... (prints the largest difference)
    onnx_eval.py images N C H W SCALE OUT.npy           N random float32 inputs in [0, SCALE)
"""
import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_hw(x, pads, value):
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def windows(x, kh, kw, sh, sw, dh=1, dw=1):
    """(N, C, OH, OW, kh, kw) views of a padded (N, C, H, W) array."""
    n, c, h, w = x.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(x, (n, c, oh, ow, kh, kw),
                                           (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw))


def pool_pads(x, a, ceil_mode):
    """Pads (top, left, bottom, right), with extra bottom/right room for ceil mode's last window."""
    t, l, b, r = a.get("pads", [0, 0, 0, 0])
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    if ceil_mode:
        for axis, (k, s, p0, p1) in enumerate([(kh, sh, t, b), (kw, sw, l, r)]):
            size = x.shape[2 + axis] + p0 + p1
            out = math.ceil((size - k) / s) + 1
            extra = max(0, (out - 1) * s + k - size)
            if axis == 0:
                b += extra
            else:
                r += extra
    return [t, l, b, r]


def conv(x, w, b, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    g = a.get("group", 1)
    xp = pad_hw(x, a.get("pads", [0, 0, 0, 0]), 0.0)
    n, c = x.shape[:2]
    o = w.shape[0]
    outs = []
    for gi in range(g):
        cols = windows(xp[:, gi * c // g:(gi + 1) * c // g], kh, kw, sh, sw, dh, dw)
        wg = w[gi * o // g:(gi + 1) * o // g]
        outs.append(np.einsum("ncyxij,ocij->noyx", cols, wg, optimize=True))
    y = np.concatenate(outs, axis=1)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def max_pool(x, a):
    pads = pool_pads(x, a, a.get("ceil_mode", 0))
    w = windows(pad_hw(x, pads, -np.inf), *a["kernel_shape"], *a.get("strides", [1, 1]))
    return w.max(axis=(4, 5))


def avg_pool(x, a):
    pads = pool_pads(x, a, a.get("ceil_mode", 0))
    kh, kw = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    total = windows(pad_hw(x, pads, 0.0), kh, kw, *s).sum(axis=(4, 5))
    if a.get("count_include_pad", 0):
        return total / (kh * kw)
    ones = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)
    return total / windows(pad_hw(ones, pads, 0.0), kh, kw, *s).sum(axis=(4, 5))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run(model, x):
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in env.items()}
    env[model.graph.input[0].name] = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    for node in model.graph.node:
        a = attrs(node)
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](i[0], i[1])
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "LeakyRelu":
            y = np.where(i[0] >= 0, i[0], a.get("alpha", 0.01) * i[0])
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif op == "Tanh":
            y = np.tanh(i[0])
        elif op == "Erf":
            y = erf(i[0])
        elif op == "Sqrt":
            y = np.sqrt(i[0])
        elif op == "ReduceMean":
            y = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Reshape":  # 0 copies the input's dimension (allowzero = 0)
            shape = [i[0].shape[k] if d == 0 else d for k, d in enumerate(i[1])]
            y = i[0].reshape(shape)
        elif op == "Identity":
            y = i[0]
        elif op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "MaxPool":
            y = max_pool(i[0], a)
        elif op == "AveragePool":
            y = avg_pool(i[0], a)
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * A @ B + (a.get("beta", 1.0) * i[2] if len(i) > 2 else 0)
        elif op == "MatMul":
            y = i[0] @ i[1]
        elif op == "BatchNormalization":
            shape = (1, -1) + (1,) * (i[0].ndim - 2)
            scale, bias, mean, var = (v.reshape(shape) for v in i[1:5])
            y = (i[0] - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale + bias
        elif op == "Softmax":
            y = softmax(i[0], a.get("axis", -1))
        elif op == "LogSoftmax":
            y = np.log(softmax(i[0], a.get("axis", -1)))
        else:
            sys.exit("onnx_eval.py: operator %s is not interpreted here" % op)
        env[node.output[0]] = y
    return env[model.graph.output[0].name]


def main():
    cmd = sys.argv[1]
    if cmd == "images":
        n, c, h, w = (int(v) for v in sys.argv[2:6])
        scale = float(sys.argv[6])
        np.save(sys.argv[7], (np.random.default_rng(0).random((n, c, h, w)) * scale).astype(np.float32))
        return
    model = onnx.load(sys.argv[2])
    onnx.checker.check_model(model, full_check=True)
    if cmd == "check":
        print("ok opset %d ops %s" % (model.opset_import[0].version,
                                       ",".join(sorted({n.op_type for n in model.graph.node}))))
        for p in model.metadata_props:
            print("%s=%s" % (p.key, p.value))
        return
    x = np.load(sys.argv[3])
    y = run(model, x)
    if cmd == "run":
        np.save(sys.argv[4], y.astype(np.float32))
        return
    rows = [l.split(",") for l in open(sys.argv[4]).read().splitlines()]
    header, rows = rows[0], rows[1:]
    assert len(rows) == len(y), "%d CSV rows for %d outputs" % (len(rows), len(y))
    worst = 0.0
    if header[1] == "y0":  # regression values, %.7g
        for r in rows:
            for j, v in enumerate(r[1:]):
                ref = y[int(r[0]), j]
                worst = max(worst, abs(float(v) - ref) / (1 + abs(ref)))
    else:  # index, then (class, name, probability) per rank
        p = softmax(y, 1)
        for r in rows:
            for k in range(1, len(r), 3):
                worst = max(worst, abs(float(r[k + 2]) - p[int(r[0]), int(r[k])]))
    print("max_diff %.3g" % worst)


if __name__ == "__main__":
    main()
