#!/usr/bin/env bash
# Your own data, against PyTorch: Friedman #1 (bench/make_friedman.py: 100,000 training and 20,000
# test samples of 10 features) as a regression and as a 5-class classification, an MLP 10-256-128
# trained 5 epochs with Adam 1e-3, batch 256, by `magmadnn train --dataset FILE.npz` and by
# bench/torch_npz.py (the same model, preprocessing and loop), alternated ROUNDS times on this
# machine; prints each run (training samples/s and test RMSE / accuracy) and the median ratios.
# Usage: bench/npz_vs_torch.sh [build dir] [rounds]   (needs python3-torch: scripts/install-deps.sh --bench)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
threads=${THREADS:-$(nproc)}
[[ -x "$build/magmadnn" ]] || { echo "build $build/magmadnn first (cmake --build $build)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 bench/make_friedman.py "$tmp/friedman"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $threads"
json() { grep -o "^  \"$2\": *[-0-9.e+]*" "$1" | head -1 | sed 's/.*: *//'; }  # top-level keys (history repeats them deeper)
for task in regress classes; do
  metric=$([[ $task == regress ]] && echo test_rmse || echo test_accuracy)
  ratios=()
  for r in $(seq "$rounds"); do
    "$build/magmadnn" train --dataset "$tmp/friedman_$task.npz" --model mlp:256,128 --epochs 5 --batch-size 256 \
      --optimizer adam --lr 1e-3 --seed "$r" --threads "$threads" --progress none --metrics-out "$tmp/m.json" >/dev/null
    ours=$(json "$tmp/m.json" samples_per_second)
    our_metric=$(json "$tmp/m.json" "$metric")
    line=$(/usr/bin/python3 bench/torch_npz.py "$tmp/friedman_$task.npz" --widths 256,128 --epochs 5 --batch-size 256 \
      --lr 1e-3 --threads "$threads" --seed "$r")
    theirs=$(sed 's/.*samples_per_s=\([0-9]*\).*/\1/' <<<"$line")
    their_metric=$(sed 's/.*test_metric=\([0-9.]*\).*/\1/' <<<"$line")
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
    ratios+=("$ratio")
    printf "%s round %d: magmadnn %.0f samples/s (%s %.4f) | pytorch %s samples/s (%s %s) | ratio %s\n" \
      "$task" "$r" "$ours" "$metric" "$our_metric" "$theirs" "$metric" "$their_metric" "$ratio"
  done
  median=$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  echo "$task: median ratio (magmadnn / pytorch training samples/s): $median"
done
