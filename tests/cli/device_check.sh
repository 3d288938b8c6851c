#!/usr/bin/env bash
# `--device` through the CLI: without a usable GPU, train/eval/bench with --device cuda[:N] exit
# with status 1 and one clear error (a CPU-only build: "has no CUDA backend"; a CUDA build on a
# machine without a GPU: "no CUDA device: <reason>"); `--device cpu` gives exactly what no flag
# gives (metrics, log, weights, eval). With a GPU: training on cuda ends near the CPU run, its
# weights evaluate on the CPU, predict on cuda gives the CPU's classes, LeNet's dropout masks
# agree between the devices and under --cuda-graph, a CPU checkpoint resumes on cuda, and the
# space-group application trains and evaluates on cuda as on the CPU.
# Runs on small generated IDX files. Usage: device_check.sh path/to/magmadnn
set -uo pipefail
bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=PASSIVE
# JSON without its timing and memory fields.
strip_times() { sed -E 's/"(samples_per_second|samples_per_second_all_ranks|train_seconds|eval_seconds|peak_rss_mb)": *[^,}]*,?//g' "$1" | grep -v '^ *$'; }

python3 "$here/make_idx.py" "$tmp/data" 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }
common=(--data-dir "$tmp/data" --model mlp --batch-size 32 --seed 3)
train_args=(train "${common[@]}" --epochs 2 --max-batches 8 --lr 0.05 --progress lines)

# expect_status1 NAME SUBSTRING CMD...: exit status exactly 1 and SUBSTRING on stderr, in one line.
expect_status1() {
  local name="$1" want="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [[ $rc -eq 1 ]] && grep -qF -- "$want" "$tmp/err" && [[ $(wc -l <"$tmp/err") -eq 1 ]]; then ok "$name"
  else bad "$name (exit $rc, stderr: $(head -c 400 "$tmp/err"))"; fi
}

"$bin" bench --model mlp --batch-size 8 --batches 1 --warmup 0 --device cuda >"$tmp/probe" 2>&1
have_gpu=$?
"$bin" info >"$tmp/info" 2>&1
if [[ $have_gpu -ne 0 ]]; then
  if grep -q "cuda: not built" "$tmp/info"; then
    want="this build of MagmaDNN has no CUDA backend"
  else
    want="no CUDA device: "
  fi
  for dev in cuda cuda:0 cuda:1; do
    expect_status1 "train --device $dev without a GPU" "--device $dev: $want" "$bin" "${train_args[@]}" --device $dev
    expect_status1 "bench --device $dev without a GPU" "--device $dev: $want" "$bin" bench --batches 1 --device $dev
  done
  # eval fails on the device before it reads any weights.
  expect_status1 "eval --device cuda without a GPU" "--device cuda: $want" \
    "$bin" eval "${common[@]}" --weights "$tmp/none.safetensors" --device cuda
  expect_error "unknown device" "unknown device 'cuda:x'" "$bin" bench --batches 1 --device cuda:x
fi
# GPU-only flags on the CPU: one clear error each, before any work.
expect_status1 "train --cuda-graph on the CPU" "--cuda-graph needs --device cuda, got --device cpu" \
  "$bin" "${train_args[@]}" --cuda-graph
expect_status1 "bench --cuda-graph on the CPU" "--cuda-graph needs --device cuda, got --device cpu" \
  "$bin" bench --batches 1 --cuda-graph
expect_status1 "bench --tf32 on the CPU" "--tf32 needs --device cuda" "$bin" bench --batches 1 --tf32
expect_status1 "bench --cudnn-benchmark on the CPU" "--cudnn-benchmark needs --device cuda" \
  "$bin" bench --batches 1 --cudnn-benchmark

