#!/usr/bin/env bash
# The space-group experiment of docs/SPACEGROUP.md, end to end: random crystals of all 230 space
# groups (300 per group for training, 50 for testing, other seeds), their six diffraction layers
# as 6x32x32 images, a ResNet-18-shaped network of base width 16 trained on the 230 space groups,
# then evaluated (per crystal system, implied coarser labels, and up to the groups the patterns
# cannot tell apart). Usage: scripts/spacegroup-experiment.sh [OUT] (default
# spacegroup-experiment/; needs build/magmadnn, e.g. from scripts/quickstart.sh). Extra flags:
# GENERATE_FLAGS for both sets (e.g. "--special-positions 0.5 --random-settings", the realistic
# variant in docs/SPACEGROUP.md), TRAIN_FLAGS for training (e.g. --bf16).
set -euo pipefail
bin="$(cd "$(dirname "$0")/.." && pwd)/build/magmadnn"
out="${1:-spacegroup-experiment}"
mkdir -p "$out" && cd "$out"
export OMP_WAIT_POLICY=PASSIVE

read -r -a gen_flags <<<"${GENERATE_FLAGS:-}"
read -r -a train_flags <<<"${TRAIN_FLAGS:-}"
"$bin" spacegroup generate --samples-per-group 300 --seed 1 --out train "${gen_flags[@]}"
"$bin" spacegroup generate --samples-per-group 50 --seed 2 --out test "${gen_flags[@]}"
"$bin" spacegroup train --data train --test-data test --target space-group --epochs 12 --width 16 --out run \
  "${train_flags[@]}"
"$bin" spacegroup eval --weights run/spacegroup.safetensors --data test --metrics-out run/eval.json
