// DistributedDataParallel: wraps a Module so every rank trains a replica on its shard of the
// batch. Parameters and buffers are broadcast from rank 0 at construction; during backward the
// gradients are packed into buckets (reverse registration order, ~25 MiB each) whose averaging
// all-reduce starts as soon as the bucket's last gradient is ready, overlapping communication
// with the rest of backward. Each rank then steps its own optimizer.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "magmadnn/dist/process_group.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::dist {

class DistributedDataParallel : public nn::Module {
 public:
  static constexpr size_t kDefaultBucketBytes = size_t(25) << 20;

  DistributedDataParallel(std::shared_ptr<nn::Module> module, std::shared_ptr<ProcessGroup> group,
                          size_t bucket_cap_bytes = kDefaultBucketBytes);
  ~DistributedDataParallel() override;

  Tensor forward(const Tensor& x) override;
  std::string name() const override;
  const std::shared_ptr<nn::Module>& module() const { return module_; }
  ProcessGroup& group() const { return *group_; }

  // Waits for the buckets' all-reduces and writes the averaged gradients into .grad. Runs by
  // itself when the last bucket's gradient arrives; call it after backward when some parameter
  // may get no gradient (those count as zero). A no-op when nothing is pending.
  void finish_gradient_synchronization();

  // While the returned guard lives, backward accumulates gradients locally without
  // communicating (gradient accumulation); the first backward after it synchronises the sum.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp) : ddp_(&ddp), previous_(ddp.sync_enabled_) {
      ddp.sync_enabled_ = false;
    }
    ~NoSyncGuard() { ddp_->sync_enabled_ = previous_; }
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel* ddp_;
    bool previous_;
  };
  NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  // Buckets as parameter indices into module()->parameters(), in launch order.
  std::vector<std::vector<size_t>> bucket_assignment() const;

  // One record per bucket all-reduce started in the last synchronised backward: which bucket,
  // how many of the parameters' gradients were ready at that moment, and when.
  struct BucketLaunch {
    size_t bucket;
    size_t grads_ready;
    std::chrono::steady_clock::time_point time;
  };
  const std::vector<BucketLaunch>& last_launches() const { return launches_; }

 private:
  struct Bucket;
  void on_grad_ready(size_t param_index);
  void launch(size_t bucket_index);

  std::shared_ptr<nn::Module> module_;
  std::shared_ptr<ProcessGroup> group_;
  std::vector<Tensor> params_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<size_t> bucket_of_, offset_of_;  // per parameter
  std::vector<bool> ready_;
  size_t ready_count_ = 0, launched_count_ = 0;
  bool sync_enabled_ = true;
  std::vector<BucketLaunch> launches_;
  std::shared_ptr<bool> alive_;  // hooks outlive the wrapper; they check this first
};

}  // namespace magmadnn::dist
