#!/usr/bin/env bash
# bf16 math on the CPU beside PyTorch's CPU autocast to bfloat16, alternated ROUNDS times, on one
# fixed synthetic batch (MagmaDNN `bench` with and without --bf16; bench/torch_bf16.py with and
# without autocast): MLP (batch 128), LeNet (batch 64), ResNet-18 (batch 128). Needs a CPU with
# AVX512_BF16 or AMX. Prints samples/s per round and the median ratios.
# Usage: bench/bf16_vs_torch.sh [build dir] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
threads=${THREADS:-$(nproc)}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
median() { printf "%s\n" "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, threads $threads"
"$build/magmadnn" info | grep -q "bf16 math available" || { echo "this CPU has no bf16 math for oneDNN"; exit 1; }
declare -A batch=([mlp]=128 [lenet]=64 [resnet18]=128) batches=([mlp]=200 [lenet]=100 [resnet18]=4)
declare -A torch_name=([mlp]=mlp [lenet]=cnn [resnet18]=resnet18)
declare -A r_ours r_torch r_vs32 r_vs16 ours theirs
for r in $(seq "$rounds"); do
  for m in mlp lenet resnet18; do
    for p in fp32 bf16; do
      flag=(); [[ $p == bf16 ]] && flag=(--bf16)
      "$build/magmadnn" bench --model "$m" --batch-size "${batch[$m]}" --batches "${batches[$m]}" --warmup 2 \
        --threads "$threads" "${flag[@]}" --metrics-out "$tmp/o.json" >/dev/null
      ours[$p]=$(grep -o '"samples_per_second": *[0-9.e+]*' "$tmp/o.json" | sed 's/.*: *//')
      theirs[$p]=$(/usr/bin/python3 bench/torch_bf16.py "${torch_name[$m]}" "${flag[@]}" --batch-size "${batch[$m]}" \
                   --batches "${batches[$m]}" --warmup 2 --threads "$threads" | sed 's/.*samples_per_s=\([0-9.]*\).*/\1/')
    done
    r_ours[$m]+=" $(ratio "${ours[bf16]}" "${ours[fp32]}")"
    r_torch[$m]+=" $(ratio "${theirs[bf16]}" "${theirs[fp32]}")"
    r_vs32[$m]+=" $(ratio "${ours[fp32]}" "${theirs[fp32]}")"
    r_vs16[$m]+=" $(ratio "${ours[bf16]}" "${theirs[bf16]}")"
    printf "round %d %-8s magmadnn fp32 %8.1f bf16 %8.1f | pytorch fp32 %8.1f bf16 %8.1f samples/s\n" "$r" "$m" \
      "${ours[fp32]}" "${ours[bf16]}" "${theirs[fp32]}" "${theirs[bf16]}"
  done
done
for m in mlp lenet resnet18; do
  printf "median %-8s magmadnn bf16/fp32 %s | pytorch bf16/fp32 %s | magmadnn/pytorch fp32 %s, bf16 %s\n" "$m" \
    "$(median ${r_ours[$m]})" "$(median ${r_torch[$m]})" "$(median ${r_vs32[$m]})" "$(median ${r_vs16[$m]})"
done
