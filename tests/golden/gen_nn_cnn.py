#!/usr/bin/python3
"""Golden values for tests/nn_cnn and tests/models, computed with PyTorch 1.13 in float64.

Writes tests/data/golden/nn_cnn_modules.json (BatchNorm1d/2d modules over several training steps:
outputs, running statistics, num_batches_tracked, gradients, eval outputs; a small
conv-BN-ReLU-pool-linear Sequential and one ResNet basic block with projection shortcut: train
outputs, parameter gradients, running statistics, eval outputs) and nn_cnn_zoo.json (state-dict
keys, shapes and parameter counts of ../shared/bench/torch_ref.py's cnn and ResNet18, its
[3, 4, 6, 3] variant and an ImageNet-stem ResNet-18).
Run: /usr/bin/python3 tests/golden/gen_nn_cnn.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "golden")
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "bench"))
import torch_ref  # noqa: E402

torch.manual_seed(77)
torch.set_default_dtype(torch.float64)


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def rnd(*shape, lo=-1.0, hi=1.0):
    return torch.rand(*shape) * (hi - lo) + lo


# MagmaDNN's names for torch_ref.Block's submodules.
RENAME = [("c1", "conv1"), ("b1", "bn1"), ("c2", "conv2"), ("b2", "bn2"), ("sc", "shortcut")]


def rename(key):
    parts = key.split(".")
    parts = [dict(RENAME).get(p, p) for p in parts]
    return ".".join(parts)


def randomise(module):
    """Non-trivial affine parameters and running statistics, so nothing passes by accident."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    m.weight.copy_(rnd(*m.weight.shape, lo=0.5, hi=1.5))
                    m.bias.copy_(rnd(*m.bias.shape, lo=-0.5, hi=0.5))
                m.running_mean.copy_(rnd(*m.running_mean.shape, lo=-0.3, hi=0.3))
                m.running_var.copy_(rnd(*m.running_var.shape, lo=0.5, hi=2.0))


def state(module):
    return {rename(k): t(v) for k, v in module.state_dict().items() if k.split(".")[-1] != "num_batches_tracked"}


def bn_case(name, module, shapes, eval_shape):
    randomise(module)
    start = state(module)
    module.train()
    steps = []
    for i, s in enumerate(shapes):
        x = rnd(*s, lo=-2.0, hi=3.0).requires_grad_()
        module.zero_grad()
        y = module(x)
        coef = rnd(*y.shape)
        (y * coef).sum().backward()
        step = {"x": t(x), "y": t(y), "coef": t(coef), "grad_x": t(x.grad)}
        if module.affine:
            step["grad_weight"] = t(module.weight.grad)
            step["grad_bias"] = t(module.bias.grad)
        if module.track_running_stats:
            step["running_mean"] = t(module.running_mean)
            step["running_var"] = t(module.running_var)
            step["num_batches_tracked"] = int(module.num_batches_tracked)
        steps.append(step)
    module.eval()
    xe = rnd(*eval_shape, lo=-2.0, hi=3.0)
    return {"name": name, "kind": type(module).__name__, "num_features": module.num_features, "eps": module.eps,
            "momentum": module.momentum, "affine": module.affine, "track_running_stats": module.track_running_stats,
            "state": start, "steps": steps, "eval_x": t(xe), "eval_y": t(module(xe))}


def net_case(name, module, x_shape):
    randomise(module)
    start = state(module)
    module.train()
    x = rnd(*x_shape).requires_grad_()
    y = module(x)
    coef = rnd(*y.shape)
    (y * coef).sum().backward()
    grads = {rename(k): t(p.grad) for k, p in module.named_parameters()}
    after = {rename(k): t(v) for k, v in module.state_dict().items()
             if k.endswith("running_mean") or k.endswith("running_var")}
    module.eval()
    xe = rnd(*x_shape)
    return {"name": name, "state": start, "x": t(x), "y": t(y), "coef": t(coef), "grad_x": t(x.grad),
            "grads": grads, "running_after": after, "eval_x": t(xe), "eval_y": t(module(xe))}


def small_cnn():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1, padding_mode="circular"), nn.ReLU(),
                         nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 3))


class ImageNetResNet(torch_ref.ResNet18):
    """torch_ref's ResNet with a 7x7/2 stem and max-pool, as torchvision's resnet18/34."""

    def __init__(self, blocks, in_channels, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, c = [], 64
        for width, n, stride in zip([64, 128, 256, 512], blocks, [1, 2, 2, 2]):
            for i in range(n):
                layers.append(torch_ref.Block(c, width, stride if i == 0 else 1))
                c = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)


def cifar_resnet(blocks):
    m = torch_ref.ResNet18()
    layers, c = [], 64
    for width, n, stride in zip([64, 128, 256, 512], blocks, [1, 2, 2, 2]):
        for i in range(n):
            layers.append(torch_ref.Block(c, width, stride if i == 0 else 1))
            c = width
    m.layers = nn.Sequential(*layers)
    return m


def zoo_entry(module):
    sd = module.state_dict()
    return {"keys": [rename(k) for k in sd.keys()], "shapes": [list(v.shape) for v in sd.values()],
            "num_parameters": sum(p.numel() for p in module.parameters())}


def main():
    modules = {
        "batchnorm": [
            bn_case("bn2d", nn.BatchNorm2d(3, eps=1e-3, momentum=0.2), [(4, 3, 5, 5), (2, 3, 4, 6), (3, 3, 5, 5)],
                    (2, 3, 4, 4)),
            bn_case("bn1d_nc", nn.BatchNorm1d(4), [(6, 4), (5, 4)], (3, 4)),
            bn_case("bn1d_ncl", nn.BatchNorm1d(3, momentum=0.3), [(4, 3, 5), (2, 3, 7)], (2, 3, 5)),
            bn_case("bn2d_no_affine", nn.BatchNorm2d(2, affine=False), [(3, 2, 4, 4)], (2, 2, 3, 3)),
        ],
        "nets": [
            net_case("small_cnn", small_cnn(), (2, 2, 8, 8)),
            net_case("block_projection", torch_ref.Block(4, 8, 2), (2, 4, 7, 7)),
            net_case("block_identity", torch_ref.Block(4, 4, 1), (2, 4, 5, 5)),
        ],
    }
    zoo = {
        "lenet": zoo_entry(torch_ref.cnn()),
        "resnet18": zoo_entry(torch_ref.ResNet18()),
        "resnet34": zoo_entry(cifar_resnet([3, 4, 6, 3])),
        "resnet18_imagenet_3x1000": zoo_entry(ImageNetResNet([2, 2, 2, 2], 3, 1000)),
        "resnet34_imagenet_3x1000": zoo_entry(ImageNetResNet([3, 4, 6, 3], 3, 1000)),
    }
    os.makedirs(OUT, exist_ok=True)
    for file, data in [("nn_cnn_modules.json", modules), ("nn_cnn_zoo.json", zoo)]:
        with open(os.path.join(OUT, file), "w") as f:
            json.dump({"generator": "tests/golden/gen_nn_cnn.py", "torch": torch.__version__, **data}, f)
        print("wrote", os.path.join(OUT, file))
    for k, v in zoo.items():
        print(k, v["num_parameters"], len(v["keys"]))


if __name__ == "__main__":
    main()
