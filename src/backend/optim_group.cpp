// Fused optimizer updates over a list of parameters: the argument checks every backend runs
// before touching a tensor, and the Backend defaults, which call the single-tensor kernel per
// entry (so the CPU backend keeps its per-tensor OpenMP loops and their exact results).
#include <initializer_list>
#include <utility>

#include "magmadnn/backend/backend.h"

namespace magmadnn {

namespace {

// A tensor of an entry and its name for messages; null when the variant does not use it.
using Named = std::pair<const char*, const Tensor*>;

// Entry k of a list of n: the parameter against parameter 0, then the gradient and state.
void check_entry(const char* op, size_t k, size_t n, const Tensor& first, const Tensor& param,
                 std::initializer_list<Named> others) {
  MAGMADNN_CHECK(param.defined(), op, ": parameter ", k, " of ", n, " is undefined");
  const auto where = [&] {
    return detail::str_cat(op, ": parameter ", k, " of ", n, ", shape ", param.shape());
  };
  MAGMADNN_CHECK(is_floating(param.dtype()), where(), " must be a floating tensor, got ", param.dtype());
  MAGMADNN_CHECK(param.dtype() == first.dtype() && param.device() == first.device(), where(), " is ",
                 param.dtype(), " on ", param.device(), ", but parameter 0 is ", first.dtype(), " on ",
                 first.device(), " (one list holds one dtype and one device)");
  MAGMADNN_CHECK(param.is_contiguous(), where(), " is not contiguous");
  for (const Named& t : others) {
    if (!t.second) continue;
    const Tensor& x = *t.second;
    MAGMADNN_CHECK(x.defined(), where(), ": ", t.first, " is undefined");
    MAGMADNN_CHECK(x.shape() == param.shape() && x.dtype() == param.dtype() && x.device() == param.device(),
                   where(), ": ", t.first, " is ", x.shape(), " ", x.dtype(), " on ", x.device(),
                   ", expected the parameter's shape, dtype and device");
    MAGMADNN_CHECK(x.is_contiguous(), where(), ": ", t.first, " is not contiguous");
  }
}

}  // namespace

void check_step_group(const std::vector<SgdTensors>& tensors, const SgdParams& p) {
  for (size_t k = 0; k < tensors.size(); ++k) {
    const SgdTensors& e = tensors[k];
    check_entry("SGD", k, tensors.size(), tensors[0].param, e.param,
                {{"gradient", &e.grad}, {"momentum_buffer", p.momentum != 0 ? &e.momentum_buffer : nullptr}});
  }
}

void check_step_group(const std::vector<AdamTensors>& tensors, const AdamParams& p) {
  const char* op = p.decoupled_weight_decay ? "AdamW" : "Adam";
  for (size_t k = 0; k < tensors.size(); ++k) {
    const AdamTensors& e = tensors[k];
    check_entry(op, k, tensors.size(), tensors[0].param, e.param,
                {{"gradient", &e.grad},
                 {"exp_avg", &e.exp_avg},
                 {"exp_avg_sq", &e.exp_avg_sq},
                 {"max_exp_avg_sq", p.amsgrad ? &e.max_exp_avg_sq : nullptr}});
  }
}

void check_step_group(const std::vector<AdagradTensors>& tensors, const AdagradParams& p) {
  for (size_t k = 0; k < tensors.size(); ++k) {
    const AdagradTensors& e = tensors[k];
    check_entry("Adagrad", k, tensors.size(), tensors[0].param, e.param,
                {{"gradient", &e.grad}, {"sum", &e.sum}});
  }
}

void check_step_group(const std::vector<RmspropTensors>& tensors, const RmspropParams& p) {
  for (size_t k = 0; k < tensors.size(); ++k) {
    const RmspropTensors& e = tensors[k];
    check_entry("RMSprop", k, tensors.size(), tensors[0].param, e.param,
                {{"gradient", &e.grad},
                 {"square_avg", &e.square_avg},
                 {"momentum_buffer", p.momentum > 0 ? &e.momentum_buffer : nullptr},
                 {"grad_avg", p.centered ? &e.grad_avg : nullptr}});
  }
}

// The defaults: every entry is checked first, so a bad list changes nothing.

void Backend::sgd_step_group(std::vector<SgdTensors>& tensors, const SgdParams& p) {
  check_step_group(tensors, p);
  for (SgdTensors& e : tensors) sgd_step(e.param, e.grad, e.momentum_buffer, p);
}

void Backend::adam_step_group(std::vector<AdamTensors>& tensors, const AdamParams& p) {
  check_step_group(tensors, p);
  for (AdamTensors& e : tensors) adam_step(e.param, e.grad, e.exp_avg, e.exp_avg_sq, e.max_exp_avg_sq, p);
}

void Backend::adagrad_step_group(std::vector<AdagradTensors>& tensors, const AdagradParams& p) {
  check_step_group(tensors, p);
  for (AdagradTensors& e : tensors) adagrad_step(e.param, e.grad, e.sum, p);
}

void Backend::rmsprop_step_group(std::vector<RmspropTensors>& tensors, const RmspropParams& p) {
  check_step_group(tensors, p);
  for (RmspropTensors& e : tensors)
    rmsprop_step(e.param, e.grad, e.square_avg, e.momentum_buffer, e.grad_avg, p);
}

}  // namespace magmadnn
