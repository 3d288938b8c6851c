#!/usr/bin/env bash
# The example programs run to the end on a small generated data set: autograd_basics, train_mlp,
# custom_cnn (a few batches, then reloaded and evaluated on the CPU), own_data_regression (a NumPy
# archive to an ONNX file), distributed_ddp with one
# process and, where mpirun is given, with two ranks that must reach the one process's test loss.
# Usage: examples_check.sh DIR_WITH_EXAMPLE_BINARIES [mpiexec]
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-}"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/check_lib.sh"
cd "$tmp" || exit 1  # the examples write their files into the working directory
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
python3 "$here/make_idx.py" data 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }

"$bin/example_autograd_basics" >out 2>&1 && ok "autograd_basics" || bad "autograd_basics: $(tail -3 out)"
"$bin/example_train_mlp" data >out 2>&1 && grep -q "test accuracy after 2 epochs" out && [[ -f mlp_example.safetensors ]] &&
  ok "train_mlp" || bad "train_mlp: $(tail -3 out)"
if "$bin/example_custom_cnn" data cpu 4 >out 2>&1; then
  a=$(grep -oP '^test accuracy \K[0-9.]+' out) b=$(grep -oP 'reloaded on the cpu: test accuracy \K[0-9.]+' out)
  [[ -n "$a" && "$a" == "$b" && -f custom_cnn.ckpt ]] && ok "custom_cnn: reloaded weights give the same accuracy ($a)" ||
    bad "custom_cnn: accuracy $a, reloaded $b"
else
  bad "custom_cnn: $(tail -3 out)"
fi
# own_data_regression: the two-target regression archive (noise 0.05) to a small test RMSE, and an
# ONNX file that passes onnx.checker where python3-onnx is installed.
python3 "$here/make_npz.py" regress r.npz || bad "cannot generate r.npz"
if "$bin/example_own_data_regression" r.npz 20 >out 2>&1; then
  rmse=$(grep -oP 'test RMSE after 20 epochs: \K[0-9.e-]+' out)
  awk -v r="$rmse" 'BEGIN { exit !(r != "" && r < 0.25) }' && [[ -f regression.onnx ]] &&
    ok "own_data_regression: test RMSE $rmse < 0.25, regression.onnx written" || bad "own_data_regression: $(tail -3 out)"
  if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
    /usr/bin/python3 "$here/onnx_eval.py" check regression.onnx >out 2>&1 && ok "regression.onnx: $(cat out)" ||
      bad "regression.onnx: $(tail -3 out)"
  fi
else
  bad "own_data_regression: $(tail -3 out)"
fi
# The same example on a CSV table (target y2 = 50 c - a / 100 + noise 0.05; std ~29).
python3 "$here/make_csv.py" regress r.csv && python3 -c "
import csv
rows = list(csv.DictReader(open('r.csv')))
w = csv.writer(open('r2.csv', 'w', newline=''))
w.writerow(['a', 'b', 'c', 'y2'])
for r in rows: w.writerow([r['a'], r['b'], r['c'], r['y2']])" || bad "cannot write r2.csv"
if "$bin/example_own_data_regression" r2.csv 20 >out 2>&1; then
  rmse=$(grep -oP 'test RMSE after 20 epochs: \K[0-9.e-]+' out)
  awk -v r="$rmse" 'BEGIN { exit !(r != "" && r < 1.0) }' && ok "own_data_regression on a CSV table: test RMSE $rmse < 1.0" ||
    bad "own_data_regression on r2.csv: $(tail -3 out)"
else
  bad "own_data_regression on r2.csv: $(tail -3 out)"
fi
if "$bin/example_distributed_ddp" data 3 >one.out 2>&1; then
  ok "distributed_ddp, one process"
  if [[ -n "$mpiexec" ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    if "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$bin/example_distributed_ddp" data 3 >two.out 2>&1; then
      loss() { grep -oP 'test_loss \K[0-9.]+' "$1" | tail -1; }
      a=$(loss one.out) b=$(loss two.out)
      awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= 1e-3 * (1 + a)) }' &&
        ok "distributed_ddp, 2 ranks: test loss $b = one process $a" || bad "distributed_ddp: 2 ranks $b, one process $a"
    else
      bad "distributed_ddp under mpirun: $(tail -3 two.out)"
    fi
  fi
else
  bad "distributed_ddp: $(tail -3 one.out)"
fi
finish
