#!/usr/bin/env bash
# The Ising experiment of docs/ISING.md, end to end: generates the data sets, trains the CNN,
# GraphConv and GCNConv energy models on 8x8 periodic lattices (J = 1), evaluates them on
# Metropolis samples at T = 1..5 and zero-shot on 16x16 and 32x32 lattices, then trains the
# graph models with random couplings J_ij in [0.5, 1.5]. Usage: scripts/ising-experiment.sh [OUT]
# (default ising-experiment/; needs build/magmadnn, e.g. from scripts/quickstart.sh).
set -euo pipefail
bin="$(cd "$(dirname "$0")/.." && pwd)/build/magmadnn"
out="${1:-ising-experiment}"
mkdir -p "$out" && cd "$out"
export OMP_WAIT_POLICY=PASSIVE

# Data: 200k training and 20k test configurations of uniform random spins; 18k Metropolis
# samples at T = 1.0, 1.5, ..., 5.0 (2k each, 1000 burn-in sweeps, 10 sweeps apart); larger
# lattices; random couplings (one draw of J_ij for the whole set, stored in couplings.npy).
"$bin" ising generate --samples 200000 --seed 1 --out train8.npz
"$bin" ising generate --samples 20000 --seed 2 --out test8.npz
"$bin" ising generate --sampler metropolis --temperatures 1.0:5.0:0.5 --samples 18000 --seed 3 --out metro8.npz
"$bin" ising generate --size 16 --samples 5000 --seed 4 --out test16.npz
"$bin" ising generate --size 32 --samples 2000 --seed 5 --out test32.npz
"$bin" ising generate --coupling random --j-min 0.5 --j-max 1.5 --samples 200000 --seed 6 --out randj8.npz

# The three models on J = 1 (table, parity plot, metrics.json and weights in uniform/).
"$bin" ising train --data train8.npz --test-data test8.npz --model cnn,graphconv,gcn --epochs 10 --out uniform

# Generalisation: Metropolis samples (T = 1..5) and zero-shot larger lattices.
for m in cnn graphconv gcn; do
  for d in metro8 test16 test32; do
    "$bin" ising eval --model "$m" --weights "uniform/$m.safetensors" --data "$d.npz" --metrics-out "uniform/eval_${m}_${d}.json"
  done
done

# Random couplings: edge-weighted graph layers (10% of the set held out for testing).
"$bin" ising train --data randj8.npz --model graphconv,gcn --epochs 20 --out random_j
