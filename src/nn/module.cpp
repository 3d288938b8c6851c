// nn::Module: registration, recursive traversal, state dicts, mode switching and in-place
// device/dtype moves shared by every layer.
#include "magmadnn/nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <typeinfo>

#include "magmadnn/autograd/autograd.h"

namespace magmadnn::nn {

namespace {
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Points `dst`'s handle at `src`'s data so that every copy of the handle sees the new tensor.
void rebind(Tensor& dst, const Tensor& src) {
  TensorImpl& d = dst.impl();
  d.storage = src.storage();
  d.shape = src.shape();
  d.strides = src.strides();
  d.offset = src.offset();
  d.dtype = src.dtype();
}
}  // namespace

std::string Module::name() const {
  // The dynamic class name without namespaces, so user modules print sensibly without overriding.
  const char* mangled = typeid(*this).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                   std::free);
  std::string full = status == 0 && demangled ? demangled.get() : mangled;
  const size_t colon = full.rfind("::", full.find('<'));  // namespaces of Foo<ns::Bar> stay
  return colon == std::string::npos ? full : full.substr(colon + 2);
}

std::string Module::name_for_errors() const {
  return name();
}

void Module::check_new_name(const std::string& name, const char* what) const {
  MAGMADNN_CHECK(!name.empty() && name.find('.') == std::string::npos, name_for_errors(), ": ", what,
                 ": name must be non-empty and contain no '.', got '", name, "'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  MAGMADNN_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), name_for_errors(), ": ", what,
                 ": name '", name, "' is already registered");
}

Tensor& Module::register_parameter(std::string name, Tensor tensor) {
  check_new_name(name, "register_parameter");
  MAGMADNN_CHECK(tensor.defined(), name_for_errors(), ": register_parameter('", name,
                 "') got an undefined tensor");
  if (!tensor.is_leaf()) tensor = tensor.detach();
  tensor.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), std::move(tensor));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(std::string name, Tensor tensor) {
  check_new_name(name, "register_buffer");
  MAGMADNN_CHECK(tensor.defined(), name_for_errors(), ": register_buffer('", name,
                 "') got an undefined tensor");
  buffers_.emplace_back(std::move(name), std::move(tensor));
  return buffers_.back().second;
}

void Module::collect_parameters(const std::string& prefix,
                                std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : parameters_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, c] : children_) c->collect_parameters(join(prefix, n), out);
}

void Module::collect_buffers(const std::string& prefix,
                             std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : buffers_) out.emplace_back(join(prefix, n), t);
  for (const auto& [n, c] : children_) c->collect_buffers(join(prefix, n), out);
}

namespace {
// Keeps the first occurrence of each tensor (a parameter shared by two layers is one parameter).
std::vector<std::pair<std::string, Tensor>> dedupe(std::vector<std::pair<std::string, Tensor>> all) {
  std::set<const TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl_ptr().get()).second) out.push_back(std::move(entry));
  return out;
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect_parameters("", all);
  return dedupe(std::move(all));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect_buffers("", all);
  return dedupe(std::move(all));
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_buffers()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [_, c] : children_) out.push_back(c);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> sd;
  for (auto& [n, t] : named_parameters()) sd.emplace(n, t.detach());
  for (auto& [n, t] : named_buffers()) sd.emplace(n, t.detach());
  return sd;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& sd, bool strict) {
  std::vector<std::pair<std::string, Tensor>> own = named_parameters();
  for (auto& entry : named_buffers()) own.push_back(entry);

  std::vector<std::string> problems;
  std::set<std::string> own_names;
  for (const auto& [n, t] : own) {
    own_names.insert(n);
    auto it = sd.find(n);
    if (it == sd.end()) {
      if (strict) problems.push_back("missing key '" + n + "'");
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      problems.push_back("key '" + n + "' holds an undefined tensor");
      continue;
    }
    if (src.shape() != t.shape())
      problems.push_back(detail::str_cat("shape mismatch for '", n, "': expected ", t.shape(),
                                         " (module), got ", src.shape(), " (state dict)"));
    if (src.dtype() != t.dtype())
      problems.push_back(detail::str_cat("dtype mismatch for '", n, "': expected ", t.dtype(),
                                         " (module), got ", src.dtype(), " (state dict)"));
  }
  if (strict)
    for (const auto& [n, _] : sd)
      if (!own_names.count(n)) problems.push_back("unexpected key '" + n + "'");

  throw_if_load_problems(name(), problems);

  NoGradGuard no_grad;
  for (auto& [n, t] : own) {
    auto it = sd.find(n);
    if (it == sd.end()) continue;
    // A state dict from this very module shares storage: copying onto itself is harmless.
    Tensor dst = t;
    dst.copy_(it->second);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, c] : children_) c->train(on);
}

