#!/usr/bin/env bash
# Training checkpoints through the CLI: a run stopped after 13 steps (mid-epoch) and resumed with
# --resume ends with byte-identical weights and the same per-epoch metrics as an uninterrupted
# run (MLP with dropout, Adam, per-step OneCycleLR; SGD with ReduceLROnPlateau; Adam, cosine and
# random crops and flips; gradients accumulated over 2 batches; a validation split); early stopping
# and --save-best; bad, corrupt
# and mismatched checkpoints give one clear error, a non-zero exit, and overwrite nothing.
# Runs on small generated IDX files. Usage: checkpoint_check.sh path/to/magmadnn
set -uo pipefail
bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=PASSIVE
# The metrics log without its timing fields.
strip_times() { sed -E 's/"(samples_per_second|train_seconds)":[^,}]*,?//g' "$1"; }

python3 "$here/make_idx.py" "$tmp/data" 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }

# Variants: optimizer, scheduler, augmentation, batches per optimizer step, the step to stop at
# (with 2 batches per step an epoch of 6 batches has 3 steps: stop at 4 is one step into epoch 2).
# The last field is --val-fraction (with it, plateau and the best-epoch state follow the validation loss).
for variant in "adam onecycle none 1 9 0" "adam cosine crop:3,flip 1 9 0" "adam onecycle none 2 4 0" \
               "sgd plateau none 1 9 0.2" "sgd plateau none 1 9 0"; do
  set -- $variant
  opt=$1 sched=$2 aug=$3 acc=$4 stop=$5 val=$6
  common=(train --data-dir "$tmp/data" --model mlp --epochs 3 --batch-size 32 --max-batches 6 --optimizer "$opt"
          --lr 0.01 --scheduler "$sched" --seed 5 --progress none --augment "$aug" --accumulate-grad-batches "$acc"
          --val-fraction "$val")
  variant="$opt $sched, augment $aug, $acc batch(es) per step, validation $val"
  rm -f "$tmp/full.log"
  if ! "$bin" "${common[@]}" --save "$tmp/full.st" --log "$tmp/full.log" >"$tmp/out" 2>&1; then
    bad "$variant: uninterrupted run: $(tail -5 "$tmp/out")"; continue
  fi
  rm -f "$tmp/ckpt" "$tmp/part.log"
  if ! "$bin" "${common[@]}" --checkpoint "$tmp/ckpt" --checkpoint-every 4 --stop-after-steps "$stop" --log "$tmp/part.log" \
       >"$tmp/out" 2>&1 || ! grep -q "stopped after $stop steps" "$tmp/out"; then
    bad "$variant: stopped run: $(tail -5 "$tmp/out")"; continue
  fi
  if ! "$bin" "${common[@]}" --resume "$tmp/ckpt" --checkpoint "$tmp/ckpt" --save "$tmp/resumed.st" \
       --log "$tmp/part.log" >"$tmp/out" 2>&1; then
    bad "$variant: resumed run: $(tail -5 "$tmp/out")"; continue
  fi
  grep -q "resumed from .* after 1 epochs and $stop steps" "$tmp/out" && ok "$variant: resume message" ||
    bad "$variant: resume message: $(head -3 "$tmp/out")"
  cmp -s "$tmp/full.st" "$tmp/resumed.st" && ok "$variant: resumed weights equal the uninterrupted run's" ||
    bad "$variant: resumed weights differ"
  if [[ "$(strip_times "$tmp/full.log")" == "$(strip_times "$tmp/part.log")" ]]; then
    ok "$variant: metrics log of stop + resume equals the uninterrupted one"
  else
    bad "$variant: metrics logs differ: $(diff <(strip_times "$tmp/full.log") <(strip_times "$tmp/part.log") | head -6)"
  fi
done

