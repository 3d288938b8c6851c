#!/usr/bin/env bash
# The space-group ResNet (basic blocks 2,2,2,2, base width 16, 6x32x32 inputs, 230 classes, AdamW
# + one-cycle, batch 64) trained by `magmadnn spacegroup train` beside the same network in PyTorch
# (bench/torch_spacegroup.py) on the same files, alternated ROUNDS times; each program runs 2
# epochs over 230 x PER_GROUP samples and the second epoch's training samples/s is compared.
# Usage: bench/spacegroup_vs_torch.sh [build dir] [rounds] [per group]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
per=${3:-20}
threads=${THREADS:-$(nproc)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
median() { printf "%s\n" "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $threads"
"$build/magmadnn" spacegroup generate --samples-per-group "$per" --seed 1 --out "$tmp/train" >/dev/null
"$build/magmadnn" spacegroup generate --samples-per-group 2 --seed 2 --out "$tmp/test" >/dev/null
ratios=()
for r in $(seq "$rounds"); do
  ours=$("$build/magmadnn" spacegroup train --data "$tmp/train" --test-data "$tmp/test" --epochs 2 --width 16 \
           --threads "$threads" --seed "$r" --out "$tmp/run" | grep "epoch 2/2" | sed 's/.*(\([0-9.]*\) samples\/s.*/\1/')
  theirs=$(/usr/bin/python3 bench/torch_spacegroup.py "$tmp/train" --epochs 2 --width 16 --threads "$threads" \
             | grep "^epoch 2" | sed 's/.*samples_per_s=\([0-9.]*\).*/\1/')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }'); ratios+=("$ratio")
  printf "round %d: magmadnn %s samples/s | pytorch %s samples/s | ratio %s\n" "$r" "$ours" "$theirs" "$ratio"
done
echo "median ratio: $(median "${ratios[@]}")"
