// The CPU backend: oneDNN for GEMM (and later convolution, pooling, batch norm), and our own
// vectorised OpenMP loops for elementwise ops, reductions, indexing and optimizer updates.
// Kernels are split over files by family: elementwise.cpp, reduce.cpp, matmul.cpp, softmax.cpp,
// index.cpp, optim.cpp; memory and random fills are in cpu_backend.cpp.
#pragma once

#include <memory>

#include "magmadnn/backend/backend.h"

namespace magmadnn::cpu {

class CpuBackend : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  std::string describe() const override;
  Allocator& allocator() override { return cpu_allocator(); }

  void copy(const Tensor& src, Tensor& dst) override;
  void fill(Tensor& dst, double value) override;
  void arange(Tensor& dst, double start, double step) override;
  void uniform(Tensor& dst, double low, double high, Generator& gen) override;
  void normal(Tensor& dst, double mean, double std, Generator& gen) override;
  void bernoulli(Tensor& dst, double p, Generator& gen) override;

  void unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) override;

  void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes, Tensor& out) override;
  void argmax(const Tensor& x, int64_t axis, Tensor& out) override;

  void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) override;

  void softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) override;
  void softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t axis, bool log, Tensor& grad_x) override;
  void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, Reduction reduction,
                     Tensor& log_probs, Tensor& loss) override;
  void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                              Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) override;

  void index_select(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) override;
  void index_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) override;
  void scatter_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) override;

  void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdParams& p) override;
  void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                 const AdamParams& p) override;
  void adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) override;
  void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                    Tensor& grad_avg, const RmspropParams& p) override;

  // --- convolution, pooling, normalization (conv.cpp, pool.cpp, batchnorm.cpp) ---
  void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out, const Conv2dParams& p) override;
  void conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, Tensor& grad_x,
                            const Conv2dParams& p) override;
  void conv2d_backward_weights(const Tensor& x, const Tensor& grad_out, Tensor& grad_weight, Tensor& grad_bias,
                               const Conv2dParams& p) override;
  void conv2d_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, Tensor& grad_x,
                       Tensor& grad_weight, Tensor& grad_bias, const Conv2dParams& p) override;
  void pool2d(const Tensor& x, Tensor& out, Tensor& workspace, const Pool2dParams& p) override;
  void pool2d_backward(const Tensor& grad_out, const Tensor& workspace, Tensor& grad_x, const Pool2dParams& p) override;
  void adaptive_avg_pool2d(const Tensor& x, Tensor& out) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x) override;
  void batch_norm_stats(const Tensor& x, Tensor& mean, Tensor& var) override;
  void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& mean, Tensor& var, bool training,
                  double eps, Tensor& out) override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                           const Tensor& var, bool training, double eps, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override;

  // --- sparse (sparse.cpp) ---
  void spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values, const Tensor& x,
                const Tensor& c, Tensor& out) override;
};

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace magmadnn::cpu
