// Define-by-run reverse-mode autograd. Each differentiable op that sees an input requiring
// grad records one Node holding a backward function (a lambda capturing what it needs);
// Tensor::backward() walks these nodes in reverse topological order and accumulates
// gradients into the leaves' .grad().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::autograd {

// Whether graph recording is on (thread-local; on by default).
bool grad_mode_enabled();
void set_grad_mode(bool enabled);

// Disables recording for its scope: for evaluation, optimizer updates and backward itself.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// needs_grad[i] tells the backward function whether input i wants a gradient, so that it can
// skip work (e.g. the input-gradient GEMM of a first layer).
using NeedsGrad = std::vector<bool>;
// Returns one gradient per input (an undefined Tensor where none is needed).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const NeedsGrad& needs_grad)>;

struct Edge {
  std::shared_ptr<class Node> node;  // null when the input needs no gradient
};

class Node {
 public:
  // Tears down the chain of nodes it alone keeps alive iteratively, so a graph of millions of
  // ops does not overflow the stack through nested destructors.
  virtual ~Node();
  virtual std::string name() const = 0;
  // Maps the gradient of this node's output to gradients of its inputs.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  const std::vector<Edge>& next_edges() const { return next_edges_; }

 protected:
  std::vector<Edge> next_edges_;
};

// An op's backward as recorded by record().
class FunctionNode : public Node {
 public:
  FunctionNode(std::string name, std::vector<Edge> edges, BackwardFn fn, Shape output_shape, DType dtype);
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release();  // frees the captured tensors once backward has used them

 private:
  std::string name_;
  BackwardFn fn_;
  NeedsGrad needs_grad_;
  Shape output_shape_;
  DType dtype_;
};

// Terminal node of a leaf that requires grad: adds incoming gradients into leaf.grad().
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// True when grad mode is on and any defined input requires grad.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Connects `output` to the graph when any input requires grad (and grad mode is on).
// The backward function must capture saved tensors by value, detached (t.detach()), never the
// output handle itself, so the graph holds no cycles.
void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn backward);

// Runs backward from `root` with the given gradient (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_root);

}  // namespace magmadnn::autograd

namespace magmadnn {
using autograd::NoGradGuard;
}
