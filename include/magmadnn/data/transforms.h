// Transforms of data batches. Normalize works per channel on (N, C, ...) batches, as
// torchvision's Normalize does per sample; normalize_inplace applies it once to a whole
// TensorDataset so training does not pay for it every epoch.
#pragma once

#include <functional>
#include <vector>

#include "magmadnn/data/dataset.h"

namespace magmadnn::data {

// out[n, c, ...] = (x[n, c, ...] - mean[c]) / std[c]. One value of mean/std applies to every
// channel. Floating tensors only; the result is a new tensor of the input's dtype.
struct Normalize {
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& batch) const;
  // As a DataLoader transform: normalises the input, keeps the target.
  std::function<Example(Example)> as_transform() const;

  std::vector<double> mean;
  std::vector<double> std;
};

// Replaces the dataset's inputs by transform(inputs), in one pass over the whole tensor.
void transform_inputs(TensorDataset& dataset, const std::function<Tensor(const Tensor&)>& transform);
inline void normalize_inplace(TensorDataset& dataset, const Normalize& normalize) {
  transform_inputs(dataset, [&](const Tensor& x) { return normalize(x); });
}

}  // namespace magmadnn::data
