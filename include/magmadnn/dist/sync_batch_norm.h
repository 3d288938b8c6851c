// SyncBatchNorm: batch normalisation whose training statistics are those of the global batch
// across all ranks of a ProcessGroup. Forward all-reduces per-channel sums, sums of squares and
// counts (so ranks may hold different batch sizes); backward all-reduces the per-channel sums of
// dy and dy * xhat that the input gradient needs. Weight and bias gradients stay local (as in
// PyTorch; DistributedDataParallel combines them). Eval mode uses the running statistics. Same
// parameter and buffer names as BatchNorm2d, so state dicts interchange.
#pragma once

#include <memory>

#include "magmadnn/dist/process_group.h"
#include "magmadnn/nn/normalization.h"

namespace magmadnn::dist {

class SyncBatchNorm : public nn::BatchNormBase {
 public:
  SyncBatchNorm(const nn::BatchNormOptions& options, std::shared_ptr<ProcessGroup> group);
  SyncBatchNorm(int64_t num_features, std::shared_ptr<ProcessGroup> group)
      : SyncBatchNorm(nn::BatchNormOptions(num_features), std::move(group)) {}

  // Input (N, C), (N, C, L) or (N, C, H, W). Every rank of the group must call forward (and later
  // backward) the same number of times in training mode: both are collective.
  Tensor forward(const Tensor& x) override;
  const std::shared_ptr<ProcessGroup>& group() const { return group_; }

 private:
  void check_input(const Tensor& x) const override;
  std::shared_ptr<ProcessGroup> group_;
};

// Replaces every BatchNorm1d/BatchNorm2d in `module`'s tree by a SyncBatchNorm with the same
// options, parameters, buffers and mode, synchronising over `group`. Returns the module to use:
// `module` itself, or a new SyncBatchNorm when `module` is a batch-norm layer. Create the
// optimizer afterwards: the new layers have their own (copied) parameters. Layers are replaced
// inside Sequential containers only; a batch-norm child of another module (which calls it through
// a typed member, like ResNet's BasicBlock) is an Error, raised before anything is changed.
std::shared_ptr<nn::Module> convert_sync_batchnorm(std::shared_ptr<nn::Module> module,
                                                   std::shared_ptr<ProcessGroup> group);

}  // namespace magmadnn::dist
