// cuda::Graph (backend/cuda_graph.h): stream capture into a private allocator pool, instantiate,
// replay on the device's stream. Captured random fills (random.cu) are counted during capture;
// each replay takes that many Philox offsets from their generator and writes it to the device.
#include "magmadnn/backend/cuda_graph.h"

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_errors.h"

namespace magmadnn::cuda {

struct Graph::Impl {
  int device = 0;
  cudaGraphExec_t exec = nullptr;
  CachingAllocator::PoolId pool = 0;
  int64_t replays = 0;
  CapturedRandom random;  // the generator and number of the captured random fills
};

Graph::Graph(int device) : impl_(std::make_unique<Impl>()) {
  MAGMADNN_CHECK(device >= 0 && device < device_count(), "cuda::Graph: no CUDA device ", device, " (",
                 device_count(), " found", device_count() == 0 ? ": " + unavailable_reason() : std::string(), ")");
  impl_->device = device;
}

Graph::~Graph() {
  try {
    reset();
  } catch (...) {  // a destructor must not throw; the driver reclaims the graph at exit
  }
}

bool Graph::captured() const { return impl_->exec != nullptr; }
int64_t Graph::replays() const { return impl_->replays; }

void Graph::reset() {
  if (!impl_->exec && !impl_->pool) return;
  DeviceGuard g(impl_->device);
  if (impl_->exec) {
    // Replays already queued keep running; the pool's blocks go back to the shared cache, whose
    // next users are ordered after them on the same stream.
    MAGMADNN_CUDA_CHECK(cudaGraphExecDestroy(impl_->exec));
    impl_->exec = nullptr;
  }
  if (impl_->pool) device_cache(impl_->device).release_pool(impl_->pool);
  impl_->pool = 0;
  impl_->replays = 0;
  impl_->random = {};
}

void Graph::capture(const std::function<void()>& body) {
  reset();
  DeviceGuard g(impl_->device);
  CachingAllocator& cache = device_cache(impl_->device);
  cudaStream_t s = stream();
  // Made now if they do not exist yet: the error sink is set up with a synchronous cudaMemset on
  // the legacy stream, and using the legacy stream while a blocking stream (stream() is one) is
  // being captured invalidates the capture; cuBLAS handle creation is kept out of it too.
  (void)device_error_sink();
  (void)cublas_handle();
  impl_->pool = cache.create_pool();
  cache.begin_pool(impl_->pool);
  // Relaxed: the allocator may cudaMalloc a new block during capture (that is not stream work).
  MAGMADNN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  cudaGraph_t graph = nullptr;
  CapturedRandom random;
  struct ActiveCapture {  // captured_random() points at `random` while body runs
    explicit ActiveCapture(CapturedRandom* r) { captured_random() = r; }
    ~ActiveCapture() { captured_random() = nullptr; }
  };
  try {
    ActiveCapture active(&random);
    body();
  } catch (...) {
    (void)cudaStreamEndCapture(s, &graph);
    if (graph) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();
    cache.end_pool();
    reset();
    throw;
  }
  const cudaError_t end = cudaStreamEndCapture(s, &graph);
  cache.end_pool();
  if (end != cudaSuccess || graph == nullptr) {
    (void)cudaGetLastError();
    reset();
    MAGMADNN_ERROR("cuda::Graph: capture failed (", cudaGetErrorName(end), ": ", cudaGetErrorString(end),
                   "); the captured code used the host or another stream");
  }
  impl_->random = random;
  const cudaError_t inst = cudaGraphInstantiate(&impl_->exec, graph, 0);
  (void)cudaGraphDestroy(graph);  // the executable graph keeps what it needs
  if (inst != cudaSuccess) {
    (void)cudaGetLastError();  // not left for the next kernel's launch check to report
    impl_->exec = nullptr;
    reset();
    MAGMADNN_ERROR("cuda::Graph: cudaGraphInstantiate failed: ", cudaGetErrorName(inst), " (",
                   cudaGetErrorString(inst), ")");
  }
}

void Graph::replay() {
  MAGMADNN_CHECK(impl_->exec, "cuda::Graph::replay: nothing captured");
  DeviceGuard g(impl_->device);
  if (const CapturedRandom& r = impl_->random; r.fills > 0)  // this replay's draws: the next r.fills offsets
    set_random_state(r.generator->philox_key(), r.generator->take_philox_offsets(r.fills));
  MAGMADNN_CUDA_CHECK(cudaGraphLaunch(impl_->exec, stream()));
  ++impl_->replays;
}

}  // namespace magmadnn::cuda
