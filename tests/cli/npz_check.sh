#!/usr/bin/env bash
# Your own data: `--dataset FILE.npz` (x_train, y_train, x_test, y_test) with `--model mlp:W1,...`.
# Classification of tabular data with features of very different scales (standardised by x_train's
# statistics) and of uint8 images with lenet; a two-target regression (MSE, RMSE reported, no
# accuracy anywhere); eval and predict give the figures train reported (predict's CSV scored here
# against y_test); hpo ranks a regression by RMSE; stop + resume equals one run; broken archives
# and flags that do not fit the task are one clear error. With mpiexec: the regression under
# --distributed ddp and pipeline on two ranks ends at one process's test RMSE.
# Usage: npz_check.sh path/to/magmadnn [mpiexec]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
bin="$(readlink -f "$1")" mpiexec="${2:-}"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
make_npz() { python3 "$here/make_npz.py" "$@"; }
make_npz classify "$tmp/c.npz" && make_npz regress "$tmp/r.npz" && make_npz images "$tmp/i.npz" ||
  { echo "FAIL: cannot generate archives"; exit 1; }
# a >= b (decimals)
at_least() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
close() { python3 -c "import sys; sys.exit(0 if abs(float('$1') - float('$2')) <= $3 else 1)"; }

# --- classification, tabular
expect_run "train classify" "$bin" train --dataset "$tmp/c.npz" --model mlp:32 --epochs 5 --batch-size 32 --lr 0.05 \
  --progress none --save "$tmp/c.st" --metrics-out "$tmp/c.json"
acc=$(json_number "$tmp/c.json" test_accuracy)
# Three classes (chance 0.33); the features span scales 0.01 to 1000 with offsets up to 1e4.
if at_least "$acc" 0.9; then ok "classify accuracy $acc >= 0.9"; else bad "classify accuracy $acc < 0.9"; fi
grep -q '"task": "classification"' "$tmp/c.json" && ok "task classification" || bad "task not classification"
expect_run "eval classify" "$bin" eval --dataset "$tmp/c.npz" --model mlp:32 --weights "$tmp/c.st" \
  --metrics-out "$tmp/ce.json" --report
[[ "$(json_number "$tmp/ce.json" test_accuracy)" == "$acc" ]] && ok "eval accuracy = train's" ||
  bad "eval accuracy $(json_number "$tmp/ce.json" test_accuracy) != train's $acc"
grep -q '"name": "2"' "$tmp/ce.json" && ok "report names classes 0..2" || bad "report class names"
make_npz npy "$tmp/c.npz" x_test "$tmp/cx.npy"
expect_run "predict classify" "$bin" predict --dataset "$tmp/c.npz" --model mlp:32 --weights "$tmp/c.st" \
  --input "$tmp/cx.npy" --output "$tmp/c.csv"
pacc=$(make_npz accuracy "$tmp/c.csv" "$tmp/c.npz")
close "$pacc" "$acc" 1e-9 && ok "predict's classes score eval's accuracy ($pacc)" || bad "predict accuracy $pacc != $acc"

# --- classification, uint8 images (N, 12, 12) with lenet
expect_run "train images" "$bin" train --dataset "$tmp/i.npz" --model lenet --epochs 3 --batch-size 32 --lr 0.05 \
  --progress none --metrics-out "$tmp/i.json"
iacc=$(json_number "$tmp/i.json" test_accuracy)
at_least "$iacc" 0.9 && ok "images accuracy $iacc >= 0.9 (4 classes)" || bad "images accuracy $iacc < 0.9"

# --- regression, two targets
expect_run "train regress" "$bin" train --dataset "$tmp/r.npz" --model mlp:32 --epochs 20 --batch-size 32 \
  --optimizer adam --lr 0.01 --progress lines --log "$tmp/r.log" --save "$tmp/r.st" --metrics-out "$tmp/r.json"
