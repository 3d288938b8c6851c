#!/usr/bin/env bash
# Kernel time per ResNet-18 training step (batch 128, TF32) on an NVIDIA GPU, ours beside
# PyTorch's, to see where a step's device time goes:
#   - MagmaDNN: `ncu --metrics gpu__time_duration.sum` over three bench steps (one warm-up),
#     summed per kernel name by scripts/gpu/ncu_kernel_times.py;
#   - PyTorch: torch.profiler over five steps of torch_ref.py's ResNet-18 (scripts/gpu/
#     torch_resnet18_profile.py).
#
#   scripts/gpu-profile.sh DIR    DIR/payload.tar.xz from `scripts/gpu-check.sh --pack DIR`
#
# Also the reduction kernels of `bench_cuda_reduce --mib 64` under ncu (OUT/ncu_reduce_kernels.txt).
# Needs ncu (Nsight Compute; it reads counters on Firecracker machines, not under gVisor) and
# python3 with torch. Writes OUT/ncu.csv, OUT/ncu_kernels.txt, OUT/torch_profile.txt (OUT default:
# a temporary folder) and prints the top of both tables. About 40 s on an H200.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR (holding payload.tar.xz from gpu-check.sh --pack)}
OUT=${OUT:-$(mktemp -d)}
root=$(mktemp -d)
tar -C "$root" -xJf "$dir/payload.tar.xz" || { echo "cannot unpack $dir/payload.tar.xz"; exit 1; }
libpath="$root/lib"
for sp in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
  for d in "$sp"/nvidia/*/lib; do [ -d "$d" ] && libpath="$libpath:$d"; done
done
export LD_LIBRARY_PATH="$libpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
timeout 120 ncu --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$OUT/ncu.csv" \
  "$root/bin/magmadnn" bench --model resnet18 --device cuda --batch-size 128 --batches 2 --warmup 1 --tf32 \
  >"$OUT/ncu_run.txt" 2>&1 || { echo "ncu failed:"; tail -5 "$OUT/ncu_run.txt"; }
python3 scripts/gpu/ncu_kernel_times.py "$OUT/ncu.csv" 3 >"$OUT/ncu_kernels.txt" 2>&1
timeout 120 python3 scripts/gpu/torch_resnet18_profile.py "$root" >"$OUT/torch_profile.txt" 2>&1
# The reductions at 64 MiB, where they are furthest from the copy bandwidth: each kernel's time
# and grid, to compare with the bench's per-call figure (the difference is launch gaps).
timeout 90 ncu --clock-control none --metrics gpu__time_duration.sum,launch__grid_size,launch__occupancy_limit_registers \
  --csv --log-file "$OUT/ncu_reduce.csv" "$root/bin/bench_cuda_reduce" --mib 64 --reps 1 >"$OUT/ncu_reduce_run.txt" 2>&1 ||
  { echo "ncu (reductions) failed:"; tail -5 "$OUT/ncu_reduce_run.txt"; }
python3 scripts/gpu/ncu_kernel_times.py "$OUT/ncu_reduce.csv" 1 >"$OUT/ncu_reduce_kernels.txt" 2>&1
echo "== MagmaDNN (ncu)"; head -25 "$OUT/ncu_kernels.txt" | cut -c1-160
echo "== reductions at 64 MiB (ncu; all calls of the bench, warm-up and graph replays included)"
head -20 "$OUT/ncu_reduce_kernels.txt" | cut -c1-160
echo "== PyTorch (torch.profiler)"; grep -v Warning "$OUT/torch_profile.txt" | head -30 | cut -c1-200
