// optim::SGD: argument checks and the per-parameter call into the backend's fused sgd_step.
#include "magmadnn/optim/sgd.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::optim {

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) {
  init(std::move(groups), defaults);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<SGDOptions>(g);
    MAGMADNN_CHECK(o.momentum() >= 0, "SGD: invalid momentum ", o.momentum(), " (group ", g, ")");
    MAGMADNN_CHECK(o.weight_decay() >= 0, "SGD: invalid weight_decay ", o.weight_decay(), " (group ", g, ")");
    MAGMADNN_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
                   "SGD: Nesterov momentum requires a momentum and zero dampening (group ", g, ")");
  }
}

void SGD::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<SGDOptions>(g);
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      Tensor none;
      bool first = false;
      if (o.momentum() != 0) first = state(g, i).buffers.count("momentum_buffer") == 0;
      Tensor& buf = o.momentum() != 0 ? buffer(g, i, "momentum_buffer") : none;
      backend_for(p.device())
          .sgd_step(p, grad, buf,
                    SgdParams{o.lr(), o.momentum(), o.dampening(), o.weight_decay(), o.nesterov(), first});
      ++state(g, i).step;
    }
  }
}

}  // namespace magmadnn::optim