grep -q "test rmse" "$tmp/out" && ! grep -q "acc" "$tmp/out" && ok "regression prints RMSE and no accuracy" ||
  bad "regression output: $(tail -3 "$tmp/out")"
rmse=$(json_number "$tmp/r.json" test_rmse)
# The targets' standard deviations are ~2.5 and ~1.7 (a constant predictor's RMSE); the noise is 0.05.
if at_least 0.25 "$rmse"; then ok "regression test RMSE $rmse <= 0.25"; else bad "regression test RMSE $rmse > 0.25"; fi
grep -q accuracy "$tmp/r.log" "$tmp/r.json" && bad "accuracy keys in a regression's log or metrics" ||
  ok "no accuracy keys in the regression's log and metrics"
expect_run "eval regress" "$bin" eval --dataset "$tmp/r.npz" --model mlp:32 --weights "$tmp/r.st" --metrics-out "$tmp/re.json"
[[ "$(json_number "$tmp/re.json" test_rmse)" == "$rmse" ]] && ok "eval RMSE = train's" ||
  bad "eval RMSE $(json_number "$tmp/re.json" test_rmse) != train's $rmse"
make_npz npy "$tmp/r.npz" x_test "$tmp/rx.npy"
expect_run "predict regress" "$bin" predict --dataset "$tmp/r.npz" --model mlp:32 --weights "$tmp/r.st" \
  --input "$tmp/rx.npy" --output "$tmp/r.csv"
[[ "$(head -1 "$tmp/r.csv")" == "index,y0,y1" ]] && ok "regression CSV header" || bad "CSV header $(head -1 "$tmp/r.csv")"
prmse=$(make_npz rmse "$tmp/r.csv" "$tmp/r.npz")
close "$prmse" "$rmse" 2e-4 && ok "predict's values score eval's RMSE ($prmse)" || bad "predict RMSE $prmse != $rmse"
read -r pmae pr2 <<<"$(make_npz mae_r2 "$tmp/r.csv" "$tmp/r.npz")"
emae=$(json_number "$tmp/re.json" test_mae) er2=$(json_number "$tmp/re.json" test_r2)
close "$pmae" "$emae" 2e-5 && close "$pr2" "$er2" 2e-5 && at_least "$er2" 0.99 &&
  ok "eval's MAE $emae and R^2 $er2 = those of predict's values" || bad "eval MAE $emae R^2 $er2, predict's $pmae $pr2"

