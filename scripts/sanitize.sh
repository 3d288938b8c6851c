#!/usr/bin/env bash
# Builds the test suite with AddressSanitizer + UndefinedBehaviorSanitizer (Debug, -O1) in
# build-asan and runs it. Any sanitizer report fails the run. CPU only: ASan and the CUDA runtime
# do not mix (MAGMADNN_WITH_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAGMADNN_SANITIZE=ON -DMAGMADNN_BUILD_BENCH=OFF -DMAGMADNN_WITH_CUDA=OFF \
      -DMAGMADNN_BUILD_APPS=OFF -DCMAKE_CXX_FLAGS="-O1" >/dev/null
cmake --build build-asan -j"$(nproc)"
# OpenMP's runtime keeps thread-local storage alive at exit; that is not our leak.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
