#!/usr/bin/env bash
# `magmadnn predict`: on a generated data set, the predictions for the test IDX file score the
# accuracy `eval` reports for the same weights; .npy inputs (uint8 (N, H, W), float32 (N, C, H, W)
# in [0, 1], NHWC) and a gzipped IDX file give the same classes; --top lists classes by falling
# probability; bad inputs (shape, NaN, truncated file, --top, missing weights) are one clear error
# that leaves an existing --output untouched.
# Usage: predict_check.sh path/to/magmadnn
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
bin="$(readlink -f "$1")"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
python3 "$here/make_idx.py" "$tmp/data" 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }
"$bin" train --data-dir "$tmp/data" --model mlp --epochs 3 --batch-size 32 --lr 0.02 --progress none \
  --save "$tmp/w.st" >"$tmp/out" 2>&1 || { echo "FAIL: train: $(tail -3 "$tmp/out")"; exit 1; }
"$bin" eval --data-dir "$tmp/data" --model mlp --weights "$tmp/w.st" --metrics-out "$tmp/eval.json" >"$tmp/out" 2>&1 ||
  { echo "FAIL: eval: $(tail -3 "$tmp/out")"; exit 1; }
predict=("$bin" predict --model mlp --weights "$tmp/w.st")

# Python helpers (no numpy): IDX labels, accuracy of a CSV, .npy writers.
cat >"$tmp/h.py" <<'PY'
import gzip, struct, sys
def idx(path):
    raw = open(path, "rb").read()
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return shape, raw[4 + 4 * dims:]
def npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join("%d, " % d for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "accuracy":  # CSV labels-file
    _, labels = idx(args[1])
    rows = [l.split(",") for l in open(args[0]).read().splitlines()[1:]]
    print("%.4f" % (sum(int(r[1]) == labels[int(r[0])] for r in rows) / len(labels)))
elif cmd == "npy":  # images-file out.npy kind count
    (n, h, w), pixels = idx(args[0])
    count = int(args[3])
    px = pixels[:count * h * w]
    if args[2] == "u1":
        npy(args[1], "|u1", (count, h, w), px)
    elif args[2] == "nhwc":
        npy(args[1], "|u1", (count, h, w, 1), px)
    elif args[2] == "f4":
        npy(args[1], "<f4", (count, 1, h, w), struct.pack("<%df" % len(px), *[p / 255.0 for p in px]))
    elif args[2] == "nan":
        vals = [p / 255.0 for p in px]
        vals[3 * h * w + 5] = float("nan")
        npy(args[1], "<f4", (count, h, w), struct.pack("<%df" % len(vals), *vals))
    elif args[2] == "wide":
        npy(args[1], "|u1", (count, h, w + 4), bytes(count * h * (w + 4)))
PY
h() { python3 "$tmp/h.py" "$@"; }

if "${predict[@]}" --input "$tmp/data/t10k-images-idx3-ubyte" --output "$tmp/idx.csv" >"$tmp/out" 2>&1; then
  a=$(h accuracy "$tmp/idx.csv" "$tmp/data/t10k-labels-idx1-ubyte") b=$(printf "%.4f" "$(json_number "$tmp/eval.json" test_accuracy)")
  [[ "$a" == "$b" ]] && ok "predictions of the test images score eval's accuracy ($a)" || bad "predict accuracy $a, eval $b"
  [[ $(wc -l <"$tmp/idx.csv") -eq 201 ]] && ok "one CSV row per image" || bad "CSV rows: $(wc -l <"$tmp/idx.csv")"
  grep -q "predicted 200 images" "$tmp/out" && ok "summary line" || bad "summary: $(cat "$tmp/out")"
else
  bad "predict on IDX: $(tail -3 "$tmp/out")"
fi
classes() { cut -d, -f1,2 "$1" | head -51; }
for kind in u1 nhwc f4; do
  h npy "$tmp/data/t10k-images-idx3-ubyte" "$tmp/$kind.npy" $kind 50
  if "${predict[@]}" --input "$tmp/$kind.npy" --output "$tmp/$kind.csv" >"$tmp/out" 2>&1; then
    [[ "$(classes "$tmp/$kind.csv")" == "$(classes "$tmp/idx.csv")" ]] && ok ".npy ($kind): the IDX file's classes" ||
      bad ".npy ($kind): classes differ from the IDX file's"
  else
    bad "predict on .npy ($kind): $(tail -3 "$tmp/out")"
  fi
done
gzip -c "$tmp/data/t10k-images-idx3-ubyte" >"$tmp/images.gz"
"${predict[@]}" --input "$tmp/images.gz" >"$tmp/gz.csv" 2>"$tmp/err" && cmp -s "$tmp/gz.csv" "$tmp/idx.csv" &&
  ok "gzipped IDX to standard output: the same CSV" || bad "gzipped IDX: $(tail -3 "$tmp/err")"
"${predict[@]}" --input "$tmp/u1.npy" --top 3 --output "$tmp/top.csv" >/dev/null 2>&1 &&
  awk -F, 'NR == 1 { ok = ($0 == "index,class_1,name_1,probability_1,class_2,name_2,probability_2,class_3,name_3,probability_3"); next }
           { if (!($4 >= $7 && $7 >= $10 && $2 != $5 && $5 != $8)) ok = 0 } END { exit !ok }' "$tmp/top.csv" &&
  ok "--top 3: distinct classes by falling probability" || bad "--top 3: $(head -3 "$tmp/top.csv")"

echo "keep" >"$tmp/keep.csv"
h npy "$tmp/data/t10k-images-idx3-ubyte" "$tmp/nan.npy" nan 10
h npy "$tmp/data/t10k-images-idx3-ubyte" "$tmp/wide.npy" wide 10
head -c 100 "$tmp/u1.npy" >"$tmp/short.npy"
expect_error "NaN in the input" "image 3 has a NaN or infinite value" "${predict[@]}" --input "$tmp/nan.npy" --output "$tmp/keep.csv"
expect_error "wrong image shape" "holds images of shape (10, 28, 32); fashion-mnist models take (N, 1, 28, 28) or (N, 28, 28) or (N, 28, 28, 1)" \
  "${predict[@]}" --input "$tmp/wide.npy" --output "$tmp/keep.csv"
expect_error "truncated .npy" "load_npy: $tmp/short.npy" "${predict[@]}" --input "$tmp/short.npy" --output "$tmp/keep.csv"
expect_error "--top out of range" "--top must be in [1, 10], got 11" "${predict[@]}" --input "$tmp/u1.npy" --top 11
expect_error "missing weights" "missing.st" "$bin" predict --model mlp --weights "$tmp/missing.st" --input "$tmp/u1.npy"
[[ "$(cat "$tmp/keep.csv")" == keep ]] && ok "failed runs leave --output untouched" || bad "--output was overwritten"
finish
