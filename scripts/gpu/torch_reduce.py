#!/usr/bin/env python3
"""PyTorch's reductions against its device-to-device copy on the same GPU, measured as
bench/cuda_reduce.cpp measures MagmaDNN's (the same eight cases and sizes; 20 calls back to back
timed by CUDA events on the current stream, best of R; copy = 2 * bytes / time, reduction =
bytes / time), so gpu-check.sh can print PyTorch's ratio beside ours.

    python3 scripts/gpu/torch_reduce.py [--reps R] [--mib 64,256,1024]
"""
import argparse

import torch

CALLS = 20


def best_seconds(fn, reps):
    fn()  # warm-up
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(CALLS):
            fn()
        stop.record()
        stop.synchronize()
        best = min(best, start.elapsed_time(stop) * 1e-3 / CALLS)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--mib", default="64,256,1024")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_reduce.py: no CUDA device")
    print(f"device: {torch.cuda.get_device_name()} (PyTorch {torch.__version__})")
    print("| elements (fp32) | MiB | reduction | GB/s | copy GB/s | ratio |\n|---|---|---|---|---|---|")
    worst = float("inf")
    for mib in (int(m) for m in args.mib.split(",")):
        n = mib * (1 << 20) // 4
        nbytes = n * 4.0
        x = torch.randn(n, device="cuda")
        y = torch.empty_like(x)
        copy_gbs = 2 * nbytes / best_seconds(lambda: y.copy_(x), args.reps) / 1e9
        rows = x.view(n // 1024, 1024)
        wide = x.view(64, n // 64)
        cube = x.view(256, n // (256 * 64), 64)
        cases = [
            ("sum (all)", lambda: x.sum()),
            ("mean (all)", lambda: x.mean()),
            ("max (all)", lambda: x.max()),
            ("sum rows (N/1024, 1024) dim 1", lambda: rows.sum(1)),
            ("sum cols (N/1024, 1024) dim 0", lambda: rows.sum(0)),
            ("mean (64, N/64) dim 1", lambda: wide.mean(1)),
            ("max (256, M, 64) dim 1", lambda: cube.amax(1)),
            ("sum (256, M, 64) dims 0,2", lambda: cube.sum((0, 2))),
        ]
        for name, fn in cases:
            gbs = nbytes / best_seconds(fn, args.reps) / 1e9
            worst = min(worst, gbs / copy_gbs)
            print(f"| {n} | {mib} | {name} | {gbs:.0f} | {copy_gbs:.0f} | {gbs / copy_gbs:.2f} |")
        del x, y
        torch.cuda.empty_cache()
    print(f"smallest ratio of reduction to copy bandwidth: {worst:.2f}")


if __name__ == "__main__":
    main()
