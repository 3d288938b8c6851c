// The CUDA query API in a build without the CUDA backend (MAGMADNN_WITH_CUDA=OFF): no devices,
// and every question about one is answered with a clear Error.
#include "backend/cuda/cuda_register.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/core/error.h"

namespace magmadnn::cuda {

namespace {
constexpr const char* kNotBuilt = "this build of MagmaDNN has no CUDA backend (configured with MAGMADNN_WITH_CUDA=OFF)";
}

bool is_built() { return false; }
int device_count() { return 0; }
bool is_available() { return false; }
std::string unavailable_reason() { return kNotBuilt; }
DeviceProperties device_properties(int index) { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
LibraryVersions library_versions() {
  const std::string s = "not built with CUDA";
  return {s, s, s, s, s};
}
MemoryStats memory_stats(int index) { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
void empty_cache(int index) { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
void synchronize(int index) { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
Allocator& pinned_host_allocator() { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
std::vector<std::string> describe_lines() { return {"cuda: not built (MAGMADNN_WITH_CUDA=OFF)"}; }

std::unique_ptr<Backend> make_cuda_backend_if_available() { return nullptr; }
void select_device(int) {}

}  // namespace magmadnn::cuda
