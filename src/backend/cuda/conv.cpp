// CUDA backend: 2-D convolution (cuDNN) -- to be written.
#include "backend/cuda/cuda_backend.h"

namespace magmadnn::cuda {

#define MAGMADNN_CUDA_TODO(op) MAGMADNN_ERROR("CUDA backend: ", op, " not implemented yet")

void CudaBackend::conv2d(const Tensor&, const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_CUDA_TODO("conv2d");
}
void CudaBackend::conv2d_backward_data(const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_CUDA_TODO("conv2d_backward_data");
}
void CudaBackend::conv2d_backward_weights(const Tensor&, const Tensor&, Tensor&, Tensor&, const Conv2dParams&) {
  MAGMADNN_CUDA_TODO("conv2d_backward_weights");
}

}  // namespace magmadnn::cuda
