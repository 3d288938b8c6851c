#!/usr/bin/env python3
"""PyTorch's training speed in float32 and under CPU autocast to bfloat16, for the models of
../shared/bench/torch_ref.py (mlp, cnn = LeNet, resnet18) on one fixed synthetic batch, SGD
0.05 / 0.9: the same workload as `magmadnn bench` (with and without --bf16).

Usage: torch_bf16.py MODEL [--bf16] [--batch-size B] [--batches N] [--warmup W] [--threads T]
Prints one line: model, precision, samples/s.
"""
import argparse, os, sys, time

import torch, torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.environ.get("TORCH_REF", os.path.join(os.path.dirname(__file__),
                                                  "../../shared/bench/torch_ref.py"))))
import torch_ref  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model", choices=["mlp", "cnn", "resnet18"])
ap.add_argument("--bf16", action="store_true")
ap.add_argument("--batch-size", type=int, default=128)
ap.add_argument("--batches", type=int, default=10)
ap.add_argument("--warmup", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = {"mlp": torch_ref.mlp, "cnn": torch_ref.cnn, "resnet18": torch_ref.ResNet18}[a.model]()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
x = torch.rand(a.batch_size, 1, 28, 28)
y = torch.randint(0, 10, (a.batch_size,))


def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss


for _ in range(a.warmup):
    step()
t0 = time.perf_counter()
for _ in range(a.batches):
    loss = step()
loss.item()
dt = time.perf_counter() - t0
print(f"torch {torch.__version__} {a.model} {'bf16' if a.bf16 else 'fp32'} batch {a.batch_size}: "
      f"samples_per_s={a.batches * a.batch_size / dt:.1f} loss={loss.item():.4f}")
