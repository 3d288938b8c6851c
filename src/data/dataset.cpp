// Dataset::get_batch by stacking, TensorDataset and random_split (see data/dataset.h).
#include "magmadnn/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::data {

Example Dataset::get_batch(const std::vector<int64_t>& indices) const {
  MAGMADNN_CHECK(!indices.empty(), "Dataset::get_batch: empty list of indices");
  autograd::NoGradGuard no_grad;
  std::vector<Tensor> inputs, targets;
  inputs.reserve(indices.size());
  targets.reserve(indices.size());
  for (int64_t i : indices) {
    Example e = get(i);
    inputs.push_back(std::move(e.input));
    targets.push_back(std::move(e.target));
  }
  Example batch;
  batch.input = stack(inputs, 0);
  if (targets.front().defined()) batch.target = stack(targets, 0);
  return batch;
}

namespace {
void check_pair(const Tensor& inputs, const Tensor& targets) {
  MAGMADNN_CHECK(inputs.defined(), "TensorDataset: inputs are undefined");
  MAGMADNN_CHECK(targets.defined(), "TensorDataset: targets are undefined");
  MAGMADNN_CHECK(inputs.dim() >= 1, "TensorDataset: inputs need a leading sample dimension, got shape ",
                 inputs.shape());
  MAGMADNN_CHECK(targets.dim() >= 1, "TensorDataset: targets need a leading sample dimension, got shape ",
                 targets.shape());
  MAGMADNN_CHECK(inputs.size(0) == targets.size(0), "TensorDataset: inputs of shape ", inputs.shape(),
                 " and targets of shape ", targets.shape(), " differ in their first dimension");
}
}  // namespace

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  check_pair(inputs_, targets_);
}

void TensorDataset::set_inputs(Tensor inputs) {
  check_pair(inputs, targets_);
  inputs_ = std::move(inputs);
}

void TensorDataset::set_targets(Tensor targets) {
  check_pair(inputs_, targets);
  targets_ = std::move(targets);
}

Example TensorDataset::get(int64_t index) const {
  MAGMADNN_CHECK(index >= 0 && index < size(), "TensorDataset::get: index ", index, " is out of range for ",
                 size(), " examples");
  return {inputs_.select(0, index), targets_.select(0, index)};
}

Example TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  MAGMADNN_CHECK(!indices.empty(), "TensorDataset::get_batch: empty list of indices");
  const int64_t n = size();
  for (int64_t i : indices)
    MAGMADNN_CHECK(i >= 0 && i < n, "TensorDataset::get_batch: index ", i, " is out of range for ", n,
                   " examples");
  autograd::NoGradGuard no_grad;
  Tensor index = from_vector<int64_t>(indices, {static_cast<int64_t>(indices.size())}, inputs_.device());
  Tensor tindex = targets_.device() == inputs_.device() ? index : index.to(targets_.device());
  return {index_select(inputs_, 0, index), index_select(targets_, 0, tindex)};
}

std::pair<std::shared_ptr<TensorDataset>, std::shared_ptr<TensorDataset>> random_split(
    const TensorDataset& all, double fraction, uint64_t seed, const std::string& what) {
  const int64_t n = all.size(), held = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
  MAGMADNN_CHECK(std::isfinite(fraction) && held >= 1 && held < n, what, " ", fraction, " of ", n,
                 " samples leaves no training or no held-out sample");
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ 0x5eed5eedULL);
  std::shuffle(order.begin(), order.end(), rng);
  const auto take = [&](int64_t begin, int64_t end) {
    const Tensor idx = from_vector<int64_t>(std::vector<int64_t>(order.begin() + begin, order.begin() + end), {end - begin});
    return std::make_shared<TensorDataset>(index_select(all.inputs(), 0, idx), index_select(all.targets(), 0, idx));
  };
  return {take(0, n - held), take(n - held, n)};
}

}  // namespace magmadnn::data
