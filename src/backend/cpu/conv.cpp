// CPU 2-D convolution: oneDNN primitives for float32, plain loops for float64 (gradient checks).
#include "backend/cpu/cpu_backend.h"

namespace magmadnn::cpu {
void CpuBackend::conv2d(const Tensor&, const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_ERROR("conv2d: not implemented yet on the cpu backend");
}
void CpuBackend::conv2d_backward_data(const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_ERROR("conv2d_backward_data: not implemented yet on the cpu backend");
}
void CpuBackend::conv2d_backward_weights(const Tensor&, const Tensor&, Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_ERROR("conv2d_backward_weights: not implemented yet on the cpu backend");
}
}  // namespace magmadnn::cpu
