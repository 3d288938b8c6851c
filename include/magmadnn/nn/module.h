// nn::Module: the base of every layer and model. A module owns named parameters, buffers and
// child modules ("features.3.weight"), switches between training and evaluation, moves to a
// device or dtype in place, and saves/restores its values through a state dict.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "magmadnn/core/error.h"
#include "magmadnn/core/tensor.h"

namespace magmadnn::nn {

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Modules own their tensors; copying one would silently share or duplicate parameters.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // forward(x), reported to the forward observer of this thread when one is set (nn::summarize).
  // Modules call their children through it, so every layer of a model is seen.
  Tensor operator()(const Tensor& x);

  // One-line description with the constructor arguments, e.g.
  // "Linear(in_features=784, out_features=512, bias=true)". By default the class name ("Net").
  virtual std::string name() const;

  // Recursive, in registration order (own tensors first, then each child's); a tensor shared
  // between modules appears once.
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> buffers() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Direct children only.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  std::vector<std::shared_ptr<Module>> children() const;
  // Swaps the child registered as `name` for `module`, as assigning a submodule attribute does in
  // PyTorch, for model rewrites such as dist::convert_sync_batchnorm. Only where this module
  // calls that child through something the swap reaches (accepts_child): a Sequential for any of
  // its layers, a ResNet BasicBlock for its batch norms. Otherwise, or for a null module or an
  // unknown name, an Error naming this module and the child; nothing changes then.
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  // Whether a module like `module` may take the place of child `name` (false for unknown names).
  bool accepts_child(const std::string& name, const Module& module) const;

  // Parameters and buffers by dotted name, detached (sharing storage with the module).
  std::map<std::string, Tensor> state_dict() const;
  // Copies the values into the existing tensors (which keeps optimizers' references valid).
  // Every problem (missing or unexpected keys, shape or dtype mismatches) is collected first and
  // reported in one Error, in which case nothing is modified. strict=false ignores missing and
  // unexpected keys but still rejects shape and dtype mismatches.
  void load_state_dict(const std::map<std::string, Tensor>& state_dict, bool strict = true);

  // Sets the mode of this module and all its descendants.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves parameters and buffers in place: handles held elsewhere (an optimizer, a member
  // such as Linear::weight()) see the moved tensor. to(DType) converts floating tensors only.
  void to(Device device);
  void to(DType dtype);
  void zero_grad();  // drops the gradients (PyTorch's set_to_none)
  int64_t num_parameters() const;

  // PyTorch-like tree: "Sequential(\n  (0): Linear(...)\n  ...\n)".
  std::string summary() const;

  // Rewrites the module for inference (see nn/fusion.h): folds BatchNorm into the preceding
  // convolution, fuses bias + ReLU. The default recurses into the children.
  virtual void fuse_for_inference();

 protected:
  // Registers a tensor as a trainable parameter (sets requires_grad); the returned reference
  // stays valid for the module's lifetime.
  Tensor& register_parameter(std::string name, Tensor tensor);
  Tensor& register_buffer(std::string name, Tensor tensor);
  // Swaps the child registered as `name` for another module (used by inference fusion).
  void replace_module(const std::string& name, std::shared_ptr<Module> module);
  // What replace_child asks of a subclass. A module that reaches child `name` only through
  // children() (a container), or through a member it re-points in child_replaced, answers true
  // for the modules it can call there. The default: false (a member the swap would not reach).
  virtual bool child_replaceable(const std::string& name, const Module& module) const;
  // Called by replace_child after the swap, to re-point a member at the new child.
  virtual void child_replaced(const std::string& name, const std::shared_ptr<Module>& module);

  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    MAGMADNN_CHECK(module != nullptr, name_for_errors(), ": register_module('", name, "') got a null module");
    check_new_name(name, "register_module");
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  void check_new_name(const std::string& name, const char* what) const;
  std::string name_for_errors() const;
  void collect_parameters(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  void print_tree(std::ostream& os, int indent) const;
  // Applies f to every parameter and buffer handle of the whole tree.
  template <class F>
  void for_each_tensor(F&& f);

  std::deque<std::pair<std::string, Tensor>> parameters_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

// While a ForwardObserverGuard lives, every Module::operator() on this thread calls its observer
// with the module, its input and its output (after forward returns). Guards nest; the innermost
// observes.
using ForwardObserver = std::function<void(const Module& module, const Tensor& input, const Tensor& output)>;
class ForwardObserverGuard {
 public:
  explicit ForwardObserverGuard(ForwardObserver observer);
  ~ForwardObserverGuard();
  ForwardObserverGuard(const ForwardObserverGuard&) = delete;
  ForwardObserverGuard& operator=(const ForwardObserverGuard&) = delete;

 private:
  ForwardObserver observer_;
  ForwardObserver* previous_;
};

}  // namespace magmadnn::nn