# --val-fraction with --early-stopping and --save-best: training stops `patience` epochs after the
# lowest validation loss, and the saved best weights are byte for byte those of a run that stops
# at that epoch.
val=(train --data-dir "$tmp/data" --model mlp --batch-size 32 --optimizer sgd --lr 0.1 --seed 5 --progress none
     --val-fraction 0.25)
if "$bin" "${val[@]}" --epochs 10 --early-stopping 2 --save-best "$tmp/best.st" --metrics-out "$tmp/es.json" \
     >"$tmp/out" 2>&1; then
  best=$(json_number "$tmp/es.json" best_epoch) ran=$(json_number "$tmp/es.json" epochs_run)
  if [[ -n "$best" && "$ran" -eq $((best + 2)) ]] && grep -q "early stopping: no lower validation loss for 2 epochs" "$tmp/out"; then
    ok "early stopping after epoch $ran, 2 epochs after the best ($best)"
  else
    bad "early stopping: best epoch $best, ran $ran: $(cat "$tmp/out")"
  fi
  "$bin" "${val[@]}" --epochs "$best" --save "$tmp/at_best.st" >"$tmp/out" 2>&1 &&
    cmp -s "$tmp/best.st" "$tmp/at_best.st" && ok "--save-best holds the weights of epoch $best" ||
    bad "--save-best differs from the weights after epoch $best"
else
  bad "early stopping run: $(tail -5 "$tmp/out")"
fi
expect_error "--save-best without validation" "they need --val-fraction" "$bin" "${val[@]:0:${#val[@]}-2}" --save-best "$tmp/b.st"

# Bad checkpoints: one clear error, non-zero exit, and the --checkpoint file left as it was.
run_args() {  # BATCH MODEL SCHEDULER: the arguments of the plateau run above, some changed
  args=(train --data-dir "$tmp/data" --model "$2" --epochs 3 --batch-size "$1" --max-batches 6 --optimizer sgd
        --lr 0.01 --scheduler "$3" --seed 5 --progress none --checkpoint "$tmp/ckpt")
}
run_args 32 mlp plateau
cp "$tmp/ckpt" "$tmp/ckpt.orig"
expect_error "missing checkpoint" "$tmp/none" "$bin" "${args[@]}" --resume "$tmp/none"
head -c 300 "$tmp/ckpt" >"$tmp/trunc"
expect_error "truncated checkpoint" "$tmp/trunc" "$bin" "${args[@]}" --resume "$tmp/trunc"
head -c 100 /dev/urandom >"$tmp/corrupt"
expect_error "corrupt checkpoint" "$tmp/corrupt" "$bin" "${args[@]}" --resume "$tmp/corrupt"
expect_error "weights are not a checkpoint" "not a MagmaDNN training checkpoint" "$bin" "${args[@]}" --resume "$tmp/full.st"
expect_error "augmentation added" "augment is not recorded (this run: Compose(RandomCrop(size=28x28, padding=1), RandomHorizontalFlip(p=0.5)))" \
  "$bin" "${args[@]}" --resume "$tmp/ckpt" --augment crop:1,flip
run_args 64 mlp plateau
expect_error "other batch size" "batch_size 32 (this run: 64)" "$bin" "${args[@]}" --resume "$tmp/ckpt"
run_args 32 lenet plateau
expect_error "other model" "model mlp (this run: lenet)" "$bin" "${args[@]}" --resume "$tmp/ckpt"
run_args 32 mlp none
expect_error "other scheduler" "scheduler plateau (this run: none)" "$bin" "${args[@]}" --resume "$tmp/ckpt"
run_args 32 mlp plateau
expect_error "already finished" "all 3 epochs are already done" "$bin" "${args[@]}" --resume "$tmp/ckpt"
expect_error "checkpoint into a missing folder" "$tmp/missing" "$bin" "${args[@]:0:${#args[@]}-2}" --checkpoint "$tmp/missing/c"
cmp -s "$tmp/ckpt" "$tmp/ckpt.orig" && ok "failed resumes left the checkpoint untouched" ||
  bad "a failed resume changed the checkpoint"

finish
