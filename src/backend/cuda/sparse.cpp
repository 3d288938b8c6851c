// CUDA backend: CSR sparse x dense products (cuSPARSE) -- to be written.
#include "backend/cuda/cuda_backend.h"

namespace magmadnn::cuda {

#define MAGMADNN_CUDA_TODO(op) MAGMADNN_ERROR("CUDA backend: ", op, " not implemented yet")

void CudaBackend::spmm_csr(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&) {
  MAGMADNN_CUDA_TODO("spmm_csr");
}

}  // namespace magmadnn::cuda
