#!/usr/bin/env bash
# Fault handling of `mpirun -np 2 magmadnn train --distributed ddp`: one rank is killed (SIGKILL)
# mid-epoch after the first checkpoint; the survivor must stop with an error naming its rank and
# the operation within --dist-timeout (plus a margin), the checkpoint must still load, and
# --resume from it must finish with the same weights as an uninterrupted run.
# Usage: ddp_fault_check.sh path/to/magmadnn path/to/mpiexec
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-mpirun}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
mpirun_pid=""
cleanup() { [[ -n "$mpirun_pid" ]] && kill -9 "$mpirun_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
fails=0
ok() { echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAIL: $1"; }
python3 "$here/../cli/make_idx.py" "$tmp/data" 1280 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }

# --enable-recovery: mpirun must not kill the survivor itself when a rank dies, so that the
# survivor's own deadline is what stops it (mpirun then exits 0 whatever the ranks return, so
# each rank runs under a wrapper that records its pid and its exit status).
launch=("$mpiexec" --allow-run-as-root --oversubscribe --enable-recovery -np 2 "$tmp/record.sh")
cat >"$tmp/record.sh" <<WRAP
#!/usr/bin/env bash
"\$@" &
child=\$!
echo \$child >"$tmp/pid.\$OMPI_COMM_WORLD_RANK"
wait \$child
rc=\$?
echo \$rc >"$tmp/rc.\$OMPI_COMM_WORLD_RANK"
exit \$rc
WRAP
chmod +x "$tmp/record.sh"
timeout_s=10
args=(train --data-dir "$tmp/data" --model lenet --epochs 2 --batch-size 32 --max-batches 30 --seed 4
      --progress none --optimizer sgd --lr 0.02 --distributed ddp --dist-timeout $timeout_s)
"${launch[@]}" "$bin" "${args[@]}" --save "$tmp/ref.st" >"$tmp/ref.out" 2>&1 ||
  { echo "FAIL: uninterrupted run: $(tail -5 "$tmp/ref.out")"; exit 1; }

rm -f "$tmp"/pid.* "$tmp"/rc.*
"${launch[@]}" "$bin" "${args[@]}" --checkpoint "$tmp/ckpt" --checkpoint-every 5 >"$tmp/fault.out" 2>&1 &
mpirun_pid=$!
for _ in $(seq 1 3000); do [[ -f "$tmp/ckpt" ]] && break; sleep 0.02; done
[[ -f "$tmp/ckpt" ]] || { echo "FAIL: no checkpoint appeared: $(tail -5 "$tmp/fault.out")"; exit 1; }
for _ in $(seq 1 500); do [[ -s "$tmp/pid.1" ]] && break; sleep 0.02; done
victim=$(cat "$tmp/pid.1" 2>/dev/null)
[[ -n "$victim" ]] || { echo "FAIL: rank 1 did not record its pid"; exit 1; }
kill -9 "$victim"
start=$(date +%s)
wait "$mpirun_pid"; rc=$?
mpirun_pid=""
elapsed=$(( $(date +%s) - start ))
echo "killed rank 1 (pid $victim); mpirun exited with $rc after ${elapsed}s"
survivor_rc=$(cat "$tmp/rc.0" 2>/dev/null || echo none)
[[ "$survivor_rc" != none && "$survivor_rc" -ne 0 ]] && ok "the surviving rank exits non-zero ($survivor_rc)" ||
  bad "the surviving rank exited with status $survivor_rc"
[[ $elapsed -le $((timeout_s + 30)) ]] && ok "within the timeout" || bad "took ${elapsed}s (timeout ${timeout_s}s)"
grep -E "rank 0 of 2: .* did not complete within" "$tmp/fault.out" >/dev/null &&
  ok "the survivor names its rank and the operation: $(grep -m1 -o 'ProcessGroup(mpi): rank 0 of 2: [^(]*' "$tmp/fault.out")" ||
  bad "no error naming the rank and operation: $(grep -v '^\s*$' "$tmp/fault.out" | tail -8)"

"${launch[@]}" "$bin" "${args[@]}" --resume "$tmp/ckpt" --checkpoint "$tmp/ckpt" --save "$tmp/resumed.st" \
  >"$tmp/resume.out" 2>&1 && ok "--resume completes the run" || bad "resume failed: $(tail -5 "$tmp/resume.out")"
grep -m1 "resumed from" "$tmp/resume.out"
cmp -s "$tmp/ref.st" "$tmp/resumed.st" && ok "resumed weights equal the uninterrupted run's" ||
  bad "resumed weights differ from the uninterrupted run's"
exit $fails
