// Helpers shared by the file data sets (see data/user_dataset.h).
#include "magmadnn/data/user_dataset.h"

#include <cmath>

namespace magmadnn::data {

int64_t first_non_finite_sample(const Tensor& x) {
  const Tensor c = x.contiguous();
  const float* p = c.data<float>();
  const int64_t n = c.size(0), per = n ? c.numel() / n : 0;
  for (int64_t i = 0; i < n * per; ++i)
    if (!std::isfinite(p[i])) return i / per;
  return -1;
}

Normalize fit_normalize(const Tensor& inputs) {
  MAGMADNN_CHECK(inputs.dim() >= 2 && inputs.numel() > 0, "fit_normalize: expected samples (N, C, ...), got shape ",
                 inputs.shape());
  const Tensor x = inputs.cpu().contiguous().to(kFloat64);
  const int64_t n = x.size(0), channels = x.size(1), inner = x.numel() / (n * channels);
  const double* p = x.data<double>();
  std::vector<double> mean(channels, 0.0), sd(channels, 0.0);
  const double count = static_cast<double>(n * inner);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) sum += p[(i * channels + c) * inner + j];
    mean[c] = sum / count;
    double sq = 0;  // two passes: no cancellation for large offsets
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        const double dev = p[(i * channels + c) * inner + j] - mean[c];
        sq += dev * dev;
      }
    sd[c] = std::sqrt(sq / count);
    if (!(sd[c] > 0) || !std::isfinite(sd[c])) sd[c] = 1.0;
  }
  return Normalize(std::move(mean), std::move(sd));
}

}  // namespace magmadnn::data
