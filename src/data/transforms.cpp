// Normalize and transform_inputs (see data/transforms.h). Normalize runs as one loop over
// contiguous data on the CPU and falls back to broadcasting ops on other devices.
#include "magmadnn/data/transforms.h"

#include <cmath>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::data {

namespace {
std::string list_str(const std::vector<double>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << "]";
  return os.str();
}
}  // namespace

Normalize::Normalize(std::vector<double> mean_in, std::vector<double> std_in)
    : mean(std::move(mean_in)), std(std::move(std_in)) {
  MAGMADNN_CHECK(!mean.empty() && mean.size() == std.size(), "Normalize: mean ", list_str(mean), " and std ",
                 list_str(std), " must be non-empty and of the same length");
  for (double s : std)
    MAGMADNN_CHECK(std::isfinite(s) && s != 0.0, "Normalize: std ", list_str(std),
                   " contains zero or a non-finite value");
  for (double m : mean)
    MAGMADNN_CHECK(std::isfinite(m), "Normalize: mean ", list_str(mean), " is not finite");
}

Tensor Normalize::operator()(const Tensor& batch) const {
  MAGMADNN_CHECK(batch.defined(), "Normalize: undefined input");
  MAGMADNN_CHECK(is_floating(batch.dtype()), "Normalize: expected a float32 or float64 batch, got ",
                 batch.dtype(), " of shape ", batch.shape());
  MAGMADNN_CHECK(batch.dim() >= 2, "Normalize: expected a batch (N, C, ...), got shape ", batch.shape());
  const int64_t channels = batch.size(1);
  MAGMADNN_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == channels,
                 "Normalize: ", mean.size(), " mean/std values for a batch of shape ", batch.shape(),
                 " with ", channels, " channels");
  autograd::NoGradGuard no_grad;
  if (!batch.device().is_cpu()) {
    std::vector<double> m(channels), sd(channels);
    for (int64_t c = 0; c < channels; ++c) {
      m[c] = mean.size() == 1 ? mean[0] : mean[c];
      sd[c] = std.size() == 1 ? std[0] : std[c];
    }
    Shape cshape({channels});
    for (int64_t d = 2; d < batch.dim(); ++d) cshape.push_back(1);
    const Tensor tm = from_vector<double>(m, cshape).to(batch.dtype()).to(batch.device());
    const Tensor ts = from_vector<double>(sd, cshape).to(batch.dtype()).to(batch.device());
    return div(sub(batch, tm), ts);
  }
  const Tensor x = batch.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.size(0);
  const int64_t inner = channels == 0 ? 0 : x.numel() / (n * channels);
  dispatch_float(x.dtype(), "Normalize", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for collapse(2) if (x.numel() > (1 << 18))
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < channels; ++c) {
        const size_t k = mean.size() == 1 ? 0 : static_cast<size_t>(c);
        const scalar_t m = static_cast<scalar_t>(mean[k]);
        const scalar_t s = static_cast<scalar_t>(std[k]);
        const int64_t base = (i * channels + c) * inner;
        // Divide (not multiply by 1/std) so values match torchvision's Normalize bit for bit.
        for (int64_t j = 0; j < inner; ++j) po[base + j] = (px[base + j] - m) / s;
      }
  });
  return out;
}

std::function<Example(Example)> Normalize::as_transform() const {
  return [self = *this](Example e) {
    e.input = self(e.input);
    return e;
  };
}

void transform_inputs(TensorDataset& dataset, const std::function<Tensor(const Tensor&)>& transform) {
  autograd::NoGradGuard no_grad;
  dataset.set_inputs(transform(dataset.inputs()));
}

}  // namespace magmadnn::data
