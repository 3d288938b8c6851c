#!/usr/bin/env bash
# `magmadnn export`: ONNX files of the zoo's models (mlp, lenet, resnet18, resnet18 --fuse) and of
# own-data models (an archive's regression, uint8 images) pass onnx.checker's full check, and an
# independent NumPy interpreter of the ONNX operators (onnx_eval.py) reproduces, from the file
# alone, what `magmadnn predict` computes for the same inputs (class probabilities to predict's 6
# decimals, regression values to 7 digits). Bad requests are one clear error.
# Usage: onnx_check.sh path/to/magmadnn    (needs python3-onnx: scripts/install-deps.sh)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
bin="$(readlink -f "$1")"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
py=/usr/bin/python3
$py -c "import onnx, numpy" 2>/dev/null || { echo "FAIL: python3-onnx is missing (scripts/install-deps.sh installs it)"; exit 1; }
ev() { $py "$here/onnx_eval.py" "$@"; }
python3 "$here/make_idx.py" "$tmp/data" 320 100 && python3 "$here/make_npz.py" regress "$tmp/r.npz" &&
  python3 "$here/make_npz.py" images "$tmp/i.npz" || { echo "FAIL: cannot generate data"; exit 1; }
ev images 5 1 28 28 1 "$tmp/x28.npy" && ev images 4 1 12 12 255 "$tmp/x12.npy" && ev images 7 5 1 1 2 "$tmp/x5.npy" ||
  { echo "FAIL: cannot write inputs"; exit 1; }

# export_and_compare NAME INPUT PREDICT-ARGS... : export, check, and compare with predict's CSV.
export_and_compare() {
  local name="$1" input="$2"; shift 2
  if ! "$bin" export "$@" --output "$tmp/$name.onnx" >"$tmp/out" 2>"$tmp/err"; then
    bad "$name: export: $(head -c 300 "$tmp/err")"; return
  fi
  local top=()
  grep -q "regression values" "$tmp/out" || top=(--top "$(sed 's/.*output (N, \([0-9]*\)).*/\1/' "$tmp/out")")
  local args=("$@")
  local weights_and_model=()
  for ((k = 0; k < ${#args[@]}; ++k)); do [[ "${args[k]}" == --fuse ]] || weights_and_model+=("${args[k]}"); done
  if ! "$bin" predict "${weights_and_model[@]}" --input "$input" "${top[@]}" --output "$tmp/$name.csv" >/dev/null 2>"$tmp/err"; then
    bad "$name: predict: $(head -c 300 "$tmp/err")"; return
  fi
  local result
  result=$(ev compare "$tmp/$name.onnx" "$input" "$tmp/$name.csv" 2>&1) || { bad "$name: $result"; return; }
  local diff=${result#max_diff }
  if $py -c "import sys; sys.exit(0 if float('$diff') <= 2e-6 else 1)"; then ok "$name: ONNX file reproduces predict ($result)"
  else bad "$name: ONNX output differs from predict ($result)"; fi
}

for model in mlp lenet resnet18; do
  max=(); [[ $model == resnet18 ]] && max=(--max-batches 3)
  "$bin" train --data-dir "$tmp/data" --model $model --epochs 1 --batch-size 32 --progress none "${max[@]}" \
    --save "$tmp/$model.st" >/dev/null 2>&1 || bad "train $model"
  export_and_compare "$model" "$tmp/x28.npy" --model $model --weights "$tmp/$model.st"
done
export_and_compare resnet18_fused "$tmp/x28.npy" --model resnet18 --weights "$tmp/resnet18.st" --fuse
grep -q BatchNormalization <(ev check "$tmp/resnet18_fused.onnx") && bad "fused export still has BatchNormalization" ||
  ok "fused export has no BatchNormalization: $(ev check "$tmp/resnet18_fused.onnx")"

"$bin" train --dataset "$tmp/r.npz" --model mlp:16,8 --epochs 3 --optimizer adam --lr 0.01 --progress none \
  --save "$tmp/r.st" >/dev/null 2>&1 || bad "train regression"
export_and_compare regression "$tmp/x5.npy" --dataset "$tmp/r.npz" --model mlp:16,8 --weights "$tmp/r.st"
"$bin" train --dataset "$tmp/i.npz" --model lenet --epochs 1 --progress none --save "$tmp/i.st" >/dev/null 2>&1 ||
  bad "train images"
export_and_compare uint8_images "$tmp/x12.npy" --dataset "$tmp/i.npz" --model lenet --weights "$tmp/i.st"

ev check "$tmp/lenet.onnx" >"$tmp/meta" 2>&1
grep -qF 'magmadnn.class_names=["T-shirt/top","Trouser",' "$tmp/meta" && grep -qF "magmadnn.task=classification" "$tmp/meta" &&
  ok "metadata: task and Fashion-MNIST's class names" || bad "metadata: $(cat "$tmp/meta")"
ev check "$tmp/regression.onnx" | grep -qF "magmadnn.task=regression" && ok "metadata: regression" || bad "regression metadata"
expect_error "weights of another model" "mismatches with the model" \
  "$bin" export --model lenet --weights "$tmp/mlp.st" --output "$tmp/bad.onnx"
[[ -e "$tmp/bad.onnx" ]] && bad "a failed export left a file" || ok "a failed export leaves no file"
expect_error "missing output flag" "--output is required" "$bin" export --model lenet --weights "$tmp/lenet.st"
expect_error "unwritable folder" "export_onnx" \
  "$bin" export --model lenet --weights "$tmp/lenet.st" --output "$tmp/no/such/dir/m.onnx"
finish
