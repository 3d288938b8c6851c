#!/usr/bin/env bash
# End-to-end checks of `magmadnn ising generate`: data sets in both forms (folder of .npy files,
# .npz stored or compressed) with the expected NumPy headers and sizes, determinism for a seed,
# edge-list graphs, and one clear error with a non-zero exit for each bad flag or value.
# Usage: ising_generate_check.sh path/to/magmadnn
set -uo pipefail
bin="$1"
source "$(dirname "$0")/check_lib.sh"

# expect_npy NAME FILE HEADER_SUBSTRING BYTES : a .npy file whose header holds the substring.
expect_npy() {
  local name="$1" file="$2" want="$3" size="$4"
  if [[ -f "$file" ]] && head -c 128 "$file" | grep -qF -- "$want" && [[ $(stat -c %s "$file") -eq $size ]]; then
    ok "$name"
  else bad "$name: $(head -c 128 "$file" 2>&1 | tr -d '\0') ($(stat -c %s "$file" 2>&1) bytes, want $size)"; fi
}

# Uniform spins on the default 8x8 lattice, as a folder: spins (200, 8, 8) int8 and energies.
expect_run "uniform folder" "$bin" ising generate --samples 200 --seed 1 --out "$tmp/u"
grep -q "samples/s" "$tmp/out" && ok "prints samples/s" || bad "prints samples/s: $(cat "$tmp/out")"
expect_npy "spins.npy" "$tmp/u/spins.npy" "'descr': '|i1', 'fortran_order': False, 'shape': (200, 8, 8)" $((128 + 200 * 64))
expect_npy "energies.npy" "$tmp/u/energies.npy" "'descr': '<f8', 'fortran_order': False, 'shape': (200,)" $((128 + 200 * 8))
[[ ! -e "$tmp/u/edges.npy" ]] && ok "default lattice has no edges.npy" || bad "default lattice wrote edges.npy"

# Same seed, same bytes.
expect_run "uniform folder again" "$bin" ising generate --samples 200 --seed 1 --out "$tmp/u2"
cmp -s "$tmp/u/spins.npy" "$tmp/u2/spins.npy" && ok "deterministic for a seed" || bad "two runs with --seed 1 differ"

# Metropolis into .npz, stored and compressed.
for c in "" "--compress"; do
  expect_run "metropolis npz $c" "$bin" ising generate --sampler metropolis --temperatures 1.0:5.0:1.0 \
    --burn-in 50 --samples 500 --out "$tmp/m$c.npz" $c
  if head -c 2 "$tmp/m$c.npz" | grep -q PK && grep -qa "spins.npy" "$tmp/m$c.npz" && grep -qa "temperatures.npy" "$tmp/m$c.npz"; then
    ok "npz entries $c"
  else bad "npz entries $c"; fi
done
[[ $(stat -c %s "$tmp/m--compress.npz") -lt $(stat -c %s "$tmp/m.npz") ]] && ok "compressed is smaller" \
  || bad "compressed archive is not smaller"

# Triangular lattice with random couplings: the graph is stored; its edges feed --edges.
expect_run "triangular folder" "$bin" ising generate --lattice triangular --size 4 --coupling random \
  --sampler metropolis --temperatures 2.0,3.0 --burn-in 20 --samples 100 --out "$tmp/t"
expect_npy "triangular spins" "$tmp/t/spins.npy" "'shape': (100, 16)" $((128 + 100 * 16))
expect_npy "triangular edges" "$tmp/t/edges.npy" "'descr': '<i8', 'fortran_order': False, 'shape': (48, 2)" $((128 + 48 * 16))
expect_npy "triangular couplings" "$tmp/t/couplings.npy" "'shape': (48,)" $((128 + 48 * 8))
expect_run "edge-list graph" "$bin" ising generate --edges "$tmp/t/edges.npy" --nodes 16 --samples 10 --out "$tmp/g.npz"

# Bad flags and values.
expect_error "unknown lattice" "--lattice" "$bin" ising generate --lattice hexagonal --out "$tmp/x"
expect_error "size too small" "--size" "$bin" ising generate --size 1 --out "$tmp/x"
expect_error "no --out" "--out is required" "$bin" ising generate
expect_error "edges without nodes" "--nodes" "$bin" ising generate --edges "$tmp/t/edges.npy" --out "$tmp/x"
expect_error "edges and lattice" "excludes" "$bin" ising generate --edges "$tmp/t/edges.npy" --nodes 16 --size 4 --out "$tmp/x"
expect_error "edges out of range" "names a node outside [0, 10)" "$bin" ising generate --edges "$tmp/t/edges.npy" --nodes 10 --out "$tmp/x"
expect_error "edges of the wrong dtype" "expected an int64 or int32 array of shape (E, 2)" \
  "$bin" ising generate --edges "$tmp/u/spins.npy" --nodes 64 --out "$tmp/x"
expect_error "bad temperatures" "temperatures '1:x:2'" "$bin" ising generate --sampler metropolis --temperatures 1:x:2 --out "$tmp/x"
expect_error "bad sampler" "--sampler" "$bin" ising generate --sampler gibbs --out "$tmp/x"
expect_error "zero sweeps" "--sweeps-between" "$bin" ising generate --sweeps-between 0 --out "$tmp/x"
expect_error "compress a folder" "--compress applies to a .npz output" "$bin" ising generate --compress --out "$tmp/x"
expect_error "j range" "--j-min 2 is above --j-max 1" "$bin" ising generate --coupling random --j-min 2 --j-max 1 --out "$tmp/x"

finish
