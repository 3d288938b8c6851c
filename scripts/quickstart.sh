#!/usr/bin/env bash
# The README's first command: installs what is missing, builds MagmaDNN in Release, and trains
# the default model (LeNet) on Fashion-MNIST, printing progress and the test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMAGMADNN_BUILD_TESTS=OFF -DMAGMADNN_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target magmadnn_cli
./build/magmadnn train --model "${MODEL:-lenet}" --dataset fashion-mnist --epochs "${EPOCHS:-3}" --batch-size 64 \
  --optimizer adam --lr 0.004 --scheduler onecycle --label-smoothing 0.1 --save build/"${MODEL:-lenet}".safetensors "$@"
