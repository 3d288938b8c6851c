// Data sets users bring as NumPy archives, in the layout of Keras's data set files:
//   np.savez("data.npz", x_train=X, y_train=y, x_test=Xt, y_test=yt)
// Inputs of any numeric dtype become float32 (N, C, H, W):
//   (N,) -> (N, 1, 1, 1)   one feature        (N, F) -> (N, F, 1, 1)   F features (tabular data)
//   (N, H, W) -> (N, 1, H, W)   one-channel images      (N, C, H, W) as it is
// The targets decide the task: integer labels (N,) make a classification into 0..K-1, where K is
// the largest label of either split plus one; floating targets (N,) or (N, K) make a regression
// of K values per sample (int64 (N,) and float32 (N, K) target tensors).
#pragma once

#include <string>

#include "magmadnn/data/user_dataset.h"

namespace magmadnn::data {

// Reads and checks the archive. Every problem (a missing array, sample counts that differ, inputs
// of other shapes in the two splits, NaN or infinite values, negative labels, unsupported ranks or
// dtypes) throws one line "load_npz_dataset: <path>: <what>", naming the array and the sample.
UserDataset load_npz_dataset(const std::string& path);

// The (N, C, H, W) float32 form of an input array as described above; `what` names it in errors.
Tensor npz_inputs_as_nchw(const Tensor& x, const std::string& what);

}  // namespace magmadnn::data
