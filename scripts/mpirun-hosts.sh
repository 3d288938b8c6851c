#!/usr/bin/env bash
# Data-parallel training on two hosts with OpenMPI and a host file: one rank per host here, each
# using all of its cores. Run it on the first host; the second must reach it over the network
# (ssh without a password, the same paths, MagmaDNN built at the same location on both).
#   scripts/mpirun-hosts.sh node1 node2 [extra magmadnn train arguments]
set -euo pipefail
host1="${1:?usage: mpirun-hosts.sh HOST1 HOST2 [train args...]}"
host2="${2:?usage: mpirun-hosts.sh HOST1 HOST2 [train args...]}"
shift 2
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MAGMADNN_BIN:-$repo/build/magmadnn}"
threads="${THREADS:-$(nproc)}"   # OpenMP threads per rank

# The host file: one line per host, "slots" = ranks OpenMPI may start there.
hostfile="$(mktemp)"
trap 'rm -f "$hostfile"' EXIT
printf '%s slots=1\n%s slots=1\n' "$host1" "$host2" >"$hostfile"

# -np 2 --map-by node: one rank per host.  -x passes environment variables to the remote ranks.
# --mca btl_tcp_if_include / oob_tcp_if_include pick the network (e.g. eth0 or 10.0.0.0/24)
# when hosts have several interfaces.  --enable-recovery lets a surviving rank report which
# collective failed when a peer dies (it then exits non-zero after --dist-timeout seconds)
# instead of mpirun killing it straight away.
# --batch-size is the global batch: each of the 2 ranks trains on half of it (its shard of
# every epoch's permutation); rank 0 prints, evaluates and writes --save and --checkpoint.
exec mpirun -np 2 --hostfile "$hostfile" --map-by node \
  -x OMP_NUM_THREADS="$threads" -x OMP_WAIT_POLICY=PASSIVE \
  ${IFACE:+--mca btl_tcp_if_include "$IFACE" --mca oob_tcp_if_include "$IFACE"} \
  --enable-recovery \
  "$bin" train --distributed ddp --model lenet --epochs 5 --batch-size 128 --optimizer sgd --lr 0.05 \
  --threads "$threads" --dist-timeout 120 \
  --checkpoint lenet.ckpt --checkpoint-every 200 --save lenet.safetensors "$@"
# After a failure, rerun with `--resume lenet.ckpt` (same arguments) to continue where it stopped.
