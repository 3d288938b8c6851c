#!/usr/bin/python3
"""Golden values for tests/nn and tests/optim, computed with PyTorch 1.13.

Writes tests/data/golden/{optim,lr_scheduler,linear}.json: optimizer trajectories from fixed
parameters under a fixed sequence of gradients, learning-rate sequences of each scheduler, and a
Linear layer's / small MLP's forward and backward values. Run: /usr/bin/python3 tests/golden/gen_optim.py
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "golden")
STEPS = 6


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


# --------------------------------------------------------------------------------- optimizers

OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}

# (name, optimizer, defaults, per-group overrides or None, dtype, steps where parameter 1 has no grad)
CASES = [
    ("sgd_plain", "sgd", {"lr": 0.1}, None, "float64", []),
    ("sgd_momentum_dampening", "sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, None, "float64", []),
    ("sgd_nesterov", "sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True}, None, "float64", []),
    ("sgd_weight_decay", "sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}, None, "float64", []),
    ("sgd_float32_skip", "sgd", {"lr": 0.1, "momentum": 0.9}, None, "float32", [1, 2]),
    ("adam_default", "adam", {"lr": 1e-3}, None, "float64", []),
    ("adam_lr_weight_decay", "adam", {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1}, None,
     "float64", []),
    ("adam_amsgrad", "adam", {"lr": 0.05, "amsgrad": True}, None, "float64", []),
    ("adam_float32", "adam", {"lr": 0.01}, None, "float32", [3]),
    ("adamw_default_decay", "adamw", {"lr": 0.05}, None, "float64", []),
    ("adamw_amsgrad", "adamw", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": True}, None, "float64", []),
    ("adagrad_default", "adagrad", {"lr": 0.1}, None, "float64", []),
    ("adagrad_decay", "adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2,
                                  "eps": 1e-8}, None, "float64", []),
    ("rmsprop_plain", "rmsprop", {"lr": 0.01}, None, "float64", []),
    ("rmsprop_momentum", "rmsprop", {"lr": 0.01, "momentum": 0.9, "alpha": 0.9, "weight_decay": 0.05}, None,
     "float64", []),
    ("rmsprop_centered", "rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True}, None, "float64", []),
    ("sgd_two_groups", "sgd", {"lr": 0.1, "momentum": 0.9}, [{}, {"lr": 0.01, "weight_decay": 0.05}], "float64", []),
    ("adam_two_groups", "adam", {"lr": 0.01}, [{"lr": 0.1}, {"weight_decay": 0.2, "amsgrad": True}], "float64", []),
]


def optimizer_case(name, kind, defaults, groups, dtype, skip_steps):
    dt = getattr(torch, dtype)
    gen = torch.Generator().manual_seed(sum(map(ord, name)))
    shapes = [(3, 4), (3,)]
    params = [torch.randn(s, generator=gen, dtype=torch.float64).to(dt).requires_grad_() for s in shapes]
    init = [flat(p) for p in params]
    if groups is None:
        opt = OPTIMIZERS[kind](params, **defaults)
        group_spec = [{"params": [0, 1], "options": {}}]
    else:
        opt = OPTIMIZERS[kind]([dict(params=[params[i]], **g) for i, g in enumerate(groups)], **defaults)
        group_spec = [{"params": [i], "options": g} for i, g in enumerate(groups)]
    grads, traj = [], []
    for step in range(STEPS):
        gs = [torch.randn(s, generator=gen, dtype=torch.float64).to(dt) for s in shapes]
        step_grads = []
        for i, (p, g) in enumerate(zip(params, gs)):
            if i == 1 and step in skip_steps:
                p.grad = None
                step_grads.append(None)
            else:
                p.grad = g.clone()
                step_grads.append(flat(g))
        opt.step()
        grads.append(step_grads)
        traj.append([flat(p) for p in params])
    return {"name": name, "optimizer": kind, "dtype": dtype, "defaults": defaults, "groups": group_spec,
            "shapes": [list(s) for s in shapes], "init": init, "grads": grads, "params": traj}


# ---------------------------------------------------------------------------------- schedulers

def scheduler_case(name, make, epochs, metrics=None, lrs=(0.1,)):
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0])
    sched = make(opt)
    start = [g["lr"] for g in opt.param_groups]  # OneCycleLR sets its own initial rate
    seq = []
    for e in range(epochs):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        seq.append([g["lr"] for g in opt.param_groups])
    out = {"name": name, "initial_lrs": list(lrs), "start_lrs": start, "lrs": seq}
    if metrics is not None:
        out["metrics"] = metrics
    return out


def schedulers():
    S = torch.optim.lr_scheduler
    plateau_metrics = [1.0, 0.9, 0.95, 0.91, 0.9, 0.92, 0.93, 0.5, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.67,
                       0.68, 0.69, 0.7, 0.71]
    acc_metrics = [0.1, 0.3, 0.35, 0.355, 0.356, 0.6, 0.6, 0.6, 0.61, 0.605, 0.6, 0.6, 0.6, 0.6, 0.6]
    return [
        dict(scheduler_case("step", lambda o: S.StepLR(o, step_size=3, gamma=0.5), 12), type="StepLR",
             step_size=3, gamma=0.5),
        dict(scheduler_case("multistep", lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 8], gamma=0.1), 10),
             type="MultiStepLR", milestones=[2, 5, 5, 8], gamma=0.1),
        dict(scheduler_case("cosine", lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01), 17),
             type="CosineAnnealingLR", T_max=5, eta_min=0.01),
        dict(scheduler_case("cosine_two_groups", lambda o: S.CosineAnnealingLR(o, T_max=7), 10, lrs=(0.1, 0.02)),
             type="CosineAnnealingLR", T_max=7, eta_min=0.0),
        dict(scheduler_case("onecycle_cos", lambda o: S.OneCycleLR(
            o, max_lr=0.4, total_steps=20, pct_start=0.25, cycle_momentum=False), 19),  # the rates of steps 1..total-1
             type="OneCycleLR", max_lr=0.4, total_steps=20, pct_start=0.25, div_factor=25.0, final_div_factor=1e4,
             anneal="cos"),
        dict(scheduler_case("onecycle_linear_two_groups", lambda o: S.OneCycleLR(
            o, max_lr=0.2, total_steps=13, pct_start=0.4, div_factor=10.0, final_div_factor=100.0,
            anneal_strategy="linear", cycle_momentum=False), 12, lrs=(0.1, 0.02)),
             type="OneCycleLR", max_lr=0.2, total_steps=13, pct_start=0.4, div_factor=10.0, final_div_factor=100.0,
             anneal="linear"),
        dict(scheduler_case("plateau_min_rel", lambda o: S.ReduceLROnPlateau(
            o, mode="min", factor=0.5, patience=2, threshold=0.05, cooldown=1, min_lr=0.02), 20, plateau_metrics),
             type="ReduceLROnPlateau", mode="min", factor=0.5, patience=2, threshold=0.05, threshold_mode="rel",
             cooldown=1, min_lr=0.02),
        dict(scheduler_case("plateau_max_abs", lambda o: S.ReduceLROnPlateau(
            o, mode="max", factor=0.1, patience=1, threshold=0.01, threshold_mode="abs"), 15, acc_metrics,
            lrs=(0.1, 0.05)),
             type="ReduceLROnPlateau", mode="max", factor=0.1, patience=1, threshold=0.01, threshold_mode="abs",
             cooldown=0, min_lr=0.0),
    ]


# ------------------------------------------------------------------------------------ layers

def linear_cases():
    gen = torch.Generator().manual_seed(7)
    cases = []
    for name, in_shape in [("linear_2d", (4, 5)), ("linear_3d", (2, 3, 5))]:
        lin = torch.nn.Linear(5, 3)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(3, 5, generator=gen))
            lin.bias.copy_(torch.randn(3, generator=gen))
        x = torch.randn(in_shape, generator=gen).requires_grad_()
        y = lin(x)
        r = torch.randn(y.shape, generator=gen)
        (y * r).sum().backward()
        cases.append({"name": name, "in_shape": list(in_shape), "weight": flat(lin.weight), "bias": flat(lin.bias),
                      "x": flat(x), "grad_output": flat(r), "y": flat(y), "grad_weight": flat(lin.weight.grad),
                      "grad_bias": flat(lin.bias.grad), "grad_x": flat(x.grad)})
    return cases


def mlp_case():
    """Linear(6, 8) - Tanh - Linear(8, 3) trained with Adam on cross-entropy: losses and final weights.

    In float64: Adam's normalised steps amplify float32 rounding differences of the gradients."""
    gen = torch.Generator().manual_seed(11)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    init = {k: flat(v) for k, v in model.state_dict().items()}
    x = torch.randn(10, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (10,), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return {"init": init, "x": flat(x), "target": [int(v) for v in y], "losses": losses,
            "final": {k: flat(v) for k, v in model.state_dict().items()}}


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32)
    os.makedirs(OUT, exist_ok=True)
    write("optim.json", {"generator": "tests/golden/gen_optim.py", "torch": torch.__version__,
                         "cases": [optimizer_case(*c) for c in CASES]})
    write("lr_scheduler.json", {"generator": "tests/golden/gen_optim.py", "torch": torch.__version__,
                                "cases": schedulers()})
    write("linear.json", {"generator": "tests/golden/gen_optim.py", "torch": torch.__version__,
                          "linear": linear_cases(), "mlp_adam": mlp_case()})
