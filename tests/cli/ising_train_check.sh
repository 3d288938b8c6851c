#!/usr/bin/env bash
# End-to-end checks of `magmadnn ising train` and `ising eval`: a short CNN + GraphConv run on a
# generated 8x8 set prints the MAE/RMSE table and writes weights, parity.svg and metrics.json;
# `ising eval` on the same test set reproduces the recorded test MAE; the CNN evaluates zero-shot
# on a 16x16 lattice; bad data, models and flags are one clear error with a non-zero exit.
# Usage: ising_train_check.sh path/to/magmadnn
set -uo pipefail
bin="$1"
source "$(dirname "$0")/check_lib.sh"
export OMP_WAIT_POLICY=PASSIVE
json_get() { /usr/bin/env python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }

"$bin" ising generate --samples 3000 --seed 1 --out "$tmp/train.npz" >/dev/null
"$bin" ising generate --samples 500 --seed 2 --out "$tmp/test" >/dev/null
"$bin" ising generate --size 16 --samples 100 --seed 3 --out "$tmp/big.npz" >/dev/null
"$bin" ising generate --coupling random --samples 300 --seed 4 --out "$tmp/randj.npz" >/dev/null

if "$bin" ising train --data "$tmp/train.npz" --test-data "$tmp/test" --model cnn,graphconv --epochs 10 \
     --batch-size 32 --hidden 8 --threads 2 --out "$tmp/run" >"$tmp/train.log" 2>&1; then ok "train runs"
else bad "train: $(tail -5 "$tmp/train.log")"; fi
grep -qE "^model +train MAE +train RMSE +test MAE +test RMSE +exact" "$tmp/train.log" && ok "table header" \
  || bad "table header: $(tail -5 "$tmp/train.log")"
grep -qE "^cnn +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+%" "$tmp/train.log" && ok "cnn row" || bad "cnn row"
grep -qE "^graphconv +[0-9.]+" "$tmp/train.log" && ok "graphconv row" || bad "graphconv row"
for f in cnn.safetensors graphconv.safetensors parity.svg metrics.json; do
  [[ -s "$tmp/run/$f" ]] && ok "wrote $f" || bad "missing $f"
done
grep -q "<svg" "$tmp/run/parity.svg" && [[ $(grep -c "<circle" "$tmp/run/parity.svg") -eq 1000 ]] \
  && ok "parity plot has 500 points per model" || bad "parity plot: $(grep -c "<circle" "$tmp/run/parity.svg") points"

# eval reproduces the test MAE recorded by train (same weights, same data, same batching).
for m in cnn graphconv; do
  "$bin" ising eval --model $m --weights "$tmp/run/$m.safetensors" --data "$tmp/test" --threads 2 \
    --metrics-out "$tmp/eval_$m.json" >/dev/null 2>"$tmp/err" || bad "eval $m: $(cat "$tmp/err")"
  want=$(json_get "$tmp/run/metrics.json" "['models']['$m']['test']['mae']")
  got=$(json_get "$tmp/eval_$m.json" "['mae']")
  /usr/bin/env python3 -c "import sys; sys.exit(abs($want - $got) > 1e-9 * (1 + abs($want)))" \
    && ok "eval $m reproduces test MAE $want" || bad "eval $m MAE $got, train recorded $want"
done
# The CNN's test MAE after this short run is a real fit (energies spread ~16 around 0).
cnn_mae=$(json_get "$tmp/run/metrics.json" "['models']['cnn']['test']['mae']")
/usr/bin/env python3 -c "import sys; sys.exit(not $cnn_mae < 3.0)" && ok "cnn test MAE $cnn_mae < 3" \
  || bad "cnn test MAE $cnn_mae"
"$bin" ising eval --model cnn --weights "$tmp/run/cnn.safetensors" --data "$tmp/big.npz" >"$tmp/out" 2>&1 \
  && grep -q "256 sites" "$tmp/out" && ok "cnn evaluates zero-shot on 16x16" || bad "zero-shot: $(cat "$tmp/out")"

