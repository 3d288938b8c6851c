#!/usr/bin/env bash
# End-to-end checks of `magmadnn spacegroup generate | train | eval`: generation is reproducible
# (same files for a seed, whatever the thread count); a short ResNet run on Laue classes learns
# far above chance, prints the per-crystal-system table and the implied crystal-system accuracy,
# and writes weights and metrics.json; eval reproduces the recorded test accuracy (also with
# --bf16 where the CPU has bf16 instructions); bad groups,
# targets, block lists, data and weights are one clear error with a non-zero exit; `export` writes
# an ONNX file whose predictions (an independent NumPy interpreter) score eval's top-1 accuracy.
# Usage: spacegroup_check.sh path/to/magmadnn
set -uo pipefail
bin="$1"
source "$(dirname "$0")/check_lib.sh"
export OMP_WAIT_POLICY=PASSIVE
json_get() { /usr/bin/env python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }

gen() { "$bin" spacegroup generate --size 16 --max-index 3 "$@" >/dev/null; }
gen --samples-per-group 16 --seed 1 --out "$tmp/train" || bad "generate train"
gen --samples-per-group 4 --seed 2 --out "$tmp/test.npz" || bad "generate test"
gen --samples-per-group 4 --seed 2 --out "$tmp/test1.npz" --threads 1 || bad "generate, 1 thread"
cmp -s "$tmp/test.npz" "$tmp/test1.npz" && ok "generate: same set with 1 and 2 threads" || bad "generate differs by threads"
gen --samples-per-group 4 --seed 3 --out "$tmp/test3.npz"
cmp -s "$tmp/test.npz" "$tmp/test3.npz" && bad "another seed gave the same set" || ok "generate: another seed, another set"
gen --samples-per-group 4 --seed 2 --special-positions 0.5 --out "$tmp/special.npz" || bad "generate --special-positions"
cmp -s "$tmp/test.npz" "$tmp/special.npz" && bad "special positions gave the general set" \
  || ok "generate --special-positions 0.5: another set"
expect_error "special positions out of range" "--special-positions" \
  "$bin" spacegroup generate --special-positions 1.5 --out "$tmp/x"
gen --groups 1-74 --samples-per-group 2 --seed 2 --random-settings --out "$tmp/settings.npz" || bad "generate --random-settings"
gen --groups 1-74 --samples-per-group 2 --seed 2 --out "$tmp/standard.npz"
cmp -s "$tmp/standard.npz" "$tmp/settings.npz" && bad "random settings gave the standard set" \
  || ok "generate --random-settings: another set"
gen --groups cubic,1-2 --samples-per-group 1 --seed 1 --out "$tmp/cubic" && \
  python3 -c "import sys; d=open(sys.argv[1],'rb').read(); sys.exit(not d[10:].startswith(b\"{'descr': '<i8', 'fortran_order': False, 'shape': (38,)\"))" \
    "$tmp/cubic/space_groups.npy" && ok "generate --groups cubic,1-2: 38 groups" || bad "generate --groups cubic,1-2"

if "$bin" spacegroup train --data "$tmp/train" --test-data "$tmp/test.npz" --target laue-class --epochs 4 \
     --width 8 --blocks 1,1 --batch-size 32 --lr 3e-3 --threads 2 --out "$tmp/run" >"$tmp/train.log" 2>&1; then
  ok "train runs"
else bad "train: $(tail -5 "$tmp/train.log")"; fi
grep -qE "^crystal system +samples +top-1" "$tmp/train.log" && ok "table header" || bad "table: $(tail -12 "$tmp/train.log")"
grep -qE "^cubic +144 +[0-9.]+" "$tmp/train.log" && ok "cubic row (36 groups x 4)" || bad "cubic row"
grep -qE "^all +920 +[0-9.]+ +top-5 [0-9.]+" "$tmp/train.log" && ok "all row" || bad "all row"
grep -qE "implied crystal-system accuracy [0-9.]+" "$tmp/train.log" && ok "implied crystal-system accuracy" \
  || bad "implied accuracy line"
for f in spacegroup.safetensors metrics.json; do [[ -s "$tmp/run/$f" ]] && ok "wrote $f" || bad "missing $f"; done
top1=$(json_get "$tmp/run/metrics.json" "['test']['top1']")
# 11 Laue classes; the largest (mmm, 59 of the 230 groups) is 26% of the samples.
python3 -c "import sys; sys.exit(not $top1 > 0.45)" && ok "Laue-class top-1 $top1 > 0.45" || bad "Laue-class top-1 $top1"
implied=$(json_get "$tmp/run/metrics.json" "['test']['implied']['crystal-system']")
python3 -c "import sys; sys.exit(not $implied >= $top1)" && ok "implied crystal system $implied >= Laue class $top1" \
  || bad "implied $implied < top-1 $top1"

if "$bin" spacegroup eval --weights "$tmp/run/spacegroup.safetensors" --data "$tmp/test.npz" \
     --metrics-out "$tmp/eval.json" >"$tmp/eval.log" 2>&1; then
  got=$(json_get "$tmp/eval.json" "['top1']")
  [[ "$got" == "$top1" ]] && ok "eval reproduces top-1 $top1" || bad "eval top-1 $got, train recorded $top1"
else bad "eval: $(cat "$tmp/eval.log")"; fi

