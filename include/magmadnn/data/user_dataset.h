// Data sets users bring in files (data/npz_dataset.h: NumPy archives; data/csv_dataset.h: CSV
// tables), in one form: train and test splits of float32 (N, C, H, W) inputs, and int64 class
// labels (N,) or float32 regression targets (N, K).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "magmadnn/data/dataset.h"
#include "magmadnn/data/transforms.h"

namespace magmadnn::data {

enum class Task { Classification, Regression };

struct UserDataset {
  std::shared_ptr<TensorDataset> train, test;  // raw (unnormalised) inputs
  Task task = Task::Classification;
  int64_t num_outputs = 0;                // classes, or regression targets per sample
  Shape sample_shape;                     // (C, H, W) of one input
  std::vector<std::string> class_names;   // in label order; empty where labels are plain numbers 0..K-1
  std::vector<std::string> feature_names; // a table's feature columns, in input order (else empty)
  std::vector<std::string> target_names;  // a table's target columns (else empty)
};

// The first sample of a float32 CPU tensor (N, ...) holding a NaN or infinite value, or -1.
int64_t first_non_finite_sample(const Tensor& x);

// Normalisation by the per-channel mean and standard deviation of `inputs` (N, C, ...), summed in
// float64; a constant channel gets std 1 (it is only shifted to 0).
Normalize fit_normalize(const Tensor& inputs);

}  // namespace magmadnn::data
