#!/usr/bin/env bash
# `magmadnn hpo`: successive halving on a generated data set (9 trials, eta 3: 9 at 1 epoch, 3 at
# 3, 1 at 9), its JSON-lines and metrics output, reproducibility with one seed, the same trials
# split over two MPI ranks (when mpiexec is given), and one clear error for bad search spaces,
# bad splits and a search where every trial diverges.
# Usage: hpo_check.sh path/to/magmadnn [mpiexec]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
bin="$(readlink -f "$1")" mpiexec="${2:-}"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
python3 "$here/make_idx.py" "$tmp/data" 640 100 || { echo "FAIL: cannot generate IDX files"; exit 1; }
hpo=("$bin" hpo --data-dir "$tmp/data" --model mlp --trials 9 --eta 3 --max-batches 4 --seed 3
     --space "lr=log:1e-3:0.3,momentum=0.5:0.95,batch_size=16|32,optimizer=sgd|adam")
strip_seconds() { sed 's/"seconds":[0-9.e+-]*,//' "$1"; }

if "${hpo[@]}" --out "$tmp/a.jsonl" --metrics-out "$tmp/a.json" >"$tmp/a.out" 2>&1; then
  ok "hpo runs"
  python3 - "$tmp/a.jsonl" "$tmp/a.json" <<'PY' && ok "9 trials at 1 epoch, 3 at 3, 1 at 9; the best first and in the metrics" || bad "trials: $(head -3 "$tmp/a.jsonl")"
import json, sys
trials = [json.loads(l) for l in open(sys.argv[1])]
metrics = json.load(open(sys.argv[2]))
rungs = sorted(t["rung"] for t in trials)
assert len(trials) == 9 and rungs == [0] * 6 + [1] * 2 + [2], rungs
assert all(t["epochs"] == 3 ** t["rung"] for t in trials)
best = trials[0]
assert best["rung"] == 2 and metrics["best_trial"] == best["trial"] and metrics["best_val_accuracy"] == best["val_accuracy"]
assert metrics["train_command"].startswith("magmadnn train --model mlp")
# (which trials are promoted is checked against the scores in tests/train/test_hpo.cpp)
PY
  grep -q "^best: trial" "$tmp/a.out" && ok "prints the best trial and its train command" || bad "no best line: $(tail -3 "$tmp/a.out")"
else
  bad "hpo: $(tail -5 "$tmp/a.out")"
fi
"${hpo[@]}" --out "$tmp/b.jsonl" >"$tmp/b.out" 2>&1 && [[ "$(strip_seconds "$tmp/a.jsonl")" == "$(strip_seconds "$tmp/b.jsonl")" ]] &&
  ok "the same seed, the same trials and scores" || bad "a second run differs: $(diff <(strip_seconds "$tmp/a.jsonl") <(strip_seconds "$tmp/b.jsonl") | head -4)"
if [[ -n "$mpiexec" ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  if "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "${hpo[@]}" --out "$tmp/m.jsonl" >"$tmp/m.out" 2>&1; then
    [[ "$(strip_seconds "$tmp/a.jsonl")" == "$(strip_seconds "$tmp/m.jsonl")" ]] && grep -q "over 2 ranks" "$tmp/m.out" &&
      grep -q "(rank 1)" "$tmp/m.out" && ok "2 MPI ranks share the trials and find the same results" ||
      bad "2 ranks: $(diff <(strip_seconds "$tmp/a.jsonl") <(strip_seconds "$tmp/m.jsonl") | head -4)"
  else
    bad "hpo under mpirun: $(tail -3 "$tmp/m.out")"
  fi
fi

base=("$bin" hpo --data-dir "$tmp/data" --model mlp --trials 2 --max-batches 2)
expect_error "unknown hyperparameter" "hpo: cannot search 'dropout'; the names are lr, momentum" "${base[@]}" --space "dropout=0:0.5"
expect_error "unknown optimizer" "hpo: unknown optimizer 'lbfgs'" "${base[@]}" --space "optimizer=sgd|lbfgs"
expect_error "bad range" "hpo: 'lr=log:0:1': a log range needs 0 < LOW < HIGH" "${base[@]}" --space "lr=log:0:1"
expect_error "no validation data" "hpo: --val-fraction 0 of 640 samples leaves no training or no held-out sample" \
  "${base[@]}" --space "lr=0.01:0.1" --val-fraction 0
expect_error "every trial diverges" "hpo: every trial failed" "${base[@]}" --space "lr=1e30:1e31"
finish