# bf16 math: the same run with bf16 convolutions learns as well (where the CPU has bf16), and its
# weights evaluate in bf16 to the recorded accuracy.
if "$bin" info | grep -q "bf16 math available"; then
  if "$bin" spacegroup train --data "$tmp/train" --test-data "$tmp/test.npz" --target laue-class --epochs 4 \
       --width 8 --blocks 1,1 --batch-size 32 --lr 3e-3 --threads 2 --bf16 --out "$tmp/run16" >"$tmp/train16.log" 2>&1; then
    top16=$(json_get "$tmp/run16/metrics.json" "['test']['top1']")
    python3 -c "import sys; sys.exit(not $top16 > 0.45)" && ok "--bf16: Laue-class top-1 $top16 > 0.45" \
      || bad "--bf16: Laue-class top-1 $top16"
    "$bin" spacegroup eval --weights "$tmp/run16/spacegroup.safetensors" --data "$tmp/test.npz" --bf16 \
      --metrics-out "$tmp/eval16.json" >"$tmp/eval.log" 2>&1
    got=$(json_get "$tmp/eval16.json" "['top1']")
    [[ "$got" == "$top16" ]] && ok "eval --bf16 reproduces top-1 $top16" || bad "eval --bf16 top-1 $got, train recorded $top16"
  else bad "train --bf16: $(tail -5 "$tmp/train16.log")"; fi
fi

# Errors.
expect_error "bad group" "--groups: bad item '231'" "$bin" spacegroup generate --groups 1,231 --out "$tmp/x"
expect_error "bad system" "bad item 'cubik'" "$bin" spacegroup generate --groups cubik --out "$tmp/x"
expect_error "sites reversed" "--min-sites 3 exceeds --max-sites 2" \
  "$bin" spacegroup generate --min-sites 3 --max-sites 2 --out "$tmp/x"
expect_error "lengths reversed" "--min-length 9 exceeds --max-length 5" \
  "$bin" spacegroup generate --min-length 9 --max-length 5 --out "$tmp/x"
expect_error "bad target" "--target" "$bin" spacegroup train --data "$tmp/train" --target lattice
expect_error "bad blocks" "--blocks" "$bin" spacegroup train --data "$tmp/train" --blocks 2,0
expect_error "missing data" "no such file or folder" "$bin" spacegroup train --data "$tmp/nope.npz"
head -c 5000 "$tmp/test.npz" >"$tmp/trunc.npz"
expect_error "truncated npz" "trunc.npz" "$bin" spacegroup train --data "$tmp/trunc.npz"
expect_error "no test samples" "leaves no train or no test samples" \
  "$bin" spacegroup train --data "$tmp/test.npz" --test-fraction 0.0001
"$bin" spacegroup generate --samples-per-group 1 --size 24 --out "$tmp/big" >/dev/null
expect_error "image size mismatch" "24-pixel images, the model was trained on 16" \
  "$bin" spacegroup eval --weights "$tmp/run/spacegroup.safetensors" --data "$tmp/big"
"$bin" ising generate --samples 64 --out "$tmp/ising.npz" >/dev/null
"$bin" ising train --data "$tmp/ising.npz" --epochs 1 --hidden 4 --batch-size 16 --out "$tmp/ising" >/dev/null
expect_error "weights of another model" "lacks the 'spacegroup_target' metadata" \
  "$bin" spacegroup eval --weights "$tmp/ising/cnn.safetensors" --data "$tmp/test.npz"
expect_error "export weights of another model" "spacegroup export: $tmp/ising/cnn.safetensors lacks the 'spacegroup_target'" \
  "$bin" spacegroup export --weights "$tmp/ising/cnn.safetensors" --output "$tmp/x.onnx"
[[ ! -e "$tmp/x" && ! -e "$tmp/x.onnx" ]] && ok "nothing written by failed commands" || bad "a failed command wrote $tmp/x"

# export: a space-group model as ONNX; its predictions, computed from the file alone by an
# independent NumPy interpreter (onnx_eval.py), score the top-1 accuracy `spacegroup eval` reports.
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  "$bin" spacegroup train --data "$tmp/train" --test-data "$tmp/test.npz" --target space-group --epochs 3 --width 8 \
    --blocks 1 --batch-size 32 --lr 3e-3 --threads 2 --out "$tmp/sg" >/dev/null 2>&1 || bad "train for export"
  "$bin" spacegroup eval --weights "$tmp/sg/spacegroup.safetensors" --data "$tmp/test.npz" \
    --metrics-out "$tmp/sg_eval.json" >/dev/null 2>&1 || bad "eval for export"
  for fuse in "" --fuse; do
    if "$bin" spacegroup export --weights "$tmp/sg/spacegroup.safetensors" --output "$tmp/sg$fuse.onnx" $fuse \
         >"$tmp/export.log" 2>&1; then
      /usr/bin/python3 - "$tmp/test.npz" "$tmp/images.npy" <<'PY'
import sys, numpy as np
d = np.load(sys.argv[1])
np.save(sys.argv[2], d["images"].astype(np.float32) / 255)
PY
      /usr/bin/python3 "$(dirname "$0")/onnx_eval.py" run "$tmp/sg$fuse.onnx" "$tmp/images.npy" "$tmp/logits.npy"
      top1=$(/usr/bin/python3 -c "import sys, numpy as np
d = np.load(sys.argv[1]); p = np.load(sys.argv[2]).argmax(1)
print(float((p == d['space_groups'] - 1).mean()))" "$tmp/test.npz" "$tmp/logits.npy")
      want=$(json_get "$tmp/sg_eval.json" "['top1']")
      /usr/bin/python3 -c "import sys; sys.exit(abs(float('$top1') - float('$want')) > 1e-9)" &&
        ok "export$fuse: the ONNX file's predictions score eval's top-1 ($top1)" ||
        bad "export$fuse: ONNX top-1 $top1, eval $want"
    else
      bad "spacegroup export$fuse: $(tail -3 "$tmp/export.log")"
    fi
  done
fi
finish