# --augment symmetries: the CNN gets the spin flip and the square's symmetries, graphconv the spin
# flip; the fit stays real. On random couplings only the spin flip is allowed.
if "$bin" ising train --data "$tmp/train.npz" --test-data "$tmp/test" --model cnn,graphconv --epochs 10 \
     --batch-size 32 --hidden 8 --threads 2 --augment symmetries --out "$tmp/aug" >"$tmp/aug.log" 2>&1; then
  grep -q "augmenting: Compose(RandomSignFlip(p=0.5), RandomHorizontalFlip(p=0.5), RandomVerticalFlip(p=0.5), RandomTranspose(p=0.5))" "$tmp/aug.log" &&
    grep -q "augmenting: Compose(RandomSignFlip(p=0.5))" "$tmp/aug.log" && ok "augment symmetries: cnn D4 + spin flip, graphconv spin flip" ||
    bad "augment symmetries: $(grep augmenting "$tmp/aug.log")"
  aug_mae=$(json_get "$tmp/aug/metrics.json" "['models']['cnn']['test']['mae']")
  /usr/bin/env python3 -c "import sys; sys.exit(not $aug_mae < 3.0)" && ok "augmented cnn test MAE $aug_mae < 3" \
    || bad "augmented cnn test MAE $aug_mae"
else
  bad "train --augment symmetries: $(tail -5 "$tmp/aug.log")"
fi
expect_error "symmetries on random couplings" "the lattice symmetries hold for a square lattice with one coupling J" \
  "$bin" ising train --data "$tmp/randj.npz" --model gcn --augment symmetries --epochs 1 --batch-size 32 --out "$tmp/x"
expect_run "spin flip on random couplings" "$bin" ising train --data "$tmp/randj.npz" --model gcn --augment spin-flip \
  --epochs 1 --batch-size 32 --hidden 4 --out "$tmp/x"

# Errors.
expect_error "missing data" "nope.npz: cannot open" "$bin" ising train --data "$tmp/nope.npz" --out "$tmp/x"
head -c 700 "$tmp/train.npz" >"$tmp/trunc.npz"
expect_error "truncated npz" "trunc.npz" "$bin" ising train --data "$tmp/trunc.npz" --out "$tmp/x"
expect_error "cnn on random couplings" "EnergyCNN: the CNN needs a square lattice with one coupling J" \
  "$bin" ising train --data "$tmp/randj.npz" --model cnn --epochs 1 --out "$tmp/x"
expect_error "unknown model" "unknown model 'mlp'" "$bin" ising train --data "$tmp/train.npz" --model cnn,mlp --out "$tmp/x"
expect_error "wrong model for weights" "holds a 'cnn' model, not 'gcn'" \
  "$bin" ising eval --model gcn --weights "$tmp/run/cnn.safetensors" --data "$tmp/test"
expect_error "bad test fraction" "test-fraction" "$bin" ising train --data "$tmp/train.npz" --test-fraction 2 --out "$tmp/x"
expect_error "batch larger than the set" "fewer than one batch" \
  "$bin" ising train --data "$tmp/randj.npz" --model graphconv --batch-size 1000 --out "$tmp/x"
# --device: the same checks as the main CLI (here without a GPU: one clear error before any work).
if ! "$bin" info | grep -q "^  cuda:[0-9]"; then
  expect_error "ising train --device cuda without a GPU" "--device cuda: " \
    "$bin" ising train --data "$tmp/train.npz" --device cuda --out "$tmp/x"
  expect_error "ising eval --device cuda without a GPU" "--device cuda: " \
    "$bin" ising eval --model cnn --weights "$tmp/run/cnn.safetensors" --data "$tmp/test" --device cuda
fi
expect_error "ising unknown device" "unknown device 'gpu'" \
  "$bin" ising eval --model cnn --weights "$tmp/run/cnn.safetensors" --data "$tmp/test" --device gpu

finish