# --device cpu is exactly the default.
for v in noflag cpu; do
  flag=(); [[ $v == cpu ]] && flag=(--device cpu)
  rm -f "$tmp/$v.log"
  if "$bin" "${train_args[@]}" "${flag[@]}" --save "$tmp/$v.st" --log "$tmp/$v.log" --metrics-out "$tmp/$v.json" \
       >"$tmp/$v.out" 2>&1; then ok "train ($v)"; else bad "train ($v): $(tail -3 "$tmp/$v.out")"; fi
done
cmp -s "$tmp/noflag.st" "$tmp/cpu.st" && ok "--device cpu: same weights as no flag" || bad "--device cpu: weights differ"
[[ "$(strip_times "$tmp/noflag.log")" == "$(strip_times "$tmp/cpu.log")" ]] && ok "--device cpu: same epoch log" ||
  bad "--device cpu: epoch logs differ: $(diff <(strip_times "$tmp/noflag.log") <(strip_times "$tmp/cpu.log") | head -5)"
[[ "$(strip_times "$tmp/noflag.json")" == "$(strip_times "$tmp/cpu.json")" ]] && ok "--device cpu: same metrics JSON" ||
  bad "--device cpu: metrics differ: $(diff <(strip_times "$tmp/noflag.json") <(strip_times "$tmp/cpu.json") | head -5)"
# The printed losses and accuracies (not the rates) match too.
losses() { grep -oE "(loss|acc|train_loss|train_acc|test_loss|test_acc|accuracy) [0-9.]+" "$1"; }
[[ -n "$(losses "$tmp/cpu.out")" && "$(losses "$tmp/noflag.out")" == "$(losses "$tmp/cpu.out")" ]] &&
  ok "--device cpu: same printed progress and summary" || bad "--device cpu: printed values differ"
grep -q '"device": "cpu"' "$tmp/cpu.json" && ok "metrics name the device" || bad "metrics without device: $(head -c 300 "$tmp/cpu.json")"

for v in noflag cpu; do
  flag=(); [[ $v == cpu ]] && flag=(--device cpu)
  "$bin" eval "${common[@]}" --weights "$tmp/noflag.st" "${flag[@]}" --metrics-out "$tmp/eval_$v.json" >"$tmp/out" 2>&1 ||
    bad "eval ($v): $(tail -3 "$tmp/out")"
done
[[ "$(json_number "$tmp/eval_cpu.json" test_loss)" == "$(json_number "$tmp/eval_noflag.json" test_loss)" &&
   "$(json_number "$tmp/eval_cpu.json" test_accuracy)" == "$(json_number "$tmp/noflag.json" test_accuracy)" ]] &&
  ok "eval --device cpu equals eval and the training run" || bad "eval --device cpu: $(cat "$tmp/eval_cpu.json")"
"$bin" bench --model mlp --batch-size 16 --batches 2 --warmup 1 --device cpu >"$tmp/out" 2>&1 &&
  grep -q "threads" "$tmp/out" && ok "bench --device cpu" || bad "bench --device cpu: $(cat "$tmp/out")"

