// Inference fusion; see nn/fusion.h. Sequential's pattern matching lives here too, beside the
// folding it applies.
#include "magmadnn/nn/fusion.h"

#include <cmath>

#include "magmadnn/nn/activation.h"
#include "magmadnn/nn/sequential.h"
#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

void fold_batch_norm(Conv2d& conv, BatchNormBase& bn) {
  const int64_t out = conv.options().out_channels();
  MAGMADNN_CHECK(bn.options().num_features() == out, "fold_batch_norm: ", bn.name(), " does not follow ",
                 conv.name(), " (", bn.options().num_features(), " features, ", out, " channels)");
  MAGMADNN_CHECK(bn.options().track_running_stats(), "fold_batch_norm: ", bn.name(),
                 " has no running statistics to fold");
  NoGradGuard no_grad;
  Tensor& w = conv.weight();
  Tensor& b = conv.ensure_bias();
  // scale = gamma / sqrt(var + eps), per output channel.
  Tensor scale = div(bn.weight().defined() ? bn.weight() : ones({out}, w.dtype(), w.device()),
                     sqrt(add(bn.running_var(), bn.options().eps())));
  Tensor shift = bn.bias().defined() ? bn.bias() : zeros({out}, w.dtype(), w.device());
  Tensor new_w = mul(w, scale.reshape({out, 1, 1, 1}));
  Tensor new_b = add(mul(sub(b, bn.running_mean()), scale), shift);
  w.copy_(new_w);
  b.copy_(new_b);
}

void fuse_for_inference(Module& model) {
  model.eval();
  model.fuse_for_inference();
}

void Sequential::fuse_for_inference() {
  Module::fuse_for_inference();
  for (size_t i = 0; i < modules_.size(); ++i) {
    auto conv = std::dynamic_pointer_cast<Conv2d>(modules_[i]);
    if (!conv) continue;
    size_t next = i + 1;
    if (next < modules_.size()) {
      if (auto bn = std::dynamic_pointer_cast<BatchNorm2d>(modules_[next])) {
        fold_batch_norm(*conv, *bn);
        modules_[next] = std::make_shared<Identity>();
        replace_module(std::to_string(next), modules_[next]);
        ++next;
      }
    }
    if (next < modules_.size() && std::dynamic_pointer_cast<ReLU>(modules_[next])) {
      conv->set_fused_relu(true);
      modules_[next] = std::make_shared<Identity>();
      replace_module(std::to_string(next), modules_[next]);
    }
  }
}

}  // namespace magmadnn::nn
