#!/usr/bin/env python3
"""PyTorch reference for `magmadnn train --dataset FILE.npz --model mlp:W1,W2,...`: the same MLP
(Linear + ReLU per hidden width), the same preprocessing (inputs standardised per feature by
x_train's mean and population std), loss (cross-entropy for integer labels, MSE for floating
targets), Adam, batch size, epochs and per-epoch shuffle; prints one line
    samples_per_s=... test_metric=... (accuracy or RMSE)
timing only the training steps, as magmadnn's samples_per_second does.

    torch_npz.py FILE.npz --widths 256,128 --epochs 5 --batch-size 256 --lr 1e-3 --threads 2 --seed 0
"""
import argparse
import time

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--widths", default="256,128")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    d = np.load(a.data)
    x, xt = d["x_train"].astype(np.float32), d["x_test"].astype(np.float32)
    x, xt = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1
    x, xt = torch.from_numpy((x - mean) / std), torch.from_numpy((xt - mean) / std)
    classify = np.issubdtype(d["y_train"].dtype, np.integer)
    if classify:
        y, yt = torch.from_numpy(d["y_train"].astype(np.int64)), torch.from_numpy(d["y_test"].astype(np.int64))
        outputs = int(max(y.max(), yt.max())) + 1
        loss_fn = torch.nn.functional.cross_entropy
    else:
        y, yt = torch.from_numpy(d["y_train"].astype(np.float32)), torch.from_numpy(d["y_test"].astype(np.float32))
        y, yt = y.reshape(len(y), -1), yt.reshape(len(yt), -1)
        outputs = y.shape[1]
        loss_fn = torch.nn.functional.mse_loss
    layers, width = [], x.shape[1]
    for w in [int(v) for v in a.widths.split(",") if v]:
        layers += [torch.nn.Linear(width, w), torch.nn.ReLU()]
        width = w
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, outputs))
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    seconds, samples = 0.0, 0
    for _ in range(a.epochs):
        order = torch.randperm(len(x))
        t0 = time.perf_counter()
        for i in range(0, len(x), a.batch_size):
            idx = order[i:i + a.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            samples += len(idx)
        seconds += time.perf_counter() - t0
    with torch.no_grad():
        out = model(xt)
        metric = (out.argmax(1) == yt).float().mean().item() if classify else torch.sqrt(((out - yt) ** 2).mean()).item()
    print("samples_per_s=%.0f test_metric=%.4f" % (samples / seconds, metric))


if __name__ == "__main__":
    main()
