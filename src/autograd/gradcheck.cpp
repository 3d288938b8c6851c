// Finite-difference gradient checking in float64; see autograd/gradcheck.h.
#include "magmadnn/autograd/gradcheck.h"

#include <cmath>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::autograd {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  for (const Tensor& x : inputs)
    MAGMADNN_CHECK(x.dtype() == kFloat64 && x.requires_grad() && x.is_leaf() && x.is_contiguous(),
                   "gradcheck: inputs must be contiguous float64 leaves that require grad");
  // A fixed random projection makes every output element matter.
  Tensor probe;
  {
    NoGradGuard guard;
    Tensor y = f(inputs);
    Generator gen(1234);
    std::vector<double> r(y.numel());
    for (double& v : r) v = gen.next_double() * 2 - 1;
    probe = from_vector(r, y.shape().empty() ? Shape{} : y.shape()).reshape(y.shape());
  }
  auto objective = [&](const std::vector<Tensor>& xs) { return sum(mul(f(xs), probe)); };

  for (const Tensor& x : inputs) x.impl().grad.reset();
  objective(inputs).backward();

  GradcheckResult result;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    const std::vector<double> analytic =
        x.grad().defined() ? x.grad().to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      NoGradGuard guard;
      const double saved = p[i];
      p[i] = saved + eps;
      const double fp = objective(inputs).item<double>();
      p[i] = saved - eps;
      const double fm = objective(inputs).item<double>();
      p[i] = saved;
      const double numeric = (fp - fm) / (2 * eps);
      const double err = std::abs(numeric - analytic[i]);
      const double rel = err / std::max(std::abs(numeric), 1e-12);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (err > atol) result.max_rel_error = std::max(result.max_rel_error, rel);
      if (err > atol + rtol * std::abs(numeric) && result.ok) {
        result.ok = false;
        result.message = detail::str_cat("input ", k, " element ", i, ": analytic ", analytic[i], " vs numeric ",
                                         numeric);
      }
    }
  }
  return result;
}

}  // namespace magmadnn::autograd
