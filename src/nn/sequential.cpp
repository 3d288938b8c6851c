// nn::Sequential: registration under index names and the chained forward pass.
#include "magmadnn/nn/sequential.h"

namespace magmadnn::nn {

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  MAGMADNN_CHECK(module != nullptr, "Sequential::push_back: got a null module (at index ", modules_.size(),
                 ")");
  modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = (*m)(y);
  return y;
}

void Sequential::set(size_t index, std::shared_ptr<Module> module) {
  MAGMADNN_CHECK(index < modules_.size(), "Sequential::set: index ", index, " out of range for ",
                 modules_.size(), " modules");
  MAGMADNN_CHECK(module != nullptr, "Sequential::set: got a null module (at index ", index, ")");
  replace_module(std::to_string(index), module);
  modules_[index] = std::move(module);
}

bool Sequential::child_replaceable(const std::string&, const Module&) const { return true; }

void Sequential::child_replaced(const std::string& name, const std::shared_ptr<Module>& module) {
  modules_[std::stoul(name)] = module;  // children are "0", "1", ... in order
}

std::shared_ptr<Module> Sequential::operator[](size_t index) const {
  MAGMADNN_CHECK(index < modules_.size(), "Sequential: index ", index, " out of range for ", modules_.size(),
                 " modules");
  return modules_[index];
}

}  // namespace magmadnn::nn
