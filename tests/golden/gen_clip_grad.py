#!/usr/bin/python3
"""Golden values for gradient clipping, computed with PyTorch 1.13 in float64:
torch.nn.utils.clip_grad_norm_ (norm types 2, 1, 3 and inf; bounds that clip and bounds that do
not) and clip_grad_value_, on three gradients of different shapes.

Writes tests/data/golden/clip_grad.json.
Run: /usr/bin/python3 tests/golden/gen_clip_grad.py
"""
import json
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "golden", "clip_grad.json")

torch.manual_seed(2026)
torch.set_default_dtype(torch.float64)


def t(x):
    return {"shape": list(x.shape), "data": x.detach().flatten().tolist()}


def grads():
    shapes = [(4, 3), (5,), (2, 2, 3)]
    return [torch.randn(s) * (k + 1) for k, s in enumerate(shapes)]


cases = []
for norm_type in [2.0, 1.0, 3.0, math.inf]:
    for max_norm in [0.5, 1e3]:
        gs = grads()
        params = [torch.zeros_like(g, requires_grad=True) for g in gs]
        for p, g in zip(params, gs):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        cases.append({"kind": "norm", "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                      "max_norm": max_norm, "grads": [t(g) for g in gs], "total": total.item(),
                      "clipped": [t(p.grad) for p in params]})
for clip_value in [0.7, 100.0]:
    gs = grads()
    params = [torch.zeros_like(g, requires_grad=True) for g in gs]
    for p, g in zip(params, gs):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_value_(params, clip_value)
    cases.append({"kind": "value", "clip_value": clip_value, "grads": [t(g) for g in gs],
                  "clipped": [t(p.grad) for p in params]})

with open(OUT, "w") as f:
    json.dump({"generator": "tests/golden/gen_clip_grad.py", "torch": torch.__version__, "cases": cases}, f)
print("wrote", OUT, len(cases), "cases")
