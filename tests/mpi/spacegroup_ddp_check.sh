#!/usr/bin/env bash
# `magmadnn spacegroup train --distributed ddp` under mpirun -np 2: with --sync-batchnorm the two
# ranks (strided shards of each global batch) train as one process on the whole batch: after two
# AdamW steps the saved weights and running statistics agree to float32 rounding (3e-8 relative
# measured after one); without it each rank normalises its own half (running statistics differ by
# ~1e-3); rank 0 alone writes the weights and metrics.json (world_size 2). --sync-batchnorm
# without ddp is one clear error.
# Usage: spacegroup_ddp_check.sh path/to/magmadnn path/to/mpiexec
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-mpirun}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../cli/check_lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
"$bin" spacegroup generate --size 16 --samples-per-group 2 --seed 1 --out "$tmp/train" >/dev/null &&
  "$bin" spacegroup generate --size 16 --samples-per-group 1 --seed 2 --out "$tmp/test" >/dev/null ||
  { echo "FAIL: cannot generate the data"; exit 1; }
args=(spacegroup train --data "$tmp/train" --test-data "$tmp/test" --epochs 1 --max-batches 2 --batch-size 32
      --width 8 --blocks 1,1)
launch=("$mpiexec" --allow-run-as-root --oversubscribe -np 2)

"$bin" "${args[@]}" --out "$tmp/one" >"$tmp/one.out" 2>&1 || { echo "FAIL: one process: $(tail -3 "$tmp/one.out")"; exit 1; }
"${launch[@]}" "$bin" "${args[@]}" --distributed ddp --sync-batchnorm --out "$tmp/sync" >"$tmp/sync.out" 2>&1 &&
  ok "ddp --sync-batchnorm runs" || bad "ddp --sync-batchnorm: $(tail -3 "$tmp/sync.out")"
"${launch[@]}" "$bin" "${args[@]}" --distributed ddp --out "$tmp/local" >"$tmp/local.out" 2>&1 ||
  bad "ddp without --sync-batchnorm: $(tail -3 "$tmp/local.out")"
diff_of() { python3 "$here/../cli/safetensors_diff.py" "$tmp/one/spacegroup.safetensors" "$1/spacegroup.safetensors" | awk '{print $3}'; }
sync_diff=$(diff_of "$tmp/sync") local_diff=$(diff_of "$tmp/local")
awk -v d="$sync_diff" 'BEGIN { exit !(d != "" && d <= 1e-4) }' &&
  ok "2 ranks with SyncBatchNorm: weights and statistics within $sync_diff of one process" ||
  bad "2 ranks with SyncBatchNorm differ from one process by $sync_diff"
awk -v d="$local_diff" 'BEGIN { exit !(d != "" && d > 1e-4) }' &&
  ok "per-rank batch norm differs from one process by $local_diff" || bad "per-rank batch norm: difference $local_diff"
grep -q '"world_size": 2' "$tmp/sync/metrics.json" && ok "metrics.json records 2 ranks" || bad "metrics.json world_size"
[[ $(grep -c "^all " "$tmp/sync.out") -eq 1 ]] && ok "rank 0 alone prints the report" || bad "report printed $(grep -c "^all " "$tmp/sync.out") times"
expect_error "--sync-batchnorm without ddp" "--sync-batchnorm needs --distributed ddp, got --distributed none" \
  "$bin" "${args[@]}" --sync-batchnorm --out "$tmp/x"
finish
