// SyncBatchNorm (see dist/sync_batch_norm.h). Forward and backward side by side: statistics are
// accumulated in float64 and all-reduced in one message per pass ([sum | sum of squares | count]
// forward, [sum dy | sum dy * xhat] backward), so uneven per-rank batches weigh in by their size.
// All of it stays on the input's device (CPU, or CUDA with an NCCL group): no host reads.
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

  // Everything stays on x's device (no read to the host on a GPU): the statistics are float64
  // tensors there, all-reduced in place.
  Tensor y, xhat, invstd, count;
  {
    NoGradGuard no_grad;
    Tensor x3 = as_ncl(x.detach());
    const int64_t local_count = x3.size(0) * x3.size(2);
    // x: (N, C, L); local [sum (C) | sum of squares (C) | count (1)], reduced over all ranks.
    Tensor xd = x3.to(kFloat64);
    Tensor stats = concat({sum(xd, {0, 2}), sum(xd * xd, {0, 2}),
                           full({1}, static_cast<double>(local_count), kFloat64, x.device())},
                          0)
                       .contiguous();
    group_->all_reduce(stats);
    count = stats.slice(0, 2 * C, 2 * C + 1);  // (1), the global number of values per channel
    if (local_count <= 1) {  // only then can the global count be too small: read it (rare)
      const double n = count.item<double>();
      MAGMADNN_CHECK(n > 1, "SyncBatchNorm(", C,
                     "): expected more than 1 value per channel over all ranks when training, got ", n,
                     " (this rank's input ", x.shape(), ")");
    }
    const Tensor mean = stats.slice(0, 0, C) / count;
    const Tensor var = clamp(stats.slice(0, C, 2 * C) / count - mean * mean, 0.0, std::nullopt);  // biased
    invstd = (1.0 / sqrt(var + options_.eps())).to(x.dtype()).reshape({1, C, 1});
    xhat = (x3 - mean.to(x.dtype()).reshape({1, C, 1})) * invstd;
    Tensor y3 = xhat;
    if (weight_.defined()) y3 = y3 * weight_.detach().reshape({1, C, 1});
    if (bias_.defined()) y3 = y3 + bias_.detach().reshape({1, C, 1});
    y = y3.reshape(x.shape()).contiguous();

    if (is_training() && running_mean_.defined()) {
      // PyTorch's convention: running = (1 - momentum) * running + momentum * stat, with the
      // unbiased variance of the global batch.
      const double m = options_.momentum();
      const Tensor unbiased = var * count / (count - 1.0);
      running_mean_.copy_(running_mean_.to(kFloat64) * (1 - m) + mean * m);
      running_var_.copy_(running_var_.to(kFloat64) * (1 - m) + unbiased * m);
      backend_for(num_batches_tracked_.device()).increment(num_batches_tracked_);
    }
  }

  // dx = w * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the means over the global batch;
  // dw = sum(dy * xhat), db = sum(dy) over this rank's samples.
  Tensor w = weight_.defined() ? weight_.detach() : Tensor();
  Tensor scale = invstd;
  std::shared_ptr<ProcessGroup> group = group_;
  const Shape shape = x.shape();
  autograd::record("sync_batch_norm", {x, weight_, bias_}, y,
                   [xhat, w, scale, group, count, shape, C](const Tensor& g_in, const NeedsGrad& n) {
                     NoGradGuard no_grad;
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
                       Tensor k = w.defined() ? scale * w.reshape({1, C, 1}) : scale;
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
