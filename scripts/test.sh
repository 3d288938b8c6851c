#!/usr/bin/env bash
# The README's second command (and what CI runs): installs what is missing, builds everything
# in Release and runs the whole test suite, then builds the test suite with ASan+UBSan and
# runs it again. Fails when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

echo "== Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== ASan+UBSan build and tests"
scripts/sanitize.sh
