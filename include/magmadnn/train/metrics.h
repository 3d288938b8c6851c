// Metrics beyond loss and accuracy, counted batch by batch in evaluate()'s pass (BatchMetric):
// for classes a confusion matrix with per-class precision, recall and F1 and their macro averages,
// for a regression MAE, RMSE and R^2 per target (as sklearn.metrics computes them); text reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"
#include "magmadnn/data/dataloader.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::train {

// What evaluate() feeds each batch's model output and target to.
class BatchMetric {
 public:
  virtual ~BatchMetric() = default;
  virtual void add(const Tensor& output, const Tensor& target) = 0;
};

class ConfusionMatrix : public BatchMetric {
 public:
  explicit ConfusionMatrix(int64_t num_classes);

  // Adds a batch: (N, C) logits (or scores; the prediction is the argmax) and (N,) int64 targets
  // in [0, C), on any device (the predictions and targets are read back to the host).
  void add(const Tensor& logits, const Tensor& target) override;

  int64_t num_classes() const { return classes_; }
  int64_t count(int64_t truth, int64_t predicted) const { return counts_[truth * classes_ + predicted]; }
  int64_t total() const { return total_; }
  int64_t support(int64_t c) const;    // samples whose true class is c
  int64_t predicted(int64_t c) const;  // samples predicted as c
  double accuracy() const;
  // NaN where undefined: precision of a class never predicted, recall of a class without samples.
  double precision(int64_t c) const;
  double recall(int64_t c) const;
  double f1(int64_t c) const;  // 0 where precision + recall is 0, NaN where either is NaN
  // Unweighted means over the classes with samples (undefined values left out).
  double macro_precision() const;
  double macro_recall() const;
  double macro_f1() const;

  // Per-class precision / recall / F1 / support, the macro averages, and the matrix itself (rows:
  // true class, columns: predicted). `names` label the classes (their indices when empty).
  std::string report(const std::vector<std::string>& names = {}) const;

 private:
  int64_t classes_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

class RegressionMetrics : public BatchMetric {
 public:
  explicit RegressionMetrics(int64_t num_targets);

  // Adds a batch: (N, K) predictions and targets of the same shape (float32 or float64, any device;
  // read back to the host and summed in float64).
  void add(const Tensor& prediction, const Tensor& target) override;
  int64_t num_targets() const { return targets_; }
  int64_t samples() const { return samples_; }
  // Target k: mean absolute error, root mean squared error, and R^2 = 1 - SSE / SST with SST the
  // spread of the targets about their own mean (NaN for a constant target).
  double mae(int64_t k) const;
  double rmse(int64_t k) const;
  double r2(int64_t k) const;
  // Over all targets: MAE and RMSE of every value, R^2 averaged over the targets (sklearn's
  // "uniform_average").
  double mae() const;
  double rmse() const;
  double r2() const;
  // One row per target (named by `names`, else y0, y1, ...) and the overall row.
  std::string report(const std::vector<std::string>& names = {}) const;

 private:
  int64_t targets_, samples_ = 0;
  std::vector<double> abs_sum_, sq_sum_, target_sum_, target_sq_sum_;
};

// The confusion matrix of `model` over `loader`: evaluate() with a ConfusionMatrix (eval mode, no
// gradients, batches on the model's device). To get loss and accuracy in the same pass, call
// evaluate(model, loader, loss, &matrix) instead.
ConfusionMatrix confusion_matrix(nn::Module& model, data::DataLoader& loader, int64_t num_classes);

}  // namespace magmadnn::train