if [[ $have_gpu -eq 0 ]]; then
  expect_status1 "bench --device cuda:99" "--device cuda:99: no such device" "$bin" bench --batches 1 --device cuda:99
  # Training on the GPU ends near the CPU run (float32, different summation orders).
  if "$bin" "${train_args[@]}" --device cuda --save "$tmp/gpu.st" --metrics-out "$tmp/gpu.json" \
       --checkpoint "$tmp/gpu.ckpt" >"$tmp/out" 2>&1; then
    ok "train --device cuda"
    a=$(json_number "$tmp/gpu.json" test_loss) b=$(json_number "$tmp/cpu.json" test_loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-3) }' &&
      ok "cuda test loss $a ~ cpu $b" || bad "cuda test loss $a, cpu $b"
    # (2 of the 200 test samples may flip on an argmax near-tie between the devices.)
    "$bin" eval "${common[@]}" --weights "$tmp/gpu.st" --metrics-out "$tmp/eval_gpu_on_cpu.json" >"$tmp/out" 2>&1 &&
      awk -v a="$(json_number "$tmp/eval_gpu_on_cpu.json" test_accuracy)" -v b="$(json_number "$tmp/gpu.json" test_accuracy)" \
        'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 0.011) }' &&
      ok "cuda-trained weights evaluate on the cpu" || bad "eval of cuda weights on cpu: $(cat "$tmp/out")"
    "$bin" eval "${common[@]}" --weights "$tmp/cpu.st" --device cuda --metrics-out "$tmp/eval_cpu_on_gpu.json" \
      >"$tmp/out" 2>&1 && ok "cpu-trained weights evaluate on cuda" || bad "eval on cuda: $(cat "$tmp/out")"
    # predict on the GPU: the CPU's classes (allowing 2 of 200 argmax near-ties to flip).
    if "$bin" predict --model mlp --weights "$tmp/cpu.st" --input "$tmp/data/t10k-images-idx3-ubyte" --device cuda \
         --output "$tmp/pred_gpu.csv" >"$tmp/out" 2>&1 &&
       "$bin" predict --model mlp --weights "$tmp/cpu.st" --input "$tmp/data/t10k-images-idx3-ubyte" \
         --output "$tmp/pred_cpu.csv" >>"$tmp/out" 2>&1; then
      differ=$(paste -d, <(cut -d, -f2 "$tmp/pred_gpu.csv") <(cut -d, -f2 "$tmp/pred_cpu.csv") | awk -F, '$1 != $2' | wc -l)
      [[ $differ -le 2 ]] && ok "predict --device cuda: the CPU's classes ($differ of 200 differ)" ||
        bad "predict --device cuda: $differ of 200 classes differ from the CPU's"
    else
      bad "predict --device cuda: $(tail -3 "$tmp/out")"
    fi
  else
    bad "train --device cuda: $(tail -3 "$tmp/out")"
  fi
  # The same run with its training step replayed from a CUDA graph (steps 4..8 of each epoch, the
  # first three eager) ends where the eager GPU run does.
  if "$bin" "${train_args[@]}" --device cuda --cuda-graph --metrics-out "$tmp/graph.json" >"$tmp/out" 2>&1; then
    a=$(json_number "$tmp/graph.json" test_loss) b=$(json_number "$tmp/gpu.json" test_loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5) }' &&
      ok "train --cuda-graph test loss $a = eager cuda $b" || bad "--cuda-graph test loss $a, eager cuda $b"
  else
    bad "train --device cuda --cuda-graph: $(tail -3 "$tmp/out")"
  fi
  # LeNet with convolution algorithms chosen by timing and by cuDNN's heuristics (full fp32
  # either way): the same run, to rounding.
  lenet=(train --data-dir "$tmp/data" --model lenet --batch-size 32 --seed 3 --epochs 1 --max-batches 6 --lr 0.05
         --progress lines --device cuda)
  if "$bin" "${lenet[@]}" --metrics-out "$tmp/heur.json" >"$tmp/out" 2>&1 &&
     "$bin" "${lenet[@]}" --cudnn-benchmark --metrics-out "$tmp/timed.json" >"$tmp/out" 2>&1; then
    a=$(json_number "$tmp/timed.json" test_loss) b=$(json_number "$tmp/heur.json" test_loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-3) }' &&
      ok "train --cudnn-benchmark test loss $a ~ heuristics $b" || bad "--cudnn-benchmark test loss $a, heuristics $b"
  else
    bad "train --device cuda --cudnn-benchmark: $(tail -3 "$tmp/out")"
  fi
  # LeNet has dropout: its masks are drawn on the device from the same Philox stream as on the
  # CPU, and a CUDA graph replays them fresh, each replay drawing what the eager step would have.
  if "$bin" "${lenet[@]}" --cuda-graph --metrics-out "$tmp/lenet_graph.json" >"$tmp/out" 2>&1; then
    a=$(json_number "$tmp/lenet_graph.json" test_loss) b=$(json_number "$tmp/heur.json" test_loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5) }' &&
      ok "LeNet (dropout) --cuda-graph test loss $a = eager cuda $b" || bad "LeNet --cuda-graph test loss $a, eager $b"
  else
    bad "train --model lenet --cuda-graph: $(tail -3 "$tmp/out")"
  fi
  lenet_cpu=("${lenet[@]}")
  lenet_cpu[${#lenet_cpu[@]}-1]=cpu  # the same run, --device cpu
  if "$bin" "${lenet_cpu[@]}" --metrics-out "$tmp/lenet_cpu.json" >"$tmp/out" 2>&1; then
    a=$(json_number "$tmp/heur.json" test_loss) b=$(json_number "$tmp/lenet_cpu.json" test_loss)
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-3) }' &&
      ok "LeNet (same dropout masks) cuda test loss $a ~ cpu $b" || bad "LeNet cuda test loss $a, cpu $b"
  else
    bad "train --model lenet --device cpu: $(tail -3 "$tmp/out")"
  fi
  # A CPU run stopped mid-way resumes on the GPU.
  rm -f "$tmp/ck"
  "$bin" "${train_args[@]}" --checkpoint "$tmp/ck" --stop-after-steps 5 >"$tmp/out" 2>&1 &&
    "$bin" "${train_args[@]}" --resume "$tmp/ck" --device cuda --metrics-out "$tmp/resumed.json" >"$tmp/out" 2>&1 &&
    ok "cpu checkpoint resumes on cuda" || bad "resume on cuda: $(tail -3 "$tmp/out")"
  "$bin" bench --model lenet --batch-size 16 --batches 3 --warmup 1 --device cuda >"$tmp/out" 2>&1 &&
    grep -q "on cuda:0" "$tmp/out" && ok "bench --device cuda" || bad "bench --device cuda: $(cat "$tmp/out")"
  # The space-group application (builds with spglib): a short ResNet run on cuda starts as the
  # CPU run does (first epoch's loss), and CPU-trained weights evaluate on cuda to the CPU's top-1.
  if "$bin" spacegroup generate --size 16 --samples-per-group 4 --seed 1 --out "$tmp/sg_train" >/dev/null 2>&1; then
    "$bin" spacegroup generate --size 16 --samples-per-group 2 --seed 2 --out "$tmp/sg_test" >/dev/null 2>&1
    sg=(spacegroup train --data "$tmp/sg_train" --test-data "$tmp/sg_test" --target crystal-system --epochs 2
        --width 8 --blocks 1,1 --batch-size 32)
    jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }
    if "$bin" "${sg[@]}" --device cuda --out "$tmp/sg_gpu" >"$tmp/out" 2>&1 &&
       "$bin" "${sg[@]}" --out "$tmp/sg_cpu" >>"$tmp/out" 2>&1 &&
       "$bin" spacegroup eval --weights "$tmp/sg_cpu/spacegroup.safetensors" --data "$tmp/sg_test" --device cuda \
         --metrics-out "$tmp/sg_eval.json" >>"$tmp/out" 2>&1; then
      a=$(jget "$tmp/sg_gpu/metrics.json" "['history'][0]['train_loss']") b=$(jget "$tmp/sg_cpu/metrics.json" "['history'][0]['train_loss']")
      awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.02 * b) }' &&
        ok "spacegroup train on cuda: first-epoch loss $a ~ cpu $b" || bad "spacegroup first-epoch loss cuda $a, cpu $b"
      a=$(jget "$tmp/sg_eval.json" "['top1']") b=$(jget "$tmp/sg_cpu/metrics.json" "['test']['top1']")
      awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2.5 / 460) }' &&
        ok "spacegroup eval on cuda: top-1 $a = cpu $b" || bad "spacegroup eval on cuda top-1 $a, cpu $b"
    else
      bad "spacegroup on cuda: $(tail -3 "$tmp/out")"
    fi
  fi
fi
finish
