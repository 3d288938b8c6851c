// nn::Sequential: a chain of modules applied in order; children are named "0", "1", ... as in
// PyTorch, so state-dict keys read "0.weight", "2.bias".
#pragma once

#include <initializer_list>

#include "magmadnn/nn/module.h"

namespace magmadnn::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  // Sequential(std::make_shared<Linear>(2, 3), std::make_shared<ReLU>()) (also via make_shared).
  template <class M, class... Ms>
  explicit Sequential(std::shared_ptr<M> first, std::shared_ptr<Ms>... rest) {
    push_back(std::move(first));
    (push_back(std::move(rest)), ...);
  }

  void push_back(std::shared_ptr<Module> module);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }
  // Folds each BatchNorm2d that follows a Conv2d into it and fuses a following ReLU into the
  // convolution (the replaced modules become Identity), after fusing inside the children.
  void fuse_for_inference() override;

  // Replaces the module at `index` (child "index"); throws Error when out of range or null.
  void set(size_t index, std::shared_ptr<Module> module);

  size_t size() const { return modules_.size(); }
  bool empty() const { return modules_.empty(); }
  // Throws Error when out of range.
  std::shared_ptr<Module> operator[](size_t index) const;
  // The module at `index` as its concrete type; throws Error when it is another type.
  template <class M>
  std::shared_ptr<M> at(size_t index) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[index]);
    MAGMADNN_CHECK(m != nullptr, "Sequential::at(", index, "): module is ", (*this)[index]->name());
    return m;
  }

 protected:
  // Every layer is called through the list, so any module may replace any of them.
  bool child_replaceable(const std::string& name, const Module& module) const override;
  void child_replaced(const std::string& name, const std::shared_ptr<Module>& module) override;

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace magmadnn::nn
