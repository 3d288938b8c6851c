// optim::SGD: argument checks and one call of the backend's fused sgd_step_group per parameter
// group (per device, dtype and first-step flag within it).
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
    std::vector<FusedBatch<SgdTensors>> batches;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      bool first = false;
      if (o.momentum() != 0) first = state(g, i).buffers.count("momentum_buffer") == 0;
      Tensor buf = o.momentum() != 0 ? buffer(g, i, "momentum_buffer") : Tensor();
      auto& batch = fused_batch(batches, p, first);
      batch.tensors.push_back({p, grad, buf});
      batch.indices.push_back(i);
    }
    for (auto& batch : batches) {
      backend_for(batch.device)
          .sgd_step_group(batch.tensors, SgdParams{o.lr(), o.momentum(), o.dampening(), o.weight_decay(),
                                                   o.nesterov(), batch.key != 0});
      for (size_t i : batch.indices) ++state(g, i).step;
    }
  }
}

}  // namespace magmadnn::optim