# --- the same regression over two MPI ranks (ddp: the batch split; pipeline: the layers split)
if [[ -n "$mpiexec" ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  for mode in ddp pipeline; do
    if "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$bin" train --dataset "$tmp/r.npz" --model mlp:32 --epochs 20 \
      --batch-size 32 --optimizer adam --lr 0.01 --progress none --distributed $mode --metrics-out "$tmp/$mode.json" \
      >"$tmp/$mode.out" 2>&1; then
      d=$(json_number "$tmp/$mode.json" test_rmse)
      close "$d" "$rmse" 1e-4 && ok "$mode on 2 ranks: test RMSE $d = one process's" || bad "$mode: RMSE $d, one process $rmse"
    else
      bad "$mode under mpirun: $(tail -3 "$tmp/$mode.out")"
    fi
  done
fi

# --- stop + resume equals one run
common=("$bin" train --dataset "$tmp/r.npz" --model mlp:16 --epochs 2 --batch-size 64 --optimizer adam --lr 0.01 --progress none)
"${common[@]}" --save "$tmp/full.st" >/dev/null 2>&1
"${common[@]}" --checkpoint "$tmp/ck" --stop-after-steps 5 >/dev/null 2>&1
expect_run "resume" "${common[@]}" --resume "$tmp/ck" --save "$tmp/resumed.st"
diff=$(python3 "$here/safetensors_diff.py" "$tmp/full.st" "$tmp/resumed.st" | awk '{print $3}')
[[ "$diff" == "0" || "$diff" == "0.0" ]] && ok "resumed run equals one run" || bad "resume differs: $diff"

# --- hpo ranks a regression by validation RMSE
expect_run "hpo regress" "$bin" hpo --dataset "$tmp/r.npz" --model mlp:16 --space "lr=log:1e-3:3e-2" --optimizer adam \
  --trials 3 --eta 3 --min-epochs 1 --metrics-out "$tmp/h.json"
grep -q "val_rmse" "$tmp/out" && json_number "$tmp/h.json" best_val_rmse | grep -q . && ok "hpo reports val_rmse" ||
  bad "hpo output: $(tail -3 "$tmp/out")"

# --- summary of an archive's model
expect_run "summary" "$bin" summary --dataset "$tmp/c.npz" --model mlp:16,8 --metrics-out "$tmp/s.json"
[[ "$(json_number "$tmp/s.json" parameters)" == "275" ]] && ok "summary: 6-16-8-3 has 275 parameters" ||
  bad "summary parameters $(json_number "$tmp/s.json" parameters)"

# --- errors
for kind in missing nan negative count shape mixed; do make_npz bad $kind "$tmp/bad_$kind.npz"; done
expect_error "missing array" "no array 'y_test'" "$bin" train --dataset "$tmp/bad_missing.npz"
expect_error "NaN input" "x_train[3] has a NaN or infinite value" "$bin" train --dataset "$tmp/bad_nan.npz"
expect_error "negative label" "y_train[5] = -1: class labels must be 0, 1, 2" "$bin" train --dataset "$tmp/bad_negative.npz"
expect_error "sample counts" "y_train has shape (9,) but x_train has 10 samples" "$bin" train --dataset "$tmp/bad_count.npz"
expect_error "split shapes" "x_train has samples of shape (10, 4) but x_test (8, 5)" "$bin" train --dataset "$tmp/bad_shape.npz"
expect_error "mixed targets" "y_train holds integer labels but y_test floating targets" "$bin" train --dataset "$tmp/bad_mixed.npz"
head -c 300 "$tmp/c.npz" >"$tmp/trunc.npz"
expect_error "truncated archive" "load_npz: $tmp/trunc.npz" "$bin" train --dataset "$tmp/trunc.npz"
expect_error "absent archive" "cannot open" "$bin" eval --dataset "$tmp/absent.npz" --weights "$tmp/c.st"
expect_error "unknown dataset" "--dataset foo: expected fashion-mnist, mnist, cifar10, a NumPy archive FILE.npz or a CSV table FILE.csv" \
  "$bin" train --dataset foo
expect_error "--data-dir with an archive" "--data-dir is for the built-in data sets" \
  "$bin" train --dataset "$tmp/c.npz" --data-dir "$tmp"
expect_error "label smoothing on a regression" "--label-smoothing is for classes" \
  "$bin" train --dataset "$tmp/r.npz" --label-smoothing 0.1
expect_error "report on a regression" "eval --report counts classes" \
  "$bin" eval --dataset "$tmp/r.npz" --model mlp:32 --weights "$tmp/r.st" --report
expect_error "top on a regression" "--top ranks classes" \
  "$bin" predict --dataset "$tmp/r.npz" --model mlp:32 --weights "$tmp/r.st" --input "$tmp/rx.npy" --top 2
expect_error "predict sample shape" "holds samples of shape (200, 5); $tmp/c.npz's samples are (6, 1, 1)" \
  "$bin" predict --dataset "$tmp/c.npz" --model mlp:32 --weights "$tmp/c.st" --input "$tmp/rx.npy"
expect_error "weights of another data set" "mismatches with the model" \
  "$bin" eval --dataset "$tmp/c.npz" --model mlp:32 --weights "$tmp/r.st"
expect_error "bad widths" "hidden widths must be positive integers" "$bin" train --dataset "$tmp/c.npz" --model mlp:8,,4
finish
