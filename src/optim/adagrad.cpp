// optim::Adagrad: argument checks and one call of the backend's fused adagrad_step_group per
// parameter group and step count; the sum starts at initial_accumulator_value.
#include "magmadnn/optim/adagrad.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::optim {

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults) {
  init(std::move(groups), defaults);
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<AdagradOptions>(g);
    MAGMADNN_CHECK(o.lr_decay() >= 0, "Adagrad: invalid lr_decay ", o.lr_decay(), " (group ", g, ")");
    MAGMADNN_CHECK(o.weight_decay() >= 0, "Adagrad: invalid weight_decay ", o.weight_decay(), " (group ", g,
                   ")");
    MAGMADNN_CHECK(o.initial_accumulator_value() >= 0, "Adagrad: invalid initial_accumulator_value ",
                   o.initial_accumulator_value(), " (group ", g, ")");
    MAGMADNN_CHECK(o.eps() >= 0, "Adagrad: invalid eps ", o.eps(), " (group ", g, ")");
  }
}

void Adagrad::step() {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const auto& o = group_options<AdagradOptions>(g);
    std::vector<FusedBatch<AdagradTensors>> batches;  // by step count (normally one)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor& p = groups_[g].params[i];
      Tensor grad = gradient_of(p, g, i);
      if (!grad.defined()) continue;
      Tensor sum = buffer(g, i, "sum", o.initial_accumulator_value());
      auto& batch = fused_batch(batches, p, state(g, i).step + 1);
      batch.tensors.push_back({p, grad, sum});
      batch.indices.push_back(i);
    }
    for (auto& batch : batches) {
      backend_for(batch.device)
          .adagrad_step_group(batch.tensors,
                              AdagradParams{o.lr(), o.lr_decay(), o.weight_decay(), o.eps(), batch.key});
      for (size_t i : batch.indices) ++state(g, i).step;
    }
  }
}

std::string Adagrad::replay_blocker() const {
  for (size_t g = 0; g < groups_.size(); ++g)
    if (static_cast<const AdagradOptions&>(*groups_[g].options).lr_decay() != 0)
      return "Adagrad with lr_decay changes its step size every step";
  return "";
}

}  // namespace magmadnn::optim
