#!/usr/bin/env bash
# `magmadnn train --distributed pipeline` under mpirun: lenet on 2 stages, mlp on 3 (one stage
# holding only a Flatten) and resnet18 on 2 (stem and residual blocks as stages) train, stop after
# 7 steps with a checkpoint (every stage's weights, optimizer and generator state gathered on rank
# 0), and --resume ends with the weights of an uninterrupted run, byte for byte; the weights saved
# by a pipeline run load into the model with `magmadnn eval` and reproduce its test accuracy.
# Usage: pipeline_resume_check.sh path/to/magmadnn path/to/mpiexec
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-mpirun}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
fails=0
ok() { echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }
python3 "$here/../cli/make_idx.py" "$tmp/data" 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }
for cfg in "2 lenet" "3 mlp" "2 resnet18"; do
  set -- $cfg
  np=$1 model=$2
  launch=("$mpiexec" --allow-run-as-root --oversubscribe -np "$np" "$bin")
  args=(train --data-dir "$tmp/data" --model "$model" --epochs 2 --batch-size 32 --max-batches 5 --optimizer adam
        --lr 0.003 --scheduler onecycle --seed 1 --progress none --distributed pipeline --micro-batches 4 --dist-timeout 60)
  rm -f "$tmp"/*.st "$tmp/ckpt"
  "${launch[@]}" "${args[@]}" --save "$tmp/ref.st" >"$tmp/out" 2>&1 || { bad "$cfg: run: $(grep error "$tmp/out")"; continue; }
  "${launch[@]}" "${args[@]}" --checkpoint "$tmp/ckpt" --checkpoint-every 2 --stop-after-steps 7 >"$tmp/out" 2>&1 ||
    { bad "$cfg: stopped run: $(grep error "$tmp/out")"; continue; }
  "${launch[@]}" "${args[@]}" --resume "$tmp/ckpt" --save "$tmp/resumed.st" >"$tmp/out" 2>&1 ||
    { bad "$cfg: resumed run: $(grep error "$tmp/out")"; continue; }
  cmp -s "$tmp/ref.st" "$tmp/resumed.st" && ok "$model on $np stages: stop + resume equals the uninterrupted run" ||
    bad "$model on $np stages: resumed weights differ"
done
# The last run above is resnet18's: its saved weights carry the ResNet's own names.
want=$(grep -o "test accuracy [0-9.]* test loss [0-9.]*" "$tmp/out")
"$bin" eval --data-dir "$tmp/data" --model resnet18 --weights "$tmp/resumed.st" >"$tmp/eval" 2>&1
grep -qF "$want" "$tmp/eval" && ok "resnet18 pipeline weights load into the model ($want)" ||
  bad "resnet18 eval: $(tail -2 "$tmp/eval") (training printed: $want)"
exit $fails
