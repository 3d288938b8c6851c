#!/usr/bin/env bash
# Your own table: `--dataset FILE.csv` with --target, --ignore-columns, --task, --test-fraction.
# A classification by text labels (one holding a comma) with an id column ignored; a regression
# of two targets of different scales; eval gives train's figures; predict reads new rows by
# column name (another column order, the target absent) and writes the class names CSV-quoted;
# export records the feature names; summary shows the (F, 1, 1) input; every misuse is one error.
# Usage: csv_check.sh path/to/magmadnn
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
bin="$(readlink -f "$1")"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
py() { python3 "$here/make_csv.py" "$@"; }
py classify "$tmp/c.csv" && py regress "$tmp/r.csv" || { echo "FAIL: cannot write the tables"; exit 1; }
at_least() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
C=(--dataset "$tmp/c.csv" --ignore-columns id)
R=(--dataset "$tmp/r.csv" --target y1,y2)

# --- classification by text labels
expect_run "train classify" "$bin" train "${C[@]}" --model mlp:32 --epochs 10 --batch-size 32 --optimizer adam \
  --lr 0.01 --progress none --save "$tmp/c.st" --metrics-out "$tmp/c.json"
grep -qF 'task: classification into 3 classes (Iris setosa, Iris versicolor, var. A, Iris virginica) from 4 features (sepal length, sepal width, petal length, petal width)' "$tmp/out" &&
  ok "train names the task, classes and features" || bad "task line: $(grep task "$tmp/out")"
grep -q "480 train / 120 test samples" "$tmp/out" && ok "20% of 600 rows are the test split" || bad "split: $(head -1 "$tmp/out")"
acc=$(json_number "$tmp/c.json" test_accuracy)
at_least "$acc" 0.9 && ok "classify accuracy $acc >= 0.9 (3 classes)" || bad "classify accuracy $acc < 0.9"
expect_run "eval classify" "$bin" eval "${C[@]}" --model mlp:32 --weights "$tmp/c.st" --report --metrics-out "$tmp/ce.json"
[[ "$(json_number "$tmp/ce.json" test_accuracy)" == "$acc" ]] && ok "eval accuracy = train's" ||
  bad "eval accuracy $(json_number "$tmp/ce.json" test_accuracy) != $acc"
grep -qF '"name": "Iris versicolor, var. A"' "$tmp/ce.json" && ok "report names the classes" || bad "report class names"
# New rows: columns in another order, no species column, the id left in.
python3 -c "
import csv
rows = list(csv.DictReader(open('$tmp/c.csv')))
w = csv.writer(open('$tmp/new.csv', 'w', newline=''))
cols = ['petal width', 'id', 'sepal width', 'petal length', 'sepal length']
w.writerow(cols)
for r in rows: w.writerow([r[c] for c in cols])"
expect_run "predict classify" "$bin" predict "${C[@]}" --model mlp:32 --weights "$tmp/c.st" --input "$tmp/new.csv" \
  --output "$tmp/cp.csv"
pacc=$(py accuracy "$tmp/cp.csv" "$tmp/c.csv" species)
at_least "$pacc" 0.9 && ok "predict's class names match the table's labels ($pacc of 600 rows)" || bad "predict accuracy $pacc"
grep -qF ',"Iris versicolor, var. A",' "$tmp/cp.csv" && ok "a class name with a comma is quoted" || bad "unquoted name"
expect_run "export classify" "$bin" export "${C[@]}" --model mlp:32 --weights "$tmp/c.st" --output "$tmp/c.onnx"
grep -qF 'magmadnn.feature_names' "$tmp/c.onnx" && grep -qF 'petal width' "$tmp/c.onnx" &&
  ok "the ONNX file records the feature columns" || bad "no feature names in the ONNX file"
expect_run "summary" "$bin" summary "${C[@]}" --model mlp:32
grep -q "(1, 4, 1, 1)" "$tmp/out" && ok "summary: input (1, 4, 1, 1)" || bad "summary input: $(head -3 "$tmp/out")"

expect_run "hpo classify" "$bin" hpo "${C[@]}" --target species --model mlp:16 --trials 2 --max-epochs 1 \
  --space "lr=log:1e-3:1e-1"
grep -qF -- "--target species --ignore-columns id --optimizer" "$tmp/out" &&
  ok "hpo's train command repeats the table flags" || bad "hpo command: $(tail -1 "$tmp/out")"

# --- regression of two targets (scales 1 and 50)
expect_run "train regress" "$bin" train "${R[@]}" --model mlp:64,64 --epochs 30 --batch-size 64 --optimizer adam \
  --lr 0.003 --progress none --save "$tmp/r.st" --metrics-out "$tmp/r.json"
grep -qF 'task: regression of 2 targets (y1, y2) from 3 features (a, b, c)' "$tmp/out" && ok "regression task line" ||
  bad "task line: $(grep task "$tmp/out")"
rmse=$(json_number "$tmp/r.json" test_rmse)
# The targets' standard deviations are ~0.8 and ~29: a constant predictor's RMSE is ~20.
at_least 1.0 "$rmse" && ok "regression test RMSE $rmse <= 1.0" || bad "regression test RMSE $rmse > 1.0"
expect_run "eval regress" "$bin" eval "${R[@]}" --model mlp:64,64 --weights "$tmp/r.st" --metrics-out "$tmp/re.json"
grep -qE "^y2 +[0-9.]+ +[0-9.]+ +[0-9.]+" "$tmp/out" && grep -qF '"name": "y1"' "$tmp/re.json" &&
  ok "eval reports each target by its column name" || bad "eval per-target names: $(tail -4 "$tmp/out")"
