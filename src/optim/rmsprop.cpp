// optim::RMSprop: argument checks and the per-parameter call into the backend's fused
// rmsprop_step; the momentum and centering buffers exist only when those options are on.
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
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      Tensor none1, none2;
      Tensor& square_avg = buffer(g, i, "square_avg");
      Tensor& momentum_buffer = o.momentum() > 0 ? buffer(g, i, "momentum_buffer") : none1;
      Tensor& grad_avg = o.centered() ? buffer(g, i, "grad_avg") : none2;
      backend_for(p.device())
          .rmsprop_step(
              p, grad, square_avg, momentum_buffer, grad_avg,
              RmspropParams{o.lr(), o.alpha(), o.eps(), o.weight_decay(), o.momentum(), o.centered()});
      ++state(g, i).step;
    }
  }
}

}  // namespace magmadnn::optim
