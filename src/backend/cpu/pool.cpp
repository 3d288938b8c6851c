// CPU pooling: oneDNN primitives for float32, plain loops for float64 and adaptive pooling.
#include "backend/cpu/cpu_backend.h"

namespace magmadnn::cpu {
void CpuBackend::pool2d(const Tensor&, Tensor&, Tensor&, const Pool2dParams&) {
  MAGMADNN_ERROR("pool2d: not implemented yet on the cpu backend");
}
void CpuBackend::pool2d_backward(const Tensor&, const Tensor&, Tensor&, const Pool2dParams&) {
  MAGMADNN_ERROR("pool2d_backward: not implemented yet on the cpu backend");
}
void CpuBackend::adaptive_avg_pool2d(const Tensor&, Tensor&) {
  MAGMADNN_ERROR("adaptive_avg_pool2d: not implemented yet on the cpu backend");
}
void CpuBackend::adaptive_avg_pool2d_backward(const Tensor&, Tensor&) {
  MAGMADNN_ERROR("adaptive_avg_pool2d_backward: not implemented yet on the cpu backend");
}
}  // namespace magmadnn::cpu
