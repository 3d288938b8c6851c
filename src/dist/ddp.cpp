// DistributedDataParallel: bucket layout, gradient-ready hooks that launch each bucket's
// averaging all-reduce, and the final wait-and-unpack.
#include "magmadnn/dist/ddp.h"

#include "magmadnn/core/error.h"

namespace magmadnn::dist {

struct DistributedDataParallel::Bucket {
  std::vector<size_t> params;
  Tensor flat;
  size_t pending = 0;
  std::shared_ptr<Work> work;
};

namespace {
// Broadcasts t from rank 0 in place (through a contiguous copy when t is a strided view).
void broadcast_tensor(ProcessGroup& g, Tensor t) {
  if (t.is_contiguous()) {
    g.broadcast(t, 0);
  } else {
    Tensor c = t.contiguous();
    g.broadcast(c, 0);
    t.copy_(c);
  }
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module, std::shared_ptr<ProcessGroup> group,
                                                 size_t bucket_cap_bytes)
    : module_(std::move(module)), group_(std::move(group)), alive_(std::make_shared<bool>(true)) {
  MAGMADNN_CHECK(module_ != nullptr, "DistributedDataParallel: got a null module");
  MAGMADNN_CHECK(group_ != nullptr, "DistributedDataParallel: got a null process group");
  register_module("module", module_);
  for (const Tensor& p : module_->parameters())
    if (p.requires_grad()) params_.push_back(p);
  // One device for all parameters: CPU (mpi, local) or the CUDA device of an nccl group. The
  // buckets live there too, so packing and unpacking are device-side copies (no host reads).
  for (const Tensor& p : params_)
    MAGMADNN_CHECK(is_floating(p.dtype()) && p.device() == params_.front().device(), "DistributedDataParallel: "
                   "parameters must be floating tensors on one device (", params_.front().device(), "), got ",
                   p.dtype(), " on ", p.device(), " with shape ", p.shape());
  for (const Tensor& p : params_) broadcast_tensor(*group_, p);
  for (const Tensor& b : module_->buffers()) broadcast_tensor(*group_, b);

  // Reverse registration order approximates the order backward produces gradients in.
  bucket_of_.resize(params_.size());
  offset_of_.resize(params_.size());
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const bool fresh = buckets_.empty() || bytes + p.nbytes() > bucket_cap_bytes ||
                       params_[buckets_.back()->params.front()].dtype() != p.dtype();
    if (fresh) {
      buckets_.push_back(std::make_unique<Bucket>());
      bytes = 0;
    }
    Bucket& b = *buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = bytes / p.element_size();
    b.params.push_back(k);
    bytes += p.nbytes();
  }
  for (auto& b : buckets_) {
    int64_t n = 0;
    for (size_t k : b->params) n += params_[k].numel();
    b->flat = zeros({n}, params_[b->params.front()].dtype(), params_[b->params.front()].device());
    b->pending = b->params.size();
  }
  ready_.assign(params_.size(), false);

  std::weak_ptr<bool> alive = alive_;
  for (size_t k = 0; k < params_.size(); ++k) {
    params_[k].register_post_accumulate_grad_hook([this, alive, k](const Tensor&) {
      if (alive.lock()) on_grad_ready(k);
    });
  }
}

DistributedDataParallel::~DistributedDataParallel() { alive_.reset(); }

Tensor DistributedDataParallel::forward(const Tensor& x) { return module_->forward(x); }

std::string DistributedDataParallel::name() const { return "DistributedDataParallel(" + module_->name() + ")"; }

std::vector<std::vector<size_t>> DistributedDataParallel::bucket_assignment() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : buckets_) out.push_back(b->params);
  return out;
}

void DistributedDataParallel::on_grad_ready(size_t k) {
  if (!sync_enabled_) return;
  MAGMADNN_CHECK(!ready_[k], "DistributedDataParallel: parameter ", k, " (shape ", params_[k].shape(),
                 ") got its gradient twice in one backward; call finish_gradient_synchronization() between passes");
  if (ready_count_ == 0) launches_.clear();
  ready_[k] = true;
  ++ready_count_;
  Bucket& b = *buckets_[bucket_of_[k]];
  const Tensor& p = params_[k];
  b.flat.slice(0, offset_of_[k], offset_of_[k] + p.numel()).copy_(p.grad().reshape({p.numel()}));
  if (--b.pending == 0) launch(bucket_of_[k]);
  if (launched_count_ == buckets_.size()) finish_gradient_synchronization();
}

void DistributedDataParallel::launch(size_t i) {
  Bucket& b = *buckets_[i];
  launches_.push_back({i, ready_count_, std::chrono::steady_clock::now()});
  b.work = group_->all_reduce_async(b.flat, ReduceOp::Avg);
  ++launched_count_;
}

void DistributedDataParallel::finish_gradient_synchronization() {
  if (ready_count_ == 0) return;
  // Parameters that got no gradient this pass contribute zeros (every rank must launch every
  // bucket, or the collectives would mismatch).
  for (size_t k = 0; k < params_.size(); ++k) {
    if (ready_[k]) continue;
    Bucket& b = *buckets_[bucket_of_[k]];
    b.flat.slice(0, offset_of_[k], offset_of_[k] + params_[k].numel()).zero_();
    if (--b.pending == 0) launch(bucket_of_[k]);
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = *buckets_[i];
    if (b.work) b.work->wait();
    b.work.reset();
    for (size_t k : b.params) {
      Tensor& p = params_[k];
      Tensor avg = b.flat.slice(0, offset_of_[k], offset_of_[k] + p.numel()).reshape(p.shape());
      if (p.grad().defined()) {
        p.grad().copy_(avg);
      } else {
        p.set_grad(avg.clone());
      }
    }
    b.pending = b.params.size();
  }
  ready_.assign(params_.size(), false);
  ready_count_ = 0;
  launched_count_ = 0;
}

}  // namespace magmadnn::dist
