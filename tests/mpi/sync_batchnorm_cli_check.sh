#!/usr/bin/env bash
# `magmadnn train --distributed ddp --sync-batchnorm` under mpirun -np 2: a ResNet-18 whose batch
# norms are synchronised trains like one process on the whole batch (the ranks' strided shards of
# a step make up the single process's batch): after one step the saved weights and running
# statistics agree to float32 rounding (5e-5 relative measured; a ResNet-18 at initialisation
# amplifies rounding so fast that float32 runs drift apart by a percent after a few steps, in
# float64 too for perturbations of 1e-6) and the test loss matches; without the flag each rank
# normalises its own half and its running statistics differ (9e-3). The flag without ddp is one
# clear error.
# Usage: sync_batchnorm_cli_check.sh path/to/magmadnn path/to/mpiexec
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-mpirun}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../cli/check_lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
python3 "$here/../cli/make_idx.py" "$tmp/data" 256 64 || { echo "FAIL: cannot generate IDX files"; exit 1; }
args=(train --data-dir "$tmp/data" --model resnet18 --epochs 1 --batch-size 16 --max-batches 1 --seed 5
      --progress none --optimizer sgd --lr 0.05 --momentum 0.9)
launch=("$mpiexec" --allow-run-as-root --oversubscribe -np 2)

"$bin" "${args[@]}" --metrics-out "$tmp/one.json" --save "$tmp/one.st" >"$tmp/one.out" 2>&1 ||
  { echo "FAIL: single-process run: $(tail -3 "$tmp/one.out")"; exit 1; }
"${launch[@]}" "$bin" "${args[@]}" --distributed ddp --sync-batchnorm --metrics-out "$tmp/sync.json" --save "$tmp/sync.st" \
  >"$tmp/sync.out" 2>&1 && ok "ddp --sync-batchnorm runs" || bad "ddp --sync-batchnorm: $(tail -3 "$tmp/sync.out")"
"${launch[@]}" "$bin" "${args[@]}" --distributed ddp --metrics-out "$tmp/local.json" --save "$tmp/local.st" \
  >"$tmp/local.out" 2>&1 ||
  bad "ddp without --sync-batchnorm: $(tail -3 "$tmp/local.out")"
diff_of() { python3 "$here/../cli/safetensors_diff.py" "$tmp/one.st" "$1" | awk '{print $3}'; }
sync_diff=$(diff_of "$tmp/sync.st") local_diff=$(diff_of "$tmp/local.st")
awk -v d="$sync_diff" 'BEGIN { exit !(d != "" && d <= 5e-4) }' &&
  ok "2 ranks with SyncBatchNorm: weights and running statistics within $sync_diff of one process" ||
  bad "2 ranks with SyncBatchNorm: weights differ from one process by $sync_diff ($(python3 "$here/../cli/safetensors_diff.py" "$tmp/one.st" "$tmp/sync.st"))"
awk -v d="$local_diff" 'BEGIN { exit !(d != "" && d > 2e-3) }' &&
  ok "per-rank batch norm differs from one process by $local_diff" || bad "per-rank batch norm: difference $local_diff"
a=$(json_number "$tmp/one.json" test_loss) s=$(json_number "$tmp/sync.json" test_loss)
awk -v a="$a" -v b="$s" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-3 * (1 + (a < 0 ? -a : a))) }' &&
  ok "test loss $s = one process $a" || bad "test loss $s, one process $a"

expect_error "--sync-batchnorm without ddp" "--sync-batchnorm needs --distributed ddp, got --distributed none" \
  "$bin" "${args[@]}" --sync-batchnorm
finish
