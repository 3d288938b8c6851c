// optim::RMSprop: argument checks and one call of the backend's fused rmsprop_step_group per
// parameter group; the momentum and centering buffers exist only when those options are on.
#include "magmadnn/optim/rmsprop.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::optim {

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults) {
  init(std::move(groups), defaults);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<RMSpropOptions>(g);
    MAGMADNN_CHECK(o.alpha() >= 0, "RMSprop: invalid alpha ", o.alpha(), " (group ", g, ")");
    MAGMADNN_CHECK(o.eps() >= 0, "RMSprop: invalid eps ", o.eps(), " (group ", g, ")");
    MAGMADNN_CHECK(o.momentum() >= 0, "RMSprop: invalid momentum ", o.momentum(), " (group ", g, ")");
    MAGMADNN_CHECK(o.weight_decay() >= 0, "RMSprop: invalid weight_decay ", o.weight_decay(), " (group ", g,
                   ")");
  }
}

void RMSprop::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<RMSpropOptions>(g);
    std::vector<FusedBatch<RmspropTensors>> batches;  // by device and dtype (no per-step scalar)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      Tensor square_avg = buffer(g, i, "square_avg");
      Tensor momentum_buffer = o.momentum() > 0 ? buffer(g, i, "momentum_buffer") : Tensor();
      Tensor grad_avg = o.centered() ? buffer(g, i, "grad_avg") : Tensor();
      auto& batch = fused_batch(batches, p, 0);
      batch.tensors.push_back({p, grad, square_avg, momentum_buffer, grad_avg});
      batch.indices.push_back(i);
    }
    for (auto& batch : batches) {
      backend_for(batch.device)
          .rmsprop_step_group(batch.tensors, RmspropParams{o.lr(), o.alpha(), o.eps(), o.weight_decay(),
                                                           o.momentum(), o.centered()});
      for (size_t i : batch.indices) ++state(g, i).step;
    }
  }
}

}  // namespace magmadnn::optim
