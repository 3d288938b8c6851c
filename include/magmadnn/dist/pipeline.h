// Pipeline model parallelism (GPipe): a Sequential model split into consecutive stages, stage k
// on rank k. A training step cuts the batch into micro-batches that flow forward through the
// stages (activations sent with send/recv, the receiving stage treating them as inputs that
// require grad), then backward in reverse order with the input gradients sent back; each stage's
// gradients accumulate over the micro-batches, scaled so the loss is the mean over the whole
// batch. Afterwards every rank steps its own optimizer on its stage's parameters, and the result
// equals single-process training with the same batch (BatchNorm aside: it sees micro-batches).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "magmadnn/dist/process_group.h"
#include "magmadnn/nn/sequential.h"

namespace magmadnn::dist {

class PipelineOptions {
 public:
  PipelineOptions() = default;

  // Micro-batches per step; a batch need not divide evenly (sizes then differ by at most one),
  // but it must hold at least this many samples.
  PipelineOptions& micro_batches(int64_t v) {
    micro_batches_ = v;
    return *this;
  }
  // Module indices where stages 1, 2, ... begin (size() - 1 strictly increasing values in
  // (0, model size)). Unset: stages balanced by parameter count (see balance_by_parameters).
  PipelineOptions& split_points(std::vector<size_t> v) {
    split_points_ = std::move(v);
    return *this;
  }
  // The loss of one micro-batch on the last stage, reduced by the mean over its samples.
  // Default: cross_entropy(output, target).
  PipelineOptions& loss(std::function<Tensor(const Tensor& output, const Tensor& target)> f) {
    loss_ = std::move(f);
    return *this;
  }

  int64_t micro_batches() const { return micro_batches_; }
  const std::vector<size_t>& split_points() const { return split_points_; }
  const std::function<Tensor(const Tensor&, const Tensor&)>& loss() const { return loss_; }

 private:
  int64_t micro_batches_ = 1;
  std::vector<size_t> split_points_;
  std::function<Tensor(const Tensor&, const Tensor&)> loss_;
};

class Pipeline {
 public:
  // Every rank passes the whole model built the same way (same seed); each keeps only its stage's
  // modules (no communication).
  Pipeline(std::shared_ptr<nn::Sequential> model, std::shared_ptr<ProcessGroup> group,
           PipelineOptions options = PipelineOptions());

  // One GPipe step (collective): x is read on the first stage, y on the last (other ranks may pass
  // undefined tensors). Accumulates into the stage's parameter gradients (zero them before, step
  // the optimizer after) and returns the mean loss over the batch on every rank.
  float train_step(const Tensor& x, const Tensor& y);

  // Inference without autograd (collective): x on the first stage; the output is returned on the
  // last stage, an undefined tensor elsewhere.
  Tensor forward(const Tensor& x);

  int num_stages() const { return static_cast<int>(bounds_.size()) - 1; }
  int stage_index() const { return stage_; }
  bool is_first_stage() const { return stage_ == 0; }
  bool is_last_stage() const { return stage_ == num_stages() - 1; }
  // [begin, end) of the model's module indices that form `stage`.
  std::pair<size_t, size_t> stage_range(int stage) const;
  // This rank's modules (children named "0", "1", ... from the stage's first module).
  const std::shared_ptr<nn::Sequential>& stage() const { return stage_module_; }
  std::vector<Tensor> parameters() const { return stage_module_->parameters(); }
  const PipelineOptions& options() const { return options_; }

  // This stage's state dict under the whole model's names ("4.weight").
  std::map<std::string, Tensor> stage_state_dict() const;
  // Collects every stage's state dict on `root` (collective): the whole model's state dict there,
  // ready for io checkpoints or nn::Module::load_state_dict; empty on the other ranks.
  std::map<std::string, Tensor> gather_state_dict(int root = 0) const;
  // Loads this stage's entries of a whole-model state dict (as gather_state_dict returns and every
  // rank may read from the same checkpoint); other stages' keys are ignored. Strict for this stage:
  // missing keys or mismatched shapes are an Error and nothing is changed. No communication.
  void load_state_dict(const std::map<std::string, Tensor>& whole_model);

  // Split points giving `stages` stages of at least one module each with the largest stage's
  // parameter count as small as possible (ties: earlier splits).
  static std::vector<size_t> balance_by_parameters(const nn::Sequential& model, int stages);

 private:
  struct TensorMeta {
    std::string key;
    Shape shape;
    DType dtype;
  };
  // Checks the batch sizes on all ranks at once, so a bad batch is the same error everywhere
  // instead of a hang. Returns the micro-batch sizes.
  std::vector<int64_t> agree_on_batch(const Tensor& x, const Tensor& y, bool training);
  Tensor recv_activation(int tag);
  void send_activation(const Tensor& t, int tag, std::vector<std::shared_ptr<Work>>& pending,
                       std::vector<Tensor>& keep);

  std::shared_ptr<ProcessGroup> group_;
  PipelineOptions options_;
  int stage_ = 0;
  std::vector<size_t> bounds_;  // stage s holds modules [bounds_[s], bounds_[s + 1])
  std::shared_ptr<nn::Sequential> stage_module_;
  std::vector<std::vector<TensorMeta>> stage_meta_;  // every stage's state-dict layout
};

}  // namespace magmadnn::dist
