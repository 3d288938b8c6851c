// optim::Adam / AdamW: argument checks and one call of the backend's fused adam_step_group per
// parameter group and step count t (the kernel applies the bias corrections of step t).
#include "magmadnn/optim/adam.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::optim {

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Adam(std::move(groups), defaults, false) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, bool decoupled)
    : decoupled_(decoupled) {
  init(std::move(groups), defaults);
  for (size_t g = 0; g < groups_.size(); ++g) {
    auto& o = group_options<AdamOptions>(g);
    if (decoupled_ && !o.has_weight_decay()) o.weight_decay(1e-2);
    const auto [b1, b2] = o.betas();
    MAGMADNN_CHECK(o.eps() >= 0, name(), ": invalid eps ", o.eps(), " (group ", g, ")");
    MAGMADNN_CHECK(b1 >= 0 && b1 < 1, name(), ": invalid beta1 ", b1, " (must be in [0, 1), group ", g, ")");
    MAGMADNN_CHECK(b2 >= 0 && b2 < 1, name(), ": invalid beta2 ", b2, " (must be in [0, 1), group ", g, ")");
    MAGMADNN_CHECK(o.weight_decay() >= 0, name(), ": invalid weight_decay ", o.weight_decay(), " (group ", g,
                   ")");
  }
}

void Adam::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<AdamOptions>(g);
    std::vector<FusedBatch<AdamTensors>> batches;  // by step count (normally one)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      Tensor exp_avg = buffer(g, i, "exp_avg");
      Tensor exp_avg_sq = buffer(g, i, "exp_avg_sq");
      Tensor max_exp_avg_sq = o.amsgrad() ? buffer(g, i, "max_exp_avg_sq") : Tensor();
      auto& batch = fused_batch(batches, p, state(g, i).step + 1);
      batch.tensors.push_back({p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq});
      batch.indices.push_back(i);
    }
    for (auto& batch : batches) {
      backend_for(batch.device)
          .adam_step_group(batch.tensors, AdamParams{o.lr(), o.betas().first, o.betas().second, o.eps(),
                                                     o.weight_decay(), decoupled_, o.amsgrad(), batch.key});
      for (size_t i : batch.indices) ++state(g, i).step;
    }
  }
}

}  // namespace magmadnn::optim
