// Matrix products: matmul (1-D, 2-D, batched with broadcast batch dimensions) and linear.
#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

namespace {
// out(B, M, N) = a(B, M, K) @ b(B, K, N) for 3-D views; no autograd.
Tensor bmm_raw(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  backend_for(a.device()).matmul(a, b, out, false);
  return out;
}

// Views a (..., R, C) tensor whose batch dims are `batch` (after broadcasting) as (B, R, C),
// copying only when the batch dims cannot be merged.
Tensor as_batched(const Tensor& t, const Shape& batch) {
  std::vector<int64_t> full(batch.begin(), batch.end());
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  Tensor e = t.expand(Shape(full));
  int64_t B = batch.numel();
  const int64_t nb = batch.dim();
  if (nb == 0) return make_view(e, {1, t.size(-2), t.size(-1)}, {0, e.stride(-2), e.stride(-1)}, e.offset());
  // Batch dims merge into one when their strides chain (all 0 also works).
  bool chain = true;
  for (int64_t d = 0; d + 1 < nb; ++d) chain = chain && e.stride(d) == e.stride(d + 1) * batch[d + 1];
  if (!chain) e = e.contiguous();
  return make_view(e, {B, t.size(-2), t.size(-1)}, {e.stride(nb - 1), e.stride(-2), e.stride(-1)}, e.offset());
}
}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_compatible("matmul", a, b);
  detail::check_floating("matmul", a);
  MAGMADNN_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: expected tensors with at least one dimension, got shapes ",
                 a.shape(), " and ", b.shape());
  // Checked on the caller's shapes, before 1-D operands are promoted.
  MAGMADNN_CHECK(a.size(-1) == (b.dim() == 1 ? b.size(0) : b.size(-2)), "matmul: inner dimensions differ: ",
                 a.shape(), " @ ", b.shape());
  // Vectors become matrices, and the extra dimension is removed from the result.
  if (a.dim() == 1 && b.dim() == 1) return reshape(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), Shape{});
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  MAGMADNN_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: ", a.shape(), " @ ", b.shape());
  const Shape batch_a(std::vector<int64_t>(a.shape().begin(), a.shape().end() - 2));
  const Shape batch_b(std::vector<int64_t>(b.shape().begin(), b.shape().end() - 2));
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Tensor out3 = bmm_raw(as_batched(a, batch), as_batched(b, batch));
  std::vector<int64_t> out_shape(batch.begin(), batch.end());
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = out3.view(Shape(out_shape));
  autograd::record("matmul", {a, b}, out, [a = a.detach(), b = b.detach()](const Tensor& g, const NeedsGrad& n) {
    // ga = g @ b^T, gb = a^T @ g, summed over broadcast batch dimensions.
    Tensor ga, gb;
    if (n[0]) ga = sum_to(matmul(g, b.transpose(-1, -2)), a.shape());
    if (n[1]) gb = sum_to(matmul(a.transpose(-1, -2), g), b.shape());
    return std::vector<Tensor>{ga, gb};
  });
  return out;
}

Tensor linear(const Tensor& x_in, const Tensor& weight, const Tensor& bias) {
  detail::check_compatible("linear", x_in, weight);
  detail::check_floating("linear", x_in);
  MAGMADNN_CHECK(weight.dim() == 2, "linear: expected weight (out_features, in_features), got ", weight.shape());
  const int64_t out_f = weight.size(0), in_f = weight.size(1);
  MAGMADNN_CHECK(x_in.dim() >= 1 && x_in.size(-1) == in_f, "linear(in_features=", in_f, ", out_features=", out_f,
                 "): expected input (N, ", in_f, "), got ", x_in.shape());
  if (bias.defined()) {
    detail::check_compatible("linear", x_in, bias);
    MAGMADNN_CHECK(bias.dim() == 1 && bias.size(0) == out_f, "linear(out_features=", out_f, "): expected bias (",
                   out_f, "), got ", bias.shape());
  }
  // x: (..., in) is flattened to (N, in); y: (N, out) = x @ W^T + b, bias written first and
  // accumulated into by the GEMM so the addition costs no extra pass.
  Tensor x = x_in.dim() == 2 ? x_in : x_in.detach().reshape({-1, in_f});
  const int64_t N = x.size(0);
  Tensor y = Tensor::empty({N, out_f}, x.dtype(), x.device());
  Backend& be = backend_for(x.device());
  if (bias.defined()) be.copy(bias.expand({N, out_f}), y);
  Tensor x3 = make_view(x, {1, N, in_f}, {0, x.stride(0), x.stride(1)}, x.offset());
  Tensor wt3 = make_view(weight, {1, in_f, out_f}, {0, weight.stride(1), weight.stride(0)}, weight.offset());
  Tensor y3 = make_view(y, {1, N, out_f}, {0, out_f, 1}, 0);
  be.matmul(x3, wt3, y3, /*accumulate=*/bias.defined());
  std::vector<int64_t> out_shape(x_in.shape().begin(), x_in.shape().end() - 1);
  out_shape.push_back(out_f);
  Tensor out = x_in.dim() == 2 ? y : y.view(Shape(out_shape));
  autograd::record("linear", {x_in, weight, bias}, out,
                   [x = x.detach(), w = weight.detach(), in_shape = x_in.shape(), has_bias = bias.defined()](
                       const Tensor& g_out, const NeedsGrad& n) {
                     Tensor g = g_out.dim() == 2 ? g_out : g_out.reshape({-1, g_out.size(-1)});
                     Tensor gx, gw, gb;
                     if (n[0]) gx = matmul(g, w).reshape(in_shape);  // (N, out) @ (out, in)
                     if (n[1]) gw = matmul(g.t(), x);                 // (out, N) @ (N, in)
                     if (has_bias && n[2]) gb = sum(g, {0});          // (out)
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return out;
}

}  // namespace magmadnn
