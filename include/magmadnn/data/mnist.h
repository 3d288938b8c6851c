// MNIST and Fashion-MNIST from their IDX files. The Debian package dataset-fashion-mnist installs
// the gzipped files in /usr/share/datasets/fashion-mnist (kFashionMnistDir).
#pragma once

#include <memory>
#include <string>

#include "magmadnn/data/dataset.h"

namespace magmadnn::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// Per-pixel statistics of the Fashion-MNIST training images scaled to [0, 1] (for Normalize).
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;
inline constexpr double kMnistMean = 0.1307;
inline constexpr double kMnistStd = 0.3081;

// The training (60k) or test (10k) split in `dir`: {train,t10k}-images-idx3-ubyte and
// {train,t10k}-labels-idx1-ubyte, gzipped (.gz) or raw. Inputs are float32 (N, 1, H, W) in
// [0, 1] (pixel / 255); targets are int64 (N) class indices in [0, 10).
std::shared_ptr<TensorDataset> load_mnist(const std::string& dir, bool train);

}  // namespace magmadnn::data
