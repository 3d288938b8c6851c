// The hook between the backend registry (src/backend/backend.cpp) and the CUDA backend, free of
// vendor headers: cuda_backend.cpp implements it in CUDA builds, cuda_stub.cpp otherwise.
#pragma once

#include <memory>

#include "magmadnn/backend/backend.h"

namespace magmadnn::cuda {

// The CUDA backend when at least one device is usable, else nullptr (see unavailable_reason()).
std::unique_ptr<Backend> make_cuda_backend_if_available();

// Makes device `index` current for this thread (cudaSetDevice when it differs), so the storage
// and kernels of an op on cuda:N go to device N; backend_for calls it for every CUDA device.
void select_device(int index);

}  // namespace magmadnn::cuda
