// The autograd engine: graph recording (record), the backward pass (run_backward), and the
// two node kinds: FunctionNode (an op's backward lambda) and AccumulateGrad (a leaf's sink).
#include "magmadnn/autograd/autograd.h"

#include <unordered_map>

#include "magmadnn/backend/backend.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::autograd {

namespace {
thread_local bool g_grad_mode = true;

// The edge through which gradient flows into `t`: its grad_fn, its accumulator if it is a
// leaf requiring grad, or none.
Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  TensorImpl& impl = t.impl();
  if (impl.grad_fn) return {impl.grad_fn};
  if (!impl.grad_accumulator) impl.grad_accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return {impl.grad_accumulator};
}
}  // namespace

Node::~Node() {
  std::vector<std::shared_ptr<Node>> doomed;
  auto steal_sole_owned = [&doomed](std::vector<Edge>& edges) {
    for (Edge& e : edges)
      if (e.node && e.node.use_count() == 1) doomed.push_back(std::move(e.node));
  };
  steal_sole_owned(next_edges_);
  while (!doomed.empty()) {
    std::shared_ptr<Node> n = std::move(doomed.back());
    doomed.pop_back();
    steal_sole_owned(n->next_edges_);
  }  // n dies here with its edges already moved out: no recursion
}

bool grad_mode_enabled() { return g_grad_mode; }
void set_grad_mode(bool enabled) { g_grad_mode = enabled; }

FunctionNode::FunctionNode(std::string name, std::vector<Edge> edges, BackwardFn fn, Shape output_shape, DType dtype)
    : name_(std::move(name)), fn_(std::move(fn)), output_shape_(std::move(output_shape)), dtype_(dtype) {
  next_edges_ = std::move(edges);
  needs_grad_.reserve(next_edges_.size());
  for (const Edge& e : next_edges_) needs_grad_.push_back(e.node != nullptr);
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  MAGMADNN_CHECK(fn_, name_, " backward: the graph was already freed by an earlier backward()");
  std::vector<Tensor> grads = fn_(grad_output, needs_grad_);
  MAGMADNN_CHECK(grads.size() == next_edges_.size(), name_, " backward: returned ", grads.size(),
                 " gradients for ", next_edges_.size(), " inputs");
  return grads;
}

void FunctionNode::release() { fn_ = nullptr; }

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return {};
  const Tensor& g = grad_output;
  MAGMADNN_CHECK(g.shape() == leaf->shape, "AccumulateGrad: gradient shape ", g.shape(), " differs from leaf shape ",
                 leaf->shape);
  if (!leaf->grad) {
    // Adopt the incoming gradient when the engine holds the only reference to it and to its
    // storage (the common case: a freshly computed tensor); otherwise copy it.
    const bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.is_contiguous() &&
                           g.offset() == 0;
    leaf->grad = exclusive ? g.impl_ptr() : g.clone().impl_ptr();
  } else {
    Tensor acc(leaf->grad);
    backend_for(acc.device()).binary(BinaryOp::Add, acc, g, acc);
  }
  if (!leaf->post_accumulate_grad_hooks.empty()) {
    const Tensor leaf_tensor(leaf);
    for (auto& hook : leaf->post_accumulate_grad_hooks) hook(leaf_tensor);
  }
  return {};
}

}  // namespace magmadnn::autograd

namespace magmadnn {
void Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) {
  MAGMADNN_CHECK(is_leaf() && requires_grad(),
                 "register_post_accumulate_grad_hook: needs a leaf tensor that requires grad, got shape ", shape(),
                 is_leaf() ? " without requires_grad" : " computed by an op");
  impl().post_accumulate_grad_hooks.push_back(std::move(hook));
}
}  // namespace magmadnn

namespace magmadnn::autograd {

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, Tensor& output, BackwardFn backward) {
  if (!any_requires_grad(inputs)) return;
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& t : inputs) edges.push_back(gradient_edge(t));
  TensorImpl& out = output.impl();
  out.grad_fn = std::make_shared<FunctionNode>(name, std::move(edges), std::move(backward), out.shape, out.dtype);
  out.requires_grad = true;
}

void run_backward(const Tensor& root, const Tensor& grad_root) {
  NoGradGuard no_grad;
  Edge root_edge = gradient_edge(root);
  if (!root_edge.node) return;

  // Count, for every node reachable from the root, how many edges lead into it.
  std::unordered_map<Node*, int> dependencies;
  std::vector<Node*> stack{root_edge.node.get()};
  dependencies[root_edge.node.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      if (!e.node) continue;
      auto [it, inserted] = dependencies.try_emplace(e.node.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.node.get());
    }
  }

  // Process nodes whose every consumer has delivered its gradient (reverse topological order).
  std::unordered_map<Node*, Tensor> pending;  // summed gradient of each node's output
  std::unordered_map<Node*, std::shared_ptr<Node>> keep_alive;
  std::vector<std::shared_ptr<Node>> ready{root_edge.node};
  pending[root_edge.node.get()] = grad_root;
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    Tensor grad = std::move(pending[node.get()]);
    pending.erase(node.get());
    std::vector<Tensor> input_grads = node->apply(grad);
    const auto& edges = node->next_edges();
    for (size_t i = 0; i < edges.size(); ++i) {
      Node* next = edges[i].node.get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor& slot = pending[next];
        slot = slot.defined() ? add(slot, input_grads[i]) : input_grads[i];
      }
      if (--dependencies[next] == 0) {
        if (pending.count(next)) ready.push_back(edges[i].node);
        else dependencies.erase(next);  // no gradient reached it: nothing to propagate
      }
    }
    if (auto* fn = dynamic_cast<FunctionNode*>(node.get())) fn->release();
  }
}

}  // namespace magmadnn::autograd
