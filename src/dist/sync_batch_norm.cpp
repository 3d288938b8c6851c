// SyncBatchNorm (see dist/sync_batch_norm.h). Forward and backward side by side, one message per
// pass: forward gathers each rank's [count | mean | variance] (C-length, float64) and combines
// them with the parallel-variance formula; backward all-reduces [sum dy | sum dy * xhat]. Uneven
// per-rank batches weigh in by their size. All of it stays on the input's device (CPU, or CUDA
// with an NCCL group): no host reads.
#include "magmadnn/dist/sync_batch_norm.h"

#include <cmath>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/nn/sequential.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::dist {

using autograd::NeedsGrad;

SyncBatchNorm::SyncBatchNorm(const nn::BatchNormOptions& options, std::shared_ptr<ProcessGroup> group)
    : BatchNormBase("SyncBatchNorm", options), group_(std::move(group)) {
  MAGMADNN_CHECK(group_ != nullptr, "SyncBatchNorm(", options.num_features(), "): the process group is null");
}

void SyncBatchNorm::check_input(const Tensor& x) const {
  MAGMADNN_CHECK(x.dim() >= 2 && x.dim() <= 4 && x.size(1) == options_.num_features(), "SyncBatchNorm(",
                 options_.num_features(), "): expected input (N, ", options_.num_features(), "), (N, ",
                 options_.num_features(), ", L) or (N, ", options_.num_features(), ", H, W), got ",
                 x.shape());
}

namespace {
// (N, C, ...) viewed as (N, C, L).
Tensor as_ncl(const Tensor& t) {
  const int64_t N = t.size(0), C = t.size(1);
  int64_t L = 1;
  for (int64_t d = 2; d < t.dim(); ++d) L *= t.size(d);
  return t.contiguous().reshape({N, C, L});
}

}  // namespace

