#!/usr/bin/env bash
# GPU check for the CUDA backend (issue 4): runs the CUDA test suite on a machine with an NVIDIA
# GPU and ends with a short table. Two halves, because the GPU machine lacks oneDNN and MPI:
#
#   scripts/gpu-check.sh --pack DIR      on the build machine (oneDNN, CUDA toolkit, cuDNN here):
#                                        builds magmadnn + the CUDA tests with CUDA on and MPI off in
#                                        build-gpu-check, copies the binaries to DIR/bin and the
#                                        shared libraries a GPU box lacks (oneDNN, libgomp) to DIR/lib.
#   scripts/gpu-check.sh --prebuilt DIR  on the GPU machine: runs DIR/bin/* with LD_LIBRARY_PATH =
#                                        DIR/lib + the pip wheels' site-packages/nvidia/*/lib (cuDNN,
#                                        cuBLAS, NCCL, ... as shipped with PyTorch) + /usr/local/cuda.
#   scripts/gpu-check.sh                 builds in build-gpu-check (needs oneDNN) and runs in place.
#
# Assumptions: the driver supports the CUDA runtime the binaries were built with (CUDA 13 needs
# driver >= 580); libcudart/libcublas/libcusparse of that major version are found in the toolkit
# or the wheels (`ldd` lines "not found" are printed when not); python3 is on PATH (only to find
# site-packages). DIR must stay under the carry limit (~50 MB: oneDNN is ~40 MB). Exit status is
# non-zero when a test fails or no GPU is seen.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=build dir=""
case "${1:-}" in
  --pack) mode=pack dir="${2:?--pack DIR}" ;;
  --prebuilt) mode=prebuilt dir="${2:?--prebuilt DIR}" ;;
  "") ;;
  *) echo "usage: $0 [--pack DIR | --prebuilt DIR]" >&2; exit 2 ;;
esac
targets=(magmadnn_cli cuda_test_cuda_backend)

build() {
  cmake -S . -B build-gpu-check -DCMAKE_BUILD_TYPE=Release -DMAGMADNN_BUILD_BENCH=OFF -DMAGMADNN_WITH_CUDA=ON \
        -DMAGMADNN_WITH_MPI=OFF -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON >/dev/null || exit 1
  cmake --build build-gpu-check -j"$(nproc)" --target "${targets[@]}" >/dev/null || exit 1
}

if [ "$mode" = pack ]; then
  build
  mkdir -p "$dir/bin" "$dir/lib"
  cp build-gpu-check/magmadnn build-gpu-check/tests/cuda_test_cuda_backend "$dir/bin/"
  strip "$dir"/bin/* 2>/dev/null || true
  # Libraries outside the CUDA toolkit that a PyTorch GPU image may lack (libc & co. it has).
  for lib in $(ldd "$dir"/bin/* | awk '/=> \// {print $3}' | sort -u | grep -E 'libdnnl|libgomp|libz\.'); do
    cp -L "$lib" "$dir/lib/"
  done
  du -sh "$dir"
  exit 0
fi

if [ "$mode" = prebuilt ]; then
  bin="$dir/bin"
  cli="$bin/magmadnn" test_bin="$bin/cuda_test_cuda_backend"
  libpath="$(cd "$dir/lib" 2>/dev/null && pwd)"
else
  build
  cli=build-gpu-check/magmadnn test_bin=build-gpu-check/tests/cuda_test_cuda_backend libpath=""
fi

# Wheel libraries (nvidia-cudnn-cu*, nvidia-cublas-cu*, nvidia-nccl-cu*, ...) under site-packages.
for sp in $(python3 -c 'import site,sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
  for d in "$sp"/nvidia/*/lib; do [ -d "$d" ] && libpath="$libpath:$d"; done
done
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do [ -d "$d" ] && libpath="$libpath:$d"; done
export LD_LIBRARY_PATH="${libpath#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

missing=$(ldd "$cli" "$test_bin" 2>/dev/null | grep "not found" | awk '{print $1}' | sort -u | tr '\n' ' ')
[ -n "$missing" ] && echo "missing shared libraries: $missing"

echo "== magmadnn info"
"$cli" info
echo "== CUDA tests"
log=$(mktemp)
start=$(date +%s)
"$test_bin" 2>&1 | tee "$log" | grep -E '^\[  FAILED  \]|^\[  PASSED  \]|^\[  SKIPPED \] [0-9]+ test|Failure' | head -40
status=${PIPESTATUS[0]}
secs=$(( $(date +%s) - start ))
passed=$(grep -oP '^\[  PASSED  \] \K[0-9]+' "$log" | tail -1)
failed=$(grep -oP '^\[  FAILED  \] \K[0-9]+(?= test)' "$log" | tail -1)
skipped=$(grep -oP '^\[  SKIPPED \] \K[0-9]+(?= test)' "$log" | tail -1)
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)

echo
echo "| item | value |"
echo "|---|---|"
echo "| GPU (name, driver, memory) | ${gpu:-none seen by nvidia-smi} |"
echo "| CUDA tests passed | ${passed:-0} |"
echo "| CUDA tests failed | ${failed:-0} |"
echo "| CUDA tests skipped | ${skipped:-0} |"
echo "| test time | ${secs} s |"
echo "| missing libraries | ${missing:-none} |"
rm -f "$log"
[ "$status" -eq 0 ] && [ -n "$gpu" ] && [ "${skipped:-0}" = 0 ]