expect_run "predict regress" "$bin" predict "${R[@]}" --model mlp:64,64 --weights "$tmp/r.st" --input "$tmp/r.csv" \
  --output "$tmp/rp.csv"
[[ "$(head -1 "$tmp/rp.csv")" == "index,y1,y2" ]] && ok "predict's header names the targets" ||
  bad "predict header: $(head -1 "$tmp/rp.csv")"
prmse=$(py rmse "$tmp/rp.csv" "$tmp/r.csv" y1,y2)
at_least 1.0 "$prmse" && ok "predicted values fit the table (RMSE $prmse over all rows)" || bad "predict RMSE $prmse"
# Targets far from 0 (prices around 300,000, spread ~60,000): the model ends with nn::Rescaling by the
# training targets' mean and std, so the network learns standardised values (without it Adam at
# lr 3e-3 leaves the test RMSE near 42,000 after 30 epochs).
py prices "$tmp/p.csv"
expect_run "train prices" "$bin" train --dataset "$tmp/p.csv" --model mlp:32,32 --epochs 30 --batch-size 32 \
  --optimizer adam --lr 0.003 --progress none --save "$tmp/p.st" --metrics-out "$tmp/p.json"
prmse=$(json_number "$tmp/p.json" test_rmse)
at_least 6000 "$prmse" && ok "prices: test RMSE $prmse <= 6000 (noise 5000)" || bad "prices: test RMSE $prmse > 6000"
expect_run "export prices" "$bin" export --dataset "$tmp/p.csv" --model mlp:32,32 --weights "$tmp/p.st" --output "$tmp/p.onnx"
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  /usr/bin/python3 -c "
import csv, numpy as np
rows = list(csv.DictReader(open('$tmp/p.csv')))[:50]
np.save('$tmp/p50.npy', np.array([[float(r[c]) for c in ('rooms', 'area', 'age')] for r in rows], np.float32).reshape(50, 3, 1, 1))
w = csv.writer(open('$tmp/p50.csv', 'w', newline='')); w.writerow(['rooms', 'area', 'age'])
for r in rows: w.writerow([r['rooms'], r['area'], r['age']])"
  "$bin" predict --dataset "$tmp/p.csv" --model mlp:32,32 --weights "$tmp/p.st" --input "$tmp/p50.csv" --output "$tmp/pp.csv" >/dev/null 2>&1
  /usr/bin/python3 -c "
import csv, subprocess, sys, numpy as np
subprocess.run([sys.executable, '$here/onnx_eval.py', 'run', '$tmp/p.onnx', '$tmp/p50.npy', '$tmp/po.npy'], check=True)
onnx_out = np.load('$tmp/po.npy').reshape(-1)
pred = np.array([float(r['price']) for r in csv.DictReader(open('$tmp/pp.csv'))])
sys.exit(0 if np.max(np.abs(onnx_out - pred)) <= 1e-4 * np.max(np.abs(pred)) else 1)" &&
    ok "the ONNX file gives predict's prices (its Rescaling included)" || bad "ONNX prices differ from predict's"
fi
expect_run "regression as asked" "$bin" train --dataset "$tmp/c.csv" --ignore-columns id,species --target "petal width" \
  --task regression --model mlp:8 --epochs 1 --progress none
grep -q "regression of 1 target (petal width) from 3 features" "$tmp/out" && ok "--task regression, --target with a space" ||
  bad "task line: $(grep task "$tmp/out")"

# --- errors
expect_error "target with a built-in set" "--target, --ignore-columns, --task and --test-fraction are for CSV tables" \
  "$bin" train --dataset fashion-mnist --target y --epochs 1
expect_error "unknown target" "no column 'kind' for the target" "$bin" train --dataset "$tmp/c.csv" --target kind
expect_error "text feature" "column 'species': 'Iris setosa' is not a finite number (a feature)" \
  "$bin" train --dataset "$tmp/c.csv" --target id --epochs 1
expect_error "bad task" "--task" "$bin" train "${C[@]}" --task clustering
expect_error "bad fraction" "must be a number between 0 and 1" "$bin" train "${C[@]}" --test-fraction 1
expect_error "predict from .npy" "takes its samples from a .csv table" \
  "$bin" predict "${C[@]}" --model mlp:32 --weights "$tmp/c.st" --input "$tmp/x.npy"
head -c 270 "$tmp/c.csv" > "$tmp/cut.csv"  # the last line cut inside its second field
expect_error "truncated table" "line 6: 2 fields, but the header names 6 columns" "$bin" train --dataset "$tmp/cut.csv" --epochs 1
head -c 290 "$tmp/c.csv" > "$tmp/cut.csv"  # cut after the last comma: no label
expect_error "missing label" "line 6, column 'species': empty (missing values are not filled in) (the target)" \
  "$bin" train --dataset "$tmp/cut.csv" --epochs 1
python3 -c "
import csv
rows = list(csv.DictReader(open('$tmp/c.csv')))
w = csv.writer(open('$tmp/gap.csv', 'w', newline=''))
w.writerow(['sepal length', 'sepal width', 'petal length'])
for r in rows[:3]: w.writerow([r['sepal length'], r['sepal width'], r['petal length']])"
expect_error "predict without a feature column" "no column 'petal width'" \
  "$bin" predict "${C[@]}" --model mlp:32 --weights "$tmp/c.st" --input "$tmp/gap.csv"
finish
