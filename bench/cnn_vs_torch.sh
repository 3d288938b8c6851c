#!/usr/bin/env bash
# CNN benchmarks beside PyTorch (../shared/bench/torch_ref.py), alternated ROUNDS times:
#  - LeNet (conv32-pool-conv64-pool-fc128-dropout-fc10), batch 64, SGD 0.05/0.9, 200 batches of
#    Fashion-MNIST (MagmaDNN: `train --max-batches 200`, first batches included; PyTorch: after 5
#    warm-up batches);
#  - ResNet-18 (CIFAR stem, 1x28x28, batch 128, SGD 0.05/0.9, weight decay 5e-4): MagmaDNN
#    `bench` (synthetic input, 1 warm-up step) against torch_ref.py resnet18 --batches N.
# Usage: bench/cnn_vs_torch.sh [build dir] [rounds] [resnet batches]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
rbatches=${3:-5}
threads=${THREADS:-$(nproc)}
torch_ref=${TORCH_REF:-../shared/bench/torch_ref.py}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
num() { grep -o "\"$2\": *[0-9.e+]*" "$1" | head -1 | sed 's/.*: *//'; }
median() { printf "%s\n" "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $threads"
lr=(); rr=()
for r in $(seq "$rounds"); do
  "$build/magmadnn" train --model lenet --epochs 1 --max-batches 200 --batch-size 64 --lr 0.05 --momentum 0.9 \
    --seed "$r" --threads "$threads" --progress none --metrics-out "$tmp/l.json" >/dev/null
  ours=$(num "$tmp/l.json" samples_per_second)
  theirs=$(/usr/bin/python3 "$torch_ref" cnn --batches 200 --threads "$threads" | sed 's/.*samples_per_s=\([0-9]*\).*/\1/')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }'); lr+=("$ratio")
  printf "round %d lenet: magmadnn %.0f samples/s | pytorch %s samples/s | ratio %s\n" "$r" "$ours" "$theirs" "$ratio"

  "$build/magmadnn" bench --model resnet18 --batch-size 128 --batches "$rbatches" --warmup 1 --threads "$threads" \
    --metrics-out "$tmp/r.json" >/dev/null
  ours=$(num "$tmp/r.json" samples_per_second)
  theirs=$(/usr/bin/python3 "$torch_ref" resnet18 --batches "$rbatches" --threads "$threads" | sed 's/.*samples_per_s=\([0-9]*\).*/\1/')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }'); rr+=("$ratio")
  printf "round %d resnet18: magmadnn %.1f samples/s | pytorch %s samples/s | ratio %s\n" "$r" "$ours" "$theirs" "$ratio"
done
echo "median ratio lenet: $(median "${lr[@]}")  resnet18: $(median "${rr[@]}")"
