#!/usr/bin/env bash
# Installs the Debian packages MagmaDNN needs to build, test and train (only those missing).
# Usage: scripts/install-deps.sh [--bench]   (--bench adds python3-torch for the PyTorch reference)
set -euo pipefail
# ocl-icd-opencl-dev: only a Recommends of libdnnl-dev, but oneDNN's CMake config requires OpenCL.
packages=(build-essential cmake pkg-config libdnnl-dev ocl-icd-opencl-dev zlib1g-dev libcli11-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist
          libopenmpi-dev openmpi-bin libsymspg-dev
          python3-onnx)  # the ONNX export tests check files with onnx.checker and a NumPy interpreter
# PyTorch is the reference for benchmarks; with OpenBLAS (not the reference BLAS) it runs at its
# documented speed.
if [[ "${1:-}" == "--bench" ]]; then packages+=(python3-torch python3-numpy libopenblas0-pthread); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
