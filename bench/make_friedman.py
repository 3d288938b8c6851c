#!/usr/bin/env python3
"""Friedman's benchmark function #1 as NumPy archives for `magmadnn train --dataset FILE.npz`:
10 features uniform in [0, 1], of which 5 matter,
    y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise (standard normal),
so the best possible test RMSE is the noise's, 1.0 (Friedman 1991, as sklearn's make_friedman1).
Writes FILE_regress.npz (y as float32) and FILE_classes.npz (y cut into 5 equally populated
classes by the quintiles of the noiseless training y).

    make_friedman.py PREFIX [N_TRAIN] [N_TEST] [SEED]
"""
import sys

import numpy as np


def friedman(rng, n):
    x = rng.uniform(size=(n, 10)).astype(np.float32)
    clean = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    return x, clean, clean + rng.standard_normal(n)


def main():
    prefix = sys.argv[1]
    n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    n_test = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    x, clean, y = friedman(rng, n_train)
    xt, clean_t, yt = friedman(rng, n_test)
    np.savez(prefix + "_regress.npz", x_train=x, y_train=y.astype(np.float32), x_test=xt, y_test=yt.astype(np.float32))
    cuts = np.quantile(clean, [0.2, 0.4, 0.6, 0.8])
    np.savez(prefix + "_classes.npz", x_train=x, y_train=np.digitize(clean, cuts).astype(np.int64), x_test=xt,
             y_test=np.digitize(clean_t, cuts).astype(np.int64))


if __name__ == "__main__":
    main()
