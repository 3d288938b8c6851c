// Datasets: random access to (input, target) examples. A DataLoader draws batches from any
// Dataset; TensorDataset holds everything in two tensors and batches with one index_select.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::data {

// One sample, or a batch of them with a leading batch dimension.
struct Example {
  Tensor input;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices` stacked along a new first dimension. Override when the data can
  // be gathered faster than sample by sample.
  virtual Example get_batch(const std::vector<int64_t>& indices) const;
};

// inputs (N, ...) and targets (N, ...) with the same N; example i is (inputs[i], targets[i]).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);

  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  Example get_batch(const std::vector<int64_t>& indices) const override;

  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }
  // Replaces the inputs (e.g. after normalisation); the first dimension must stay N.
  void set_inputs(Tensor inputs);
  void set_targets(Tensor targets);

 private:
  Tensor inputs_;
  Tensor targets_;
};

// A reproducible split of `all` into (the rest, the held-out `fraction`): the last
// round(fraction * N) samples of a permutation seeded by `seed`, each part a new TensorDataset.
// Both parts must be non-empty; the error names `what` (e.g. the flag that asked for the split).
std::pair<std::shared_ptr<TensorDataset>, std::shared_ptr<TensorDataset>> random_split(
    const TensorDataset& all, double fraction, uint64_t seed, const std::string& what = "random_split");

}  // namespace magmadnn::data
