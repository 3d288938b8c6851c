#!/usr/bin/python3
"""Golden values for tests/ops_cnn, computed with PyTorch 1.13 in float64.

Writes tests/data/golden/cnn_conv.json, cnn_pool.json and cnn_batchnorm.json: inputs, outputs and
the gradients of sum(out * coef) for conv2d (strides, padding, dilation, groups, circular padding),
max/avg/adaptive pooling (ceil_mode, count_include_pad) and batch_norm in training (with the
updated running statistics) and eval mode. Run: /usr/bin/python3 tests/golden/gen_cnn.py
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "golden")
torch.manual_seed(2024)


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def rnd(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, dtype=torch.float64) * (hi - lo) + lo)


def conv_cases():
    specs = [
        ("basic_bias", (2, 3, 7, 6), (4, 3, 3, 3), True, dict(stride=1, padding=1)),
        ("stride2_pad_hw", (2, 3, 9, 8), (5, 3, 2, 3), False, dict(stride=2, padding=(0, 1))),
        ("dilation2", (1, 2, 9, 9), (3, 2, 3, 3), True, dict(stride=1, padding=2, dilation=2)),
        ("mixed_hw", (2, 3, 8, 7), (4, 3, 3, 2), True, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
        ("groups2", (2, 4, 6, 6), (6, 2, 3, 3), True, dict(stride=1, padding=1, groups=2)),
        ("depthwise", (1, 4, 5, 5), (4, 1, 3, 3), False, dict(stride=2, padding=1, groups=4)),
        ("wide16", (2, 16, 6, 6), (16, 16, 3, 3), True, dict(stride=1, padding=1)),
        ("circular", (2, 2, 8, 8), (3, 2, 3, 3), True, dict(stride=1, padding=1, padding_mode="circular")),
        ("circular_stride2", (1, 2, 8, 8), (2, 2, 3, 3), False, dict(stride=2, padding=(2, 1),
                                                                   padding_mode="circular")),
    ]
    cases = []
    for name, xs, ws, has_bias, kw in specs:
        x = rnd(*xs).requires_grad_()
        w = rnd(*ws).requires_grad_()
        b = rnd(ws[0]).requires_grad_() if has_bias else None
        args = {k: v for k, v in kw.items() if k != "padding_mode"}
        mode = kw.get("padding_mode", "zeros")
        conv = torch.nn.Conv2d(xs[1], ws[0], ws[2:], bias=has_bias, padding_mode=mode, dtype=torch.float64, **args)
        with torch.no_grad():
            conv.weight.copy_(w)
            if has_bias:
                conv.bias.copy_(b)
        y = conv(x)
        coef = rnd(*y.shape)
        (y * coef).sum().backward()
        pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
        case = {"name": name, "x": t(x), "weight": t(w), "y": t(y), "coef": t(coef), "grad_x": t(x.grad),
                "grad_weight": t(conv.weight.grad), "stride": pair(kw.get("stride", 1)),
                "padding": pair(kw.get("padding", 0)), "dilation": pair(kw.get("dilation", 1)),
                "groups": kw.get("groups", 1), "circular": mode == "circular"}
        if has_bias:
            case["bias"] = t(b)
            case["grad_bias"] = t(conv.bias.grad)
        cases.append(case)
    return cases


def pool_cases():
    specs = [
        ("max_k2", "max", (2, 3, 8, 8), dict(kernel_size=2)),
        ("max_k3_s2_p1", "max", (1, 2, 9, 8), dict(kernel_size=3, stride=2, padding=1)),
        ("max_ceil", "max", (2, 3, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
        ("max_ceil_pad_hw", "max", (2, 2, 10, 7), dict(kernel_size=(3, 2), stride=(2, 3), padding=1, ceil_mode=True)),
        ("avg_k2", "avg", (2, 3, 8, 8), dict(kernel_size=2)),
        ("avg_pad_include", "avg", (1, 2, 9, 8), dict(kernel_size=3, stride=2, padding=1)),
        ("avg_pad_exclude", "avg", (1, 2, 9, 8), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        ("avg_ceil_include", "avg", (2, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        ("avg_ceil_exclude", "avg", (2, 2, 7, 5), dict(kernel_size=2, stride=2, ceil_mode=True,
                                                      count_include_pad=False)),
        ("adaptive_3x2", "adaptive", (2, 3, 7, 5), dict(output_size=(3, 2))),
        ("adaptive_1x1", "adaptive", (2, 3, 7, 5), dict(output_size=1)),
        ("adaptive_4x4_from_10", "adaptive", (1, 2, 10, 10), dict(output_size=4)),
    ]
    cases = []
    for name, kind, xs, kw in specs:
        x = rnd(*xs, lo=-2, hi=2).requires_grad_()
        if kind == "max":
            y = F.max_pool2d(x, **kw)
        elif kind == "avg":
            y = F.avg_pool2d(x, **kw)
        else:
            y = F.adaptive_avg_pool2d(x, kw["output_size"])
        coef = rnd(*y.shape)
        (y * coef).sum().backward()
        pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
        case = {"name": name, "kind": kind, "x": t(x), "y": t(y), "coef": t(coef), "grad_x": t(x.grad)}
        if kind == "adaptive":
            case["output_size"] = pair(kw["output_size"])
        else:
            case["kernel"] = pair(kw["kernel_size"])
            case["stride"] = pair(kw.get("stride", kw["kernel_size"]))
            case["padding"] = pair(kw.get("padding", 0))
            case["ceil_mode"] = kw.get("ceil_mode", False)
            case["count_include_pad"] = kw.get("count_include_pad", True)
        cases.append(case)
    return cases


def batchnorm_cases():
    cases = []
    for name, xs, training, momentum, eps in [
        ("train_2d", (6, 3), True, 0.1, 1e-5),
        ("train_4d", (4, 3, 5, 4), True, 0.3, 1e-3),
        ("eval_2d", (5, 3), False, 0.1, 1e-5),
        ("eval_4d", (3, 4, 3, 3), False, 0.1, 1e-5),
    ]:
        C = xs[1]
        x = rnd(*xs, lo=-2, hi=3).requires_grad_()
        w = rnd(C, lo=0.5, hi=1.5).requires_grad_()
        b = rnd(C).requires_grad_()
        rm0, rv0 = rnd(C), rnd(C, lo=0.5, hi=2.0)
        rm, rv = rm0.clone(), rv0.clone()
        steps = []
        # Training: three steps so the running statistics accumulate; gradients from the last.
        xs_seq = [x] if not training else [rnd(*xs, lo=-1 - i, hi=2 + i) for i in range(2)] + [x]
        for xi in xs_seq:
            y = F.batch_norm(xi, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
            steps.append(xi)
        coef = rnd(*y.shape)
        (y * coef).sum().backward()
        cases.append({"name": name, "training": training, "momentum": momentum, "eps": eps,
                      "inputs": [t(s) for s in steps], "weight": t(w), "bias": t(b),
                      "running_mean_before": t(rm0), "running_var_before": t(rv0),
                      "running_mean_after": t(rm), "running_var_after": t(rv), "y": t(y), "coef": t(coef),
                      "grad_x": t(x.grad), "grad_weight": t(w.grad), "grad_bias": t(b.grad)})
    return cases


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    meta = {"generator": "tests/golden/gen_cnn.py", "torch": torch.__version__}
    write("cnn_conv.json", {"meta": meta, "cases": conv_cases()})
    write("cnn_pool.json", {"meta": meta, "cases": pool_cases()})
    write("cnn_batchnorm.json", {"meta": meta, "cases": batchnorm_cases()})
