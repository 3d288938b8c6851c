// The CUDA query API in a build without the CUDA backend (MAGMADNN_WITH_CUDA=OFF): no devices,
// and every question about one is answered with a clear Error.
#include <atomic>

#include "backend/cuda/cuda_register.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/backend/cuda_graph.h"
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
double device_seconds(int, const std::function<void()>&) { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
Allocator& pinned_host_allocator() { MAGMADNN_ERROR("no CUDA device: ", kNotBuilt); }
// Stored so that code setting it runs unchanged in a CPU-only build; nothing reads it here.
namespace {
std::atomic<bool> g_allow_tf32{false};
}
void set_allow_tf32(bool enabled) { g_allow_tf32.store(enabled); }
bool allow_tf32() { return g_allow_tf32.load(); }
std::atomic<bool> g_cudnn_benchmark{false};
void set_cudnn_benchmark(bool enabled) { g_cudnn_benchmark.store(enabled); }
bool cudnn_benchmark() { return g_cudnn_benchmark.load(); }

std::vector<std::string> describe_lines() { return {"cuda: not built (MAGMADNN_WITH_CUDA=OFF)"}; }

struct Graph::Impl {};
Graph::Graph(int) { MAGMADNN_ERROR("cuda::Graph: no CUDA device: ", kNotBuilt); }
Graph::~Graph() = default;
void Graph::capture(const std::function<void()>&) { MAGMADNN_ERROR("cuda::Graph: ", kNotBuilt); }
void Graph::replay() { MAGMADNN_ERROR("cuda::Graph: ", kNotBuilt); }
bool Graph::captured() const { return false; }
int64_t Graph::replays() const { return 0; }
void Graph::reset() {}

std::unique_ptr<Backend> make_cuda_backend_if_available() { return nullptr; }
void select_device(int) {}

}  // namespace magmadnn::cuda
