#!/usr/bin/env bash
# The MLP benchmark: 784-512-256-10 ReLU, batch 128, SGD lr 0.05 momentum 0.9, one epoch of
# Fashion-MNIST (468 batches), MagmaDNN and PyTorch (../shared/bench/torch_ref.py) alternated
# ROUNDS times on this machine; prints each run and the median ratio of training samples/s.
# Usage: bench/mlp_vs_torch.sh [build dir] [rounds]   (needs python3-torch: scripts/install-deps.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
threads=${THREADS:-$(nproc)}
torch_ref=${TORCH_REF:-../shared/bench/torch_ref.py}
[[ -x "$build/magmadnn" ]] || { echo "build $build/magmadnn first (cmake --build $build)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ratios=()
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $threads"
for r in $(seq "$rounds"); do
  "$build/magmadnn" train --model mlp --epochs 1 --batch-size 128 --lr 0.05 --momentum 0.9 --seed "$r" \
    --threads "$threads" --progress none --metrics-out "$tmp/m.json" >/dev/null
  ours=$(grep -o '"samples_per_second": *[0-9.e+]*' "$tmp/m.json" | head -1 | sed 's/.*: *//')
  rss=$(grep -o '"peak_rss_mb": *[0-9.e+]*' "$tmp/m.json" | head -1 | sed 's/.*: *//')
  acc=$(grep -o '"test_accuracy": *[0-9.e+]*' "$tmp/m.json" | head -1 | sed 's/.*: *//')
  line=$(/usr/bin/python3 "$torch_ref" mlp --threads "$threads")
  theirs=$(sed 's/.*samples_per_s=\([0-9]*\).*/\1/' <<<"$line")
  tacc=$(sed 's/.*test_acc=\([0-9.]*\).*/\1/' <<<"$line")
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  ratios+=("$ratio")
  printf "round %d: magmadnn %.0f samples/s (test acc %.4f, peak RSS %.0f MB) | pytorch %s samples/s (test acc %s) | ratio %s\n" \
    "$r" "$ours" "$acc" "$rss" "$theirs" "$tacc" "$ratio"
done
median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median ratio (magmadnn / pytorch training samples/s): $median"
