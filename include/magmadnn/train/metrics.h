// Classification metrics beyond accuracy: a confusion matrix with per-class precision, recall and
// F1 and their macro averages (as sklearn.metrics computes them), and a text report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"
#include "magmadnn/data/dataloader.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::train {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes);

  // Adds a batch: (N, C) logits (or scores; the prediction is the argmax) and (N,) int64 targets
  // in [0, C), on any device (the predictions and targets are read back to the host).
  void add(const Tensor& logits, const Tensor& target);

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

// The confusion matrix of `model` over `loader`: evaluate() with a ConfusionMatrix (eval mode, no
// gradients, batches on the model's device). To get loss and accuracy in the same pass, call
// evaluate(model, loader, loss, &matrix) instead.
ConfusionMatrix confusion_matrix(nn::Module& model, data::DataLoader& loader, int64_t num_classes);

}  // namespace magmadnn::train