template <class F>
void Module::for_each_tensor(F&& f) {
  for (auto& [_, t] : parameters_) f(t);
  for (auto& [_, t] : buffers_) f(t);
  for (auto& [_, c] : children_) c->for_each_tensor(f);
}

void Module::to(Device device) {
  std::set<const TensorImpl*> done;
  for_each_tensor([&](Tensor& t) {
    if (!done.insert(t.impl_ptr().get()).second || t.device() == device) return;
    rebind(t, t.detach().to(device));
    Tensor g = t.grad();
    if (g.defined()) t.set_grad(g.to(device));
  });
}

void Module::to(DType dtype) {
  MAGMADNN_CHECK(is_floating(dtype), name(), ": to(", dtype,
                 "): modules can only be converted to a floating dtype");
  std::set<const TensorImpl*> done;
  for_each_tensor([&](Tensor& t) {
    if (!done.insert(t.impl_ptr().get()).second || !is_floating(t.dtype()) || t.dtype() == dtype) return;
    rebind(t, t.detach().to(dtype));
    Tensor g = t.grad();
    if (g.defined()) t.set_grad(g.to(dtype));
  });
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void Module::print_tree(std::ostream& os, int indent) const {
  os << name();
  if (children_.empty()) return;
  os << "(\n";
  const std::string pad(indent + 2, ' ');
  for (const auto& [n, c] : children_) {
    os << pad << "(" << n << "): ";
    c->print_tree(os, indent + 2);
    os << "\n";
  }
  os << std::string(indent, ' ') << ")";
}

namespace {
thread_local ForwardObserver* forward_observer = nullptr;
}  // namespace

Tensor Module::operator()(const Tensor& x) {
  if (!forward_observer) return forward(x);
  Tensor y = forward(x);
  (*forward_observer)(*this, x, y);
  return y;
}

ForwardObserverGuard::ForwardObserverGuard(ForwardObserver observer)
    : observer_(std::move(observer)), previous_(forward_observer) {
  forward_observer = &observer_;
}
ForwardObserverGuard::~ForwardObserverGuard() { forward_observer = previous_; }

std::string Module::summary() const {
  std::ostringstream os;
  print_tree(os, 0);
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& module) {
  return os << module.summary();
}

void Module::fuse_for_inference() {
  for (auto& [name, child] : children_) child->fuse_for_inference();
}

bool Module::child_replaceable(const std::string&, const Module&) const { return false; }
void Module::child_replaced(const std::string&, const std::shared_ptr<Module>&) {}

bool Module::accepts_child(const std::string& name, const Module& module) const {
  for (const auto& [child_name, child] : children_)
    if (child_name == name) return child_replaceable(name, module);
  return false;
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  MAGMADNN_CHECK(module != nullptr, name_for_errors(), ": replace_child('", name, "') got a null module");
  bool known = false;
  for (const auto& [child_name, child] : children_) known = known || child_name == name;
  MAGMADNN_CHECK(known, name_for_errors(), ": replace_child: no child named '", name, "'");
  MAGMADNN_CHECK(child_replaceable(name, *module), name_for_errors(), ": replace_child: cannot put ", module->name(),
                 " in place of '", name,
                 "' (it calls that child through a member of its own, which the swap would not reach or which cannot "
                 "hold that module)");
  replace_module(name, module);
  child_replaced(name, module);
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  MAGMADNN_CHECK(module != nullptr, name_for_errors(), ": replace_module('", name, "') got a null module");
  for (auto& [child_name, child] : children_) {
    if (child_name == name) {
      child = std::move(module);
      return;
    }
  }
  MAGMADNN_ERROR(name_for_errors(), ": replace_module: no child named '", name, "'");
}

}  // namespace magmadnn::nn
