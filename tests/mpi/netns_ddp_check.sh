#!/usr/bin/env bash
# Two DDP ranks in separate network namespaces joined by a veth pair (10.77.<n>.1 and .2),
# launched as on two hosts (host file + a launch agent in place of ssh), so their traffic crosses
# a real network interface: OpenMPI is limited to the TCP transport on that subnet. The weights must equal those of the same run over shared memory,
# and the veth counters must show the traffic. Exits 77 (CTest: skipped) with a message where
# namespaces or veth pairs cannot be made (not root, no CAP_NET_ADMIN, no `ip`).
# Usage: netns_ddp_check.sh path/to/magmadnn path/to/mpiexec
set -uo pipefail
bin="$(readlink -f "$1")" mpiexec="${2:-mpirun}"
here="$(cd "$(dirname "$0")" && pwd)"
skip() { echo "SKIP: $*"; exit 77; }
command -v ip >/dev/null || skip "the ip tool (iproute2) is not installed"
[[ $(id -u) -eq 0 ]] || skip "network namespaces need root (CAP_SYS_ADMIN/CAP_NET_ADMIN)"
tag="mdnn$$"
ns0="${tag}a" ns1="${tag}b" subnet="10.77.$(( $$ % 200 + 20 ))"
tmp=$(mktemp -d)
cleanup() { ip netns del "$ns0" 2>/dev/null; ip netns del "$ns1" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "$ns0" 2>"$tmp/err" || skip "cannot create a network namespace: $(cat "$tmp/err")"
ip netns add "$ns1" 2>"$tmp/err" || skip "cannot create a network namespace: $(cat "$tmp/err")"
ip link add "${tag}0" type veth peer name "${tag}1" 2>"$tmp/err" || skip "cannot create a veth pair: $(cat "$tmp/err")"
ip link set "${tag}0" netns "$ns0" && ip link set "${tag}1" netns "$ns1" &&
  ip -n "$ns0" addr add "$subnet.1/24" dev "${tag}0" && ip -n "$ns1" addr add "$subnet.2/24" dev "${tag}1" &&
  ip -n "$ns0" link set lo up && ip -n "$ns1" link set lo up &&
  ip -n "$ns0" link set "${tag}0" up && ip -n "$ns1" link set "${tag}1" up || skip "cannot configure the veth pair"

# A two-"host" launch with a host file, as on a cluster: mpirun runs in the first namespace
# (host $subnet.1, rank 0), and starts the daemon of host $subnet.2 through a launch agent that
# stands in for ssh: it enters the second namespace (with its own hostname) and runs the
# daemon's command line there. OpenMPI's out-of-band and TCP byte-transfer traffic is limited
# to the veth subnet.
cat >"$tmp/agent.sh" <<AGENT
#!/usr/bin/env bash
host="\$1"; shift
case "\$host" in
  $subnet.1) ns="$ns0" name="${tag}-host0" ;;
  $subnet.2) ns="$ns1" name="${tag}-host1" ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$name; \$*"
AGENT
chmod +x "$tmp/agent.sh"
printf '%s slots=1\n%s slots=1\n' "$subnet.1" "$subnet.2" >"$tmp/hosts"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
ip netns exec "$ns1" unshare --uts true 2>"$tmp/err" || skip "cannot enter the namespace with its own hostname: $(cat "$tmp/err")"

python3 "$here/../cli/make_idx.py" "$tmp/data" 640 200 || { echo "FAIL: cannot generate IDX files"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
args=(train --data-dir "$tmp/data" --model mlp --epochs 1 --batch-size 64 --max-batches 8 --seed 2 --progress none
      --distributed ddp --dist-timeout 60)
"$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$bin" "${args[@]}" --save "$tmp/shm.st" >"$tmp/shm.out" 2>&1 ||
  { echo "FAIL: ddp over shared memory: $(tail -5 "$tmp/shm.out")"; exit 1; }
before=$(ip -n "$ns0" -s link show "${tag}0" | awk '/TX:/{getline; print $1}')
if ! timeout 180 ip netns exec "$ns0" "$mpiexec" --allow-run-as-root -np 2 --hostfile "$tmp/hosts" \
     --mca plm_rsh_agent "$tmp/agent.sh" --mca plm_rsh_no_tree_spawn 1 --mca btl tcp,self \
     --mca btl_tcp_if_include "$subnet.0/24" --mca oob_tcp_if_include "$subnet.0/24" \
     "$bin" "${args[@]}" --save "$tmp/veth.st" >"$tmp/veth.out" 2>&1; then
  echo "FAIL: ddp across the veth pair: $(grep -v '^\s*$' "$tmp/veth.out" | head -30)"; exit 1
fi
after=$(ip -n "$ns0" -s link show "${tag}0" | awk '/TX:/{getline; print $1}')
sent=$((after - before))
echo "rank 0 sent $sent bytes over ${tag}0 ($subnet.1 -> $subnet.2)"
fails=0
[[ $sent -gt 100000 ]] && echo "ok: the gradients crossed the veth pair" || { echo "FAIL: only $sent bytes on the veth"; fails=1; }
cmp -s "$tmp/shm.st" "$tmp/veth.st" && echo "ok: weights equal the shared-memory run's" ||
  { echo "FAIL: weights differ from the shared-memory run's"; fails=1; }
exit $fails
