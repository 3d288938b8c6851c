#!/usr/bin/python3
"""Golden values for layer_norm / group_norm and the LayerNorm / GroupNorm modules, computed with
PyTorch 1.13 in float64: inputs, affine parameters, outputs, and the gradients of
sum(output * upstream) with respect to input, weight and bias.

Writes tests/data/golden/norm_layer_group.json.
Run: /usr/bin/python3 tests/golden/gen_norm.py
"""
import json
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "golden", "norm_layer_group.json")

torch.manual_seed(2026)
torch.set_default_dtype(torch.float64)


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": x.flatten().tolist()}


def case(kind, x_shape, param_shape, arg, affine=True, eps=1e-5):
    x = (torch.randn(x_shape) * 2 + 0.5).requires_grad_()
    w = (torch.rand(param_shape) + 0.5).requires_grad_() if affine else None
    b = torch.randn(param_shape).requires_grad_() if affine else None
    if kind == "layer_norm":
        y = F.layer_norm(x, arg, w, b, eps)
    else:
        y = F.group_norm(x, arg, w, b, eps)
    up = torch.randn(y.shape)
    (y * up).sum().backward()
    out = {"kind": kind, "arg": list(arg) if kind == "layer_norm" else arg, "eps": eps, "x": t(x), "y": t(y),
           "upstream": t(up), "grad_x": t(x.grad)}
    if affine:
        out.update({"weight": t(w), "bias": t(b), "grad_weight": t(w.grad), "grad_bias": t(b.grad)})
    return out


cases = [
    case("layer_norm", (4, 10), (10,), (10,)),
    case("layer_norm", (2, 3, 4, 5), (4, 5), (4, 5)),
    case("layer_norm", (3, 7), (7,), (7,), affine=False, eps=1e-3),
    case("group_norm", (3, 6, 4, 4), (6,), 2),
    case("group_norm", (2, 6, 5), (6,), 3),
    case("group_norm", (2, 4, 3, 3), (4,), 1),
    case("group_norm", (2, 4, 3, 3), (4,), 4, affine=False),
]
with open(OUT, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print("wrote", OUT)