Tensor SyncBatchNorm::forward(const Tensor& x) {
  const int64_t C = options_.num_features();
  MAGMADNN_CHECK(x.defined(), "SyncBatchNorm(", C, "): got an undefined input");
  check_input(x);
  const bool use_batch_stats = is_training() || !options_.track_running_stats();
  if (!use_batch_stats) return BatchNormBase::forward(x);  // running statistics: nothing to share
  MAGMADNN_CHECK(x.dtype() == kFloat32 || x.dtype() == kFloat64, "SyncBatchNorm(", C,
                 "): expected a float32 or float64 input, got ", x.dtype());

  // Everything stays on x's device (no read to the host on a GPU). Each rank's mean and biased
  // variance per channel (two passes, Backend::batch_norm_stats), then every rank's [count | mean |
  // var] gathered and combined in float64 by Chan et al.'s parallel formula, in rank order on
  // every rank: var = sum_r n_r (v_r + (m_r - mean)^2) / n, free of E[x^2] - E[x]^2's cancellation.
  Backend& be = backend_for(x.device());
  Tensor y, x3, mean_x, invstd, count;
  {
    NoGradGuard no_grad;
    x3 = as_ncl(x.detach());  // (N, C, L)
    const int64_t local_count = x3.size(0) * x3.size(2);
    Tensor m = zeros({C}, x.dtype(), x.device()), v = zeros({C}, x.dtype(), x.device());
    if (local_count > 0) be.batch_norm_stats(x3, m, v);  // an empty share counts 0 and adds nothing
    const Tensor mine =
        concat({full({1}, static_cast<double>(local_count), kFloat64, x.device()), m.to(kFloat64), v.to(kFloat64)}, 0)
            .contiguous();
    Tensor all = Tensor::empty({group_->size(), 2 * C + 1}, kFloat64, x.device());
    group_->all_gather(mine, all);
    const Tensor n = all.slice(1, 0, 1), means = all.slice(1, 1, C + 1), vars = all.slice(1, C + 1, 2 * C + 1);
    count = sum(n, {0});  // (1), the global number of values per channel
    if (local_count <= 1) {  // only then can the global count be too small: read it (rare)
      const double total = count.item<double>();
      MAGMADNN_CHECK(total > 1, "SyncBatchNorm(", C,
                     "): expected more than 1 value per channel over all ranks when training, got ", total,
                     " (this rank's input ", x.shape(), ")");
    }
    const Tensor mean = sum(n * means, {0}) / count;                                // (C)
    const Tensor var = sum(n * (vars + square(means - mean)), {0}) / count;        // (C), biased
    invstd = (1.0 / sqrt(var + options_.eps())).to(x.dtype()).reshape({1, C, 1});
    mean_x = mean.to(x.dtype()).contiguous();
    // y = (x - mean) / sqrt(var + eps) * w + b: the backend's batch-norm pass with given statistics.
    const Tensor w = weight_.defined() ? weight_.detach() : ones({C}, x.dtype(), x.device());
    const Tensor b = bias_.defined() ? bias_.detach() : zeros({C}, x.dtype(), x.device());
    Tensor var_x = var.to(x.dtype()).contiguous(), y3 = Tensor::empty(x3.shape(), x.dtype(), x.device());
    be.batch_norm(x3, w, b, mean_x, var_x, /*training=*/false, options_.eps(), y3);
    y = y3.reshape(x.shape());

    if (is_training() && running_mean_.defined()) {
      // PyTorch's convention: running = (1 - momentum) * running + momentum * stat, with the
      // unbiased variance of the global batch; one fused update where the backend has it.
      const Tensor unbiased = (var * count / (count - 1.0)).to(running_var_.dtype()).contiguous();
      be.batch_norm_update_running(mean.to(running_mean_.dtype()).contiguous(), unbiased, running_mean_, running_var_,
                                   options_.momentum(), 1.0);
      be.increment(num_batches_tracked_);
    }
  }

  // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the means over the global batch;
  // dw = sum(dy * xhat), db = sum(dy) over this rank's samples; xhat = (x - mean) * invstd again.
  Tensor w = weight_.defined() ? weight_.detach() : Tensor();
  std::shared_ptr<ProcessGroup> group = group_;
  const Shape shape = x.shape();
  const Tensor centre = mean_x.reshape({1, C, 1});
  autograd::record("sync_batch_norm", {x, weight_, bias_}, y,
                   [x3, centre, w, invstd, group, count, shape, C](const Tensor& g_in, const NeedsGrad& n) {
                     NoGradGuard no_grad;
                     const Tensor xhat = (x3 - centre) * invstd;
                     Tensor g3 = as_ncl(g_in);
                     Tensor sum_dy = sum(g3, {0, 2}), sum_dy_xhat = sum(g3 * xhat, {0, 2});
                     Tensor gx, gw, gb;
                     if (n[1]) gw = sum_dy_xhat.contiguous();
                     if (n[2]) gb = sum_dy.contiguous();
                     // Collective whenever backward reaches this node, on every rank alike.
                     Tensor both = concat({sum_dy.to(kFloat64), sum_dy_xhat.to(kFloat64)}, 0).contiguous();
                     group->all_reduce(both);
                     if (n[0]) {
                       Tensor means = (both / count).to(xhat.dtype());  // count: (1) on the device
                       Tensor mean_dy = means.slice(0, 0, C).reshape({1, C, 1});
                       Tensor mean_dy_xhat = means.slice(0, C, 2 * C).reshape({1, C, 1});
                       Tensor k = w.defined() ? invstd * w.reshape({1, C, 1}) : invstd;
                       gx = ((g3 - mean_dy - xhat * mean_dy_xhat) * k).reshape(shape).contiguous();
                     }
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

namespace {
bool is_plain_batch_norm(const std::shared_ptr<nn::Module>& m) {
  return std::dynamic_pointer_cast<nn::BatchNormBase>(m) != nullptr &&
         std::dynamic_pointer_cast<SyncBatchNorm>(m) == nullptr;
}

// A parent that holds a layer in a typed member it cannot re-point (a user's block with a
// BatchNorm2d member) would keep calling the old layer while its parameters vanish from
// parameters(); Module::accepts_child says which parents can take a replacement (Sequential;
// ResNet's BasicBlock). Such a tree is rejected before anything is changed.
void check_convertible(const nn::Module& m, const std::string& path) {
  for (auto& [name, child] : m.named_children()) {
    const std::string child_path = path.empty() ? name : path + "." + name;
    MAGMADNN_CHECK(!is_plain_batch_norm(child) || m.accepts_child(name, *child), "convert_sync_batchnorm: cannot replace '",
                   child_path, "' inside ", m.name(),
                   ", which calls it through a member of its own; only batch-norm layers whose parent accepts a "
                   "replacement (a Sequential, ResNet's BasicBlock; see Module::replace_child) can be converted");
    check_convertible(*child, child_path);
  }
}

std::shared_ptr<nn::Module> convert_tree(const std::shared_ptr<nn::Module>& module,
                                         const std::shared_ptr<ProcessGroup>& group) {
  if (is_plain_batch_norm(module)) {
    auto bn = std::dynamic_pointer_cast<nn::BatchNormBase>(module);
    auto sync = std::make_shared<SyncBatchNorm>(bn->options(), group);
    // Made as float32 on the CPU: first to the layer's device and floating dtype (a float64 or
    // GPU model), then its values.
    for (const Tensor& t : bn->buffers()) {
      if (!is_floating(t.dtype())) continue;
      sync->to(t.device());
      sync->to(t.dtype());
      break;
    }
    for (const Tensor& t : bn->parameters()) {
      sync->to(t.device());
      sync->to(t.dtype());
      break;
    }
    sync->load_state_dict(bn->state_dict());
    sync->train(bn->is_training());
    return sync;
  }
  for (auto& [name, child] : module->named_children()) {
    auto replacement = convert_tree(child, group);
    if (replacement != child) module->replace_child(name, replacement);
  }
  return module;
}
}  // namespace

std::shared_ptr<nn::Module> convert_sync_batchnorm(std::shared_ptr<nn::Module> module,
                                                   std::shared_ptr<ProcessGroup> group) {
  MAGMADNN_CHECK(module != nullptr, "convert_sync_batchnorm: the module is null");
  MAGMADNN_CHECK(group != nullptr, "convert_sync_batchnorm: the process group is null");
  check_convertible(*module, "");
  return convert_tree(module, group);
}

}  // namespace magmadnn::dist
