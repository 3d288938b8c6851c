#!/usr/bin/env python3
"""PyTorch reference for `magmadnn spacegroup train`: the same ResNet (basic blocks, CIFAR stem,
6 input channels, base width W, 230 classes), AdamW + one-cycle, batch 64, trained on the same
data set files (images.npy uint8 / 255, space_groups.npy). Prints the parameter count, then one
line per epoch with samples/s (training steps only) and, with --test, test top-1.
Usage: torch_spacegroup.py TRAIN_DIR [--test TEST_DIR] [--epochs N] [--width W] [--blocks 2,2,2,2]
       [--batch-size B] [--lr LR] [--threads T]"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        s.bn2 = nn.BatchNorm2d(cout)
        s.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            s.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x)))
        return F.relu(s.bn2(s.conv2(y)) + s.shortcut(x))


class ResNet(nn.Module):
    def __init__(s, blocks, width, classes, cin=6):
        super().__init__()
        s.stem = nn.Sequential(nn.Conv2d(cin, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers, c = [], width
        for stage, n in enumerate(blocks):
            for b in range(n):
                out = width * 2 ** stage
                layers.append(BasicBlock(c, out, 2 if stage > 0 and b == 0 else 1))
                c = out
        s.layers = nn.Sequential(*layers)
        s.fc = nn.Linear(c, classes)

    def forward(s, x):
        return s.fc(F.adaptive_avg_pool2d(s.layers(s.stem(x)), 1).flatten(1))


def load(d):
    return torch.from_numpy(np.load(d + "/images.npy")), torch.from_numpy(np.load(d + "/space_groups.npy")).long() - 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train")
    p.add_argument("--test")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--blocks", default="2,2,2,2")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x, y = load(a.train)
    model = ResNet([int(b) for b in a.blocks.split(",")], a.width, 230)
    print(f"parameters {sum(p.numel() for p in model.parameters())}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.05)
    batches = len(x) // a.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.epochs * batches)
    for epoch in range(1, a.epochs + 1):
        model.train()
        order = torch.randperm(len(x))
        t0 = time.perf_counter()
        for b in range(batches):
            idx = order[b * a.batch_size:(b + 1) * a.batch_size]
            xb = x[idx].float().div_(255.0)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        seconds = time.perf_counter() - t0
        line = f"epoch {epoch} samples_per_s={batches * a.batch_size / seconds:.1f} seconds={seconds:.1f}"
        if a.test:
            tx, ty = load(a.test)
            model.eval()
            right = 0
            with torch.no_grad():
                for b in range(0, len(tx), 256):
                    right += (model(tx[b:b + 256].float().div_(255.0)).argmax(1) == ty[b:b + 256]).sum().item()
            line += f" test_top1={right / len(tx):.4f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
