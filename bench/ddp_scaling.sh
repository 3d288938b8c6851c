#!/usr/bin/env bash
# LeNet training throughput on Fashion-MNIST: 2 DDP ranks with one thread each against one rank
# with one thread, through the CLI (`mpirun -np N magmadnn train --distributed ddp`). Weak
# scaling keeps 64 samples per rank and step (global batch 64 / 128); strong scaling keeps the
# global batch at 128 (128 / 64 per rank). Throughput counts the training steps only (the CLI's
# samples_per_second_all_ranks). Run on a quiet machine: bench/ddp_scaling.sh [path/to/magmadnn]
set -euo pipefail
bin="${1:-build/magmadnn}"
batches="${BATCHES:-150}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc --all) cores; $batches steps per run"
rate() {  # NP GLOBAL_BATCH -> samples/s over all ranks
  mpirun --allow-run-as-root --oversubscribe --bind-to core -np "$1" "$bin" train --distributed ddp --model lenet \
    --epochs 1 --batch-size "$2" --max-batches "$batches" --threads 1 --progress none --seed 0 \
    --metrics-out "$tmp/m.json" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
  python3 -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["samples_per_second_all_ranks"])' "$tmp/m.json"
}
# The machine's ceiling: two independent one-thread trainings at once (no communication at all).
pair() {
  local pids=() i
  for i in 0 1; do
    "$bin" train --model lenet --epochs 1 --batch-size 64 --max-batches "$batches" --threads 1 --progress none \
      --seed 0 --metrics-out "$tmp/p$i.json" >"$tmp/p$i.out" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  python3 -c 'import json,sys; print("%.0f" % sum(json.load(open(f))["samples_per_second"] for f in sys.argv[1:]))' \
    "$tmp/p0.json" "$tmp/p1.json"
}
r1_64=$(rate 1 64); r2_128=$(rate 2 128); r1_128=$(rate 1 128); two=$(pair)
printf '%-44s %10s\n' "configuration" "samples/s"
printf '%-44s %10s\n' "1 rank x 1 thread, batch 64" "$r1_64" "2 ranks x 1 thread, 64 per rank (batch 128)" "$r2_128" \
  "1 rank x 1 thread, batch 128" "$r1_128" "2 independent 1-thread runs, batch 64 (sum)" "$two"
python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print('weak scaling (64 per rank): %.2fx   strong scaling (global 128): %.2fx   ceiling (independent runs): %.2fx   DDP efficiency vs ceiling: %.0f%%' % (b/a, b/c, d/a, 100*b/d))" \
  "$r1_64" "$r2_128" "$r1_128" "$two"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
