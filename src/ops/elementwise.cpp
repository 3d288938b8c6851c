// Elementwise arithmetic ops with NumPy broadcasting, and their backward functions.
#include <cmath>
#include <limits>

#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;
using detail::launch_binary;
using detail::launch_unary;

// ------------------------------------------------------------------ tensor (op) tensor

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary("add", BinaryOp::Add, a, b);
  autograd::record("add", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Tensor& g, const NeedsGrad& n) {
    return std::vector<Tensor>{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(g, sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary("sub", BinaryOp::Sub, a, b);
  autograd::record("sub", {a, b}, out, [sa = a.shape(), sb = b.shape()](const Tensor& g, const NeedsGrad& n) {
    return std::vector<Tensor>{n[0] ? sum_to(g, sa) : Tensor(), n[1] ? sum_to(neg(g), sb) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary("mul", BinaryOp::Mul, a, b);
  autograd::record("mul", {a, b}, out, [a = a.detach(), b = b.detach()](const Tensor& g, const NeedsGrad& n) {
    return std::vector<Tensor>{n[0] ? sum_to(mul(g, b), a.shape()) : Tensor(),
                               n[1] ? sum_to(mul(g, a), b.shape()) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary("div", BinaryOp::Div, a, b);
  autograd::record("div", {a, b}, out, [a = a.detach(), b = b.detach()](const Tensor& g, const NeedsGrad& n) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
    return std::vector<Tensor>{n[0] ? sum_to(div(g, b), a.shape()) : Tensor(),
                               n[1] ? sum_to(neg(div(mul(g, a), mul(b, b))), b.shape()) : Tensor()};
  });
  return out;
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary("pow", BinaryOp::Pow, a, b);
  autograd::record("pow", {a, b}, out,
                   [a = a.detach(), b = b.detach(), y = out.detach()](const Tensor& g, const NeedsGrad& n) {
                     // d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log(a)
                     return std::vector<Tensor>{n[0] ? sum_to(mul(g, mul(b, pow(a, sub(b, 1.0)))), a.shape()) : Tensor(),
                                                n[1] ? sum_to(mul(g, mul(y, log(a))), b.shape()) : Tensor()};
                   });
  return out;
}

namespace {
// maximum/minimum: the gradient goes to the selected operand, split evenly on ties (as PyTorch).
Tensor extremum(const char* name, BinaryOp op, BinaryOp wins, const Tensor& a, const Tensor& b) {
  Tensor out = launch_binary(name, op, a, b);
  autograd::record(name, {a, b}, out, [a = a.detach(), b = b.detach(), wins](const Tensor& g, const NeedsGrad& n) {
    Tensor tie = mul(launch_binary("eq", BinaryOp::Eq, a, b), 0.5);
    Tensor wa = add(launch_binary("cmp", wins, a, b), tie);  // weight of a: 1, 0.5 or 0
    return std::vector<Tensor>{n[0] ? sum_to(mul(g, wa), a.shape()) : Tensor(),
                               n[1] ? sum_to(mul(g, 1.0 - wa), b.shape()) : Tensor()};
  });
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", BinaryOp::Maximum, BinaryOp::Gt, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", BinaryOp::Minimum, BinaryOp::Lt, a, b); }

Tensor eq(const Tensor& a, const Tensor& b) { return launch_binary("eq", BinaryOp::Eq, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return launch_binary("gt", BinaryOp::Gt, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return launch_binary("lt", BinaryOp::Lt, a, b); }

// ------------------------------------------------------------------ tensor (op) scalar

namespace {
Tensor scalar_op(const char* name, UnaryOp op, const Tensor& x, double s) {
  detail::check_floating(name, x);
  return launch_unary(op, x, s);
}
}  // namespace

Tensor add(const Tensor& a, double b) {
  Tensor out = scalar_op("add", UnaryOp::AddScalar, a, b);
  autograd::record("add_scalar", {a}, out, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor sub(const Tensor& a, double b) { return add(a, -b); }

Tensor mul(const Tensor& a, double b) {
  Tensor out = scalar_op("mul", UnaryOp::MulScalar, a, b);
  autograd::record("mul_scalar", {a}, out,
                   [b](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{mul(g, b)}; });
  return out;
}

Tensor div(const Tensor& a, double b) { return mul(a, 1.0 / b); }

Tensor pow(const Tensor& a, double p) {
  Tensor out = scalar_op("pow", UnaryOp::PowScalar, a, p);
  autograd::record("pow_scalar", {a}, out, [a = a.detach(), p](const Tensor& g, const NeedsGrad&) {
    if (p == 0.0) return std::vector<Tensor>{zeros_like(g)};  // not 0 * pow(0, -1) = NaN at a = 0
    return std::vector<Tensor>{mul(g, mul(pow(a, p - 1.0), p))};
  });
  return out;
}

Tensor operator-(double a, const Tensor& b) {
  Tensor out = scalar_op("rsub", UnaryOp::RSubScalar, b, a);
  autograd::record("rsub_scalar", {b}, out, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{neg(g)}; });
  return out;
}

Tensor operator/(double a, const Tensor& b) {
  Tensor out = scalar_op("rdiv", UnaryOp::RDivScalar, b, a);
  autograd::record("rdiv_scalar", {b}, out, [a, b = b.detach()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{neg(div(mul(g, a), mul(b, b)))};  // d(a/b)/db = -a/b^2
  });
  return out;
}

// ------------------------------------------------------------------ unary

Tensor neg(const Tensor& x) {
  detail::check_floating("neg", x);
  Tensor out = launch_unary(UnaryOp::Neg, x);
  autograd::record("neg", {x}, out, [](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{neg(g)}; });
  return out;
}

Tensor exp(const Tensor& x) {
  detail::check_floating("exp", x);
  Tensor out = launch_unary(UnaryOp::Exp, x);
  autograd::record("exp", {x}, out,
                   [y = out.detach()](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{mul(g, y)}; });
  return out;
}

Tensor log(const Tensor& x) {
  detail::check_floating("log", x);
  Tensor out = launch_unary(UnaryOp::Log, x);
  autograd::record("log", {x}, out,
                   [x = x.detach()](const Tensor& g, const NeedsGrad&) { return std::vector<Tensor>{div(g, x)}; });
  return out;
}

Tensor sqrt(const Tensor& x) {
  detail::check_floating("sqrt", x);
  Tensor out = launch_unary(UnaryOp::Sqrt, x);
  autograd::record("sqrt", {x}, out, [y = out.detach()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{div(g, mul(y, 2.0))};  // 1 / (2 sqrt(x))
  });
  return out;
}

Tensor abs(const Tensor& x) {
  detail::check_floating("abs", x);
  Tensor out = launch_unary(UnaryOp::Abs, x);
  autograd::record("abs", {x}, out, [x = x.detach()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{launch_binary("abs_backward", BinaryOp::AbsBackward, g, x)};
  });
  return out;
}

Tensor square(const Tensor& x) {
  detail::check_floating("square", x);
  Tensor out = launch_unary(UnaryOp::Square, x);
  autograd::record("square", {x}, out, [x = x.detach()](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{mul(mul(g, x), 2.0)};
  });
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  detail::check_floating("clamp", x);
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  MAGMADNN_CHECK(lo <= hi, "clamp: min ", lo, " is greater than max ", hi);
  Tensor out = launch_unary(UnaryOp::Clamp, x, lo, hi);
  autograd::record("clamp", {x}, out, [x = x.detach(), lo, hi](const Tensor& g, const NeedsGrad&) {
    return std::vector<Tensor>{launch_binary("clamp_backward", BinaryOp::ClampBackward, g, x, lo, hi)};
  });
  return out;
}

}  // namespace magmadnn
