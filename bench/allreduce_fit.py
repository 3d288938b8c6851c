#!/usr/bin/python3
"""Fit the ring all-reduce model to bench_allreduce_bandwidth output (issue 5).

    t(S) = 2(n-1)/n * S / B + 2(n-1) * latency

Usage: /usr/bin/python3 bench/allreduce_fit.py bench/allreduce_n2.txt bench/allreduce_n4.txt [--unweighted]
       [--large=BYTES]   (second fit over sizes >= BYTES only, default 16777216: the DDP-bucket regime)

Each file holds one or more sweeps ("all-reduce (mpi, N ranks)" then rows of bytes, time_us,
algbw, busbw; lines starting with '#' are notes). Sweeps are grouped by rank count and the
minimum time per size is kept: on shared cores other processes only ever add time.

The fit minimises the *relative* residuals, sum_i ((a*S_i + b) / t_i - 1)^2, with a = 2(n-1)/(n B)
and b = 2(n-1) latency. Why not plain least squares: the times span four orders of magnitude
(tens of microseconds at 4 KB, about a second at 256 MB), so absolute residuals are ruled by the
largest message alone and the latency comes out as a small difference of large numbers (often
negative). Weighting every size by 1/t_i gives each size the same say, which is how the model is
used: to predict, within some percent, the time of a message of any size (a DDP bucket of 25 MiB
as much as a 4 KB control message). The unweighted fit is printed too (--unweighted shows its
residuals) for comparison. Both coefficients are kept non-negative. A second relative-error fit
over the large messages only (>= 16 MiB by default: out of cache, the regime of DDP's 25 MiB
buckets) gives the bandwidth without the small-message latency floor pulling on it.
"""
import re
import sys

import numpy as np

HEADER = re.compile(r"all-reduce \((\w+), (\d+) ranks?\)")


def read_sweeps(paths):
    """{(backend, n): {bytes: [time_us, ...]}} over every sweep in every file."""
    data = {}
    for path in paths:
        n = None
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                m = HEADER.search(line)
                if m:
                    n = (m.group(1), int(m.group(2)))
                    continue
                parts = line.split()
                if n is None or len(parts) != 4:
                    continue
                try:
                    size, t_us = int(parts[0]), float(parts[1])
                except ValueError:
                    continue  # column titles
                data.setdefault(n, {}).setdefault(size, []).append(t_us)
    return data


def nonneg_lstsq(A, y):
    """Least squares for y ~ A @ [a, b] with a, b >= 0 (two unknowns: try the faces)."""
    best = None
    for cols in ([0, 1], [0], [1]):
        x, *_ = np.linalg.lstsq(A[:, cols], y, rcond=None)
        if np.any(x < 0):
            continue
        full = np.zeros(2)
        full[cols] = x
        err = float(np.sum((A @ full - y) ** 2))
        if best is None or err < best[1]:
            best = (full, err)
    return best[0]


def fit(sizes, t, n, weighted=True):
    """Returns (B in bytes/s, latency in s, model times)."""
    A = np.stack([sizes, np.ones_like(sizes)], axis=1)
    if weighted:
        a, b = nonneg_lstsq(A / t[:, None], np.ones_like(t))
    else:
        a, b = nonneg_lstsq(A, t)
    steps = 2.0 * (n - 1)
    B = (steps / n) / a if a > 0 else float("inf")
    return B, b / steps, a * sizes + b


def main(argv):
    unweighted_detail = "--unweighted" in argv
    large = 16 << 20
    for a in argv:
        if a.startswith("--large="):
            large = int(a.split("=", 1)[1])
    paths = [p for p in argv if not p.startswith("--")]
    if not paths:
        print(__doc__)
        return 2
    data = read_sweeps(paths)
    if not data:
        print("no all-reduce sweeps found in", paths)
        return 1
    for key in sorted(data, key=lambda k: (k[1], k[0] != "mpi", k[0])):
        backend, n = key
        if n < 2:
            continue
        rows = sorted(data[key].items())
        sizes = np.array([s for s, _ in rows], dtype=float)
        t = np.array([min(v) for _, v in rows]) * 1e-6
        t_med = np.array([np.median(v) for _, v in rows]) * 1e-6
        sweeps = min(len(v) for _, v in rows)
        B, lat, model = fit(sizes, t, n, weighted=True)
        Bu, latu, modelu = fit(sizes, t, n, weighted=False)
        shown = modelu if unweighted_detail else model
        print(f"{backend}, n = {n} ranks: best of {sweeps} sweeps per size (median_us: their median, not fitted)")
        print(f"{'bytes':>11} {'time_us':>11} {'algbw_GB/s':>11} {'busbw_GB/s':>11} {'model_us':>11} {'rel_resid':>10} {'median_us':>11}")
        for s, ti, mi, tm in zip(sizes, t, shown, t_med):
            alg = s / ti / 1e9
            bus = alg * 2.0 * (n - 1) / n
            print(f"{int(s):>11} {ti * 1e6:>11.1f} {alg:>11.3f} {bus:>11.3f} {mi * 1e6:>11.1f} {(ti - mi) / mi:>+10.2f} {tm * 1e6:>11.1f}")
        rel = (t - model) / model
        relu = (t - modelu) / modelu
        print(f"  relative-error fit: B = {B / 1e9:.3f} GB/s, latency = {lat * 1e6:.1f} us per step "
              f"(2(n-1) = {2 * (n - 1)} steps: {2 * (n - 1) * lat * 1e6:.1f} us), "
              f"|resid| median {np.median(np.abs(rel)):.2f}, max {np.max(np.abs(rel)):.2f}")
        print(f"  unweighted fit:     B = {Bu / 1e9:.3f} GB/s, latency = {latu * 1e6:.1f} us per step, "
              f"|resid| median {np.median(np.abs(relu)):.2f}, max {np.max(np.abs(relu)):.2f}")
        big = sizes >= large
        if big.sum() >= 2:
            Bl, latl, modell = fit(sizes[big], t[big], n, weighted=True)
            rell = (t[big] - modell) / modell
            print(f"  sizes >= {large} B:  B = {Bl / 1e9:.3f} GB/s, latency = {latl * 1e6:.1f} us per step, "
                  f"|resid| median {np.median(np.abs(rell)):.2f}, max {np.max(np.abs(rell)):.2f}")
        print(f"  half-bandwidth size (latency term = bandwidth term): {n * lat * B / 1e3:.0f} KB")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
