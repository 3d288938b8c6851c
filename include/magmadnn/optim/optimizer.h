// optim::Optimizer: the base of the optimizers. Parameters come in groups, each with its own
// options (libtorch's design: a group without options uses the optimizer's defaults); state is
// kept per parameter and can be saved and restored through a state dict to resume training.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::optim {

// Options common to every optimizer. Concrete options (SGDOptions, AdamOptions, ...) add their
// own fields with chained setters: SGDOptions(0.1).momentum(0.9).
class OptimizerOptions {
 public:
  explicit OptimizerOptions(double lr) : lr_(lr) {}
  virtual ~OptimizerOptions() = default;
  virtual std::shared_ptr<OptimizerOptions> clone() const = 0;
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

 protected:
  double lr_;
};

// A set of parameters optimized with the same options; `options` null means the optimizer's
// defaults. Options are complete (as in libtorch): ParamGroup(head, SGDOptions(0.01).momentum(0.9)).
struct ParamGroup {
  ParamGroup(std::vector<Tensor> params) : params(std::move(params)) {}  // NOLINT: implicit on purpose
  template <class Options, class = std::enable_if_t<std::is_base_of_v<OptimizerOptions, Options>>>
  ParamGroup(std::vector<Tensor> params, const Options& options)
      : params(std::move(params)), options(std::make_shared<Options>(options)) {}

  std::vector<Tensor> params;
  std::shared_ptr<OptimizerOptions> options;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  virtual std::string name() const = 0;
  // Drops the gradients of all parameters (PyTorch's set_to_none=True).
  void zero_grad();

  size_t num_groups() const { return groups_.size(); }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const OptimizerOptions& options(size_t group = 0) const;
  double lr(size_t group = 0) const;
  void set_lr(double lr);  // all groups
  void set_lr(size_t group, double lr);

  // Keys: "group.<g>.lr" and, for each parameter that has state, "state.<g>.<i>.step" and
  // "state.<g>.<i>.<buffer>" (e.g. exp_avg). Scalars are one-element float64 tensors; buffers are
  // copies, so the dict is a snapshot.
  std::map<std::string, Tensor> state_dict() const;
  // Restores learning rates and state; every problem (unknown or missing keys, wrong shapes,
  // indices out of range) is reported in one Error, and then nothing is changed.
  void load_state_dict(const std::map<std::string, Tensor>& state_dict);

  // Number of steps taken by parameter `index` of `group` (0 before its first update).
  int64_t step_count(size_t group, size_t index) const;

  // CUDA graphs (train/cuda_graph_step.h) replay a captured step with the scalars it had then.
  // Empty when that is exact for this optimizer from its second step on, as long as the learning
  // rates do not change; otherwise why not (e.g. Adam's bias correction changes every step).
  virtual std::string replay_blocker() const;
  // Counts one step replayed from a graph (the host did not run step()): every parameter that
  // has been updated before gets its step count advanced, so checkpoints stay right.
  void count_replayed_step();

 protected:
  struct ParamState {
    int64_t step = 0;
    std::map<std::string, Tensor> buffers;
  };

  Optimizer() = default;
  // Fills groups without options with a copy of `defaults`, checks the parameters and that each
  // group's options are of type Options.
  template <class Options>
  void init(std::vector<ParamGroup> groups, const Options& defaults) {
    defaults_ = std::make_shared<Options>(defaults);
    for (size_t g = 0; g < groups.size(); ++g) {
      if (!groups[g].options) groups[g].options = defaults_->clone();
      MAGMADNN_CHECK(dynamic_cast<Options*>(groups[g].options.get()) != nullptr, name(), ": parameter group ",
                     g, " has options of another optimizer");
    }
    set_groups(std::move(groups));
  }
  template <class Options>
  Options& group_options(size_t group) {
    return static_cast<Options&>(*groups_[group].options);
  }
  // The gradient of a parameter ready for a fused kernel (contiguous, checked against the
  // parameter), or an undefined tensor when there is none.
  Tensor gradient_of(const Tensor& param, size_t group, size_t index) const;
  // The named state buffer of a parameter; created as zeros (or `init_value`) on first use.
  Tensor& buffer(size_t group, size_t index, const std::string& name, double init_value = 0.0);
  ParamState& state(size_t group, size_t index) { return state_[group][index]; }
  // The parameters of one group that one fused backend call updates (Backend::*_step_group): same
  // device, dtype and per-step scalar `key` (the step count, or SGD's first-step flag), so a group
  // normally takes one call; `indices` are the parameters' places in the group.
  template <class Tensors>
  struct FusedBatch {
    Device device;
    DType dtype;
    int64_t key;
    std::vector<Tensors> tensors;
    std::vector<size_t> indices;
  };
  template <class Tensors>
  static FusedBatch<Tensors>& fused_batch(std::vector<FusedBatch<Tensors>>& batches, const Tensor& param,
                                          int64_t key) {
    for (auto& b : batches)
      if (b.device == param.device() && b.dtype == param.dtype() && b.key == key) return b;
    return batches.emplace_back(FusedBatch<Tensors>{param.device(), param.dtype(), key, {}, {}});
  }
  // Buffer names this optimizer may keep, for load_state_dict's checks.
  virtual std::vector<std::string> state_names() const = 0;

  std::vector<ParamGroup> groups_;
  std::shared_ptr<OptimizerOptions> defaults_;

 private:
  void set_groups(std::vector<ParamGroup> groups);
  std::vector<std::vector<ParamState>> state_;
};

}  // namespace magmadnn::optim
