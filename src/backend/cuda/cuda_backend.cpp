// CUDA backend, host side: device discovery and the query API of backend/cuda.h, the caching
// device allocator, copies between host and device, cuBLAS matmul, random fills (drawn on the
// host from the Generator, so CPU and CUDA give the same numbers), and the kernels still to come.
#include "backend/gemm_layout.h"
#include "backend/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cudnn.h>
#include <cusparse.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>

#include "backend/cuda/cuda_register.h"
#include "backend/cuda/device_errors.h"

namespace magmadnn::cuda {

// ------------------------------------------------------------------------------ discovery

namespace {
struct Discovery {
  int count = 0;
  std::string reason;
};
const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery r;
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // not sticky, but leave no error behind
      r.reason = detail::str_cat("cudaGetDeviceCount: ", cudaGetErrorString(err));
    } else if (n == 0) {
      r.reason = "the CUDA runtime found 0 devices";
    }
    r.count = err == cudaSuccess ? n : 0;
    return r;
  }();
  return d;
}

void check_index(int index, const char* what) {
  const int n = device_count();
  MAGMADNN_CHECK(n > 0, "no CUDA device: ", unavailable_reason(), " (", what, ")");
  MAGMADNN_CHECK(index >= 0 && index < n, what, ": no CUDA device ", index, " (", n, n == 1 ? " device" : " devices",
                 " found)");
}

std::string version_str(int major, int minor, int patch = -1) {
  return patch >= 0 ? detail::str_cat(major, ".", minor, ".", patch) : detail::str_cat(major, ".", minor);
}

}  // namespace

bool is_built() { return true; }
int device_count() { return discovery().count; }
bool is_available() { return device_count() > 0; }
std::string unavailable_reason() { return discovery().reason; }

DeviceProperties device_properties(int index) {
  check_index(index, "device_properties");
  cudaDeviceProp p{};
  MAGMADNN_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceProperties d;
  d.index = index;
  d.name = p.name;
  d.total_memory = p.totalGlobalMem;
  d.major = p.major;
  d.minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  return d;
}

LibraryVersions library_versions() {
  LibraryVersions v;
  int driver = 0, runtime = 0;
  v.driver = cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0
                 ? version_str(driver / 1000, (driver % 1000) / 10)
                 : std::string("unavailable (no driver)");
  v.runtime = cudaRuntimeGetVersion(&runtime) == cudaSuccess ? version_str(runtime / 1000, (runtime % 1000) / 10)
                                                              : std::string("unavailable");
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    v.cublas = version_str(major, minor, patch);
  else
    v.cublas = "unavailable";
  const size_t dnn = cudnnGetVersion();  // cuDNN 9: major * 10000 + minor * 100 + patch
  v.cudnn = version_str(static_cast<int>(dnn / 10000), static_cast<int>(dnn % 10000 / 100), static_cast<int>(dnn % 100));
  if (cusparseGetProperty(MAJOR_VERSION, &major) == CUSPARSE_STATUS_SUCCESS &&
      cusparseGetProperty(MINOR_VERSION, &minor) == CUSPARSE_STATUS_SUCCESS &&
      cusparseGetProperty(PATCH_LEVEL, &patch) == CUSPARSE_STATUS_SUCCESS)
    v.cusparse = version_str(major, minor, patch);
  else
    v.cusparse = "unavailable";
  return v;
}

std::vector<std::string> describe_lines() {
  std::vector<std::string> lines;
  const LibraryVersions v = library_versions();
  const std::string libs = detail::str_cat("driver ", v.driver, ", runtime ", v.runtime, ", cuBLAS ", v.cublas,
                                           ", cuDNN ", v.cudnn, ", cuSPARSE ", v.cusparse);
  if (!is_available()) {
    lines.push_back(detail::str_cat("cuda: no device (", unavailable_reason(), "); built with ", libs));
    return lines;
  }
  for (int i = 0; i < device_count(); ++i) {
    const DeviceProperties p = device_properties(i);
    lines.push_back(detail::str_cat("cuda:", i, ": ", p.name, ", ", p.total_memory / (1024 * 1024), " MiB, compute ",
                                    p.major, ".", p.minor, ", ", p.multiprocessors, " SMs"));
  }
  lines.push_back(detail::str_cat("cuda libraries: ", libs));
  return lines;
}

void synchronize(int index) {
  check_index(index, "synchronize");
  DeviceGuard g(index);
  MAGMADNN_CUDA_CHECK(cudaDeviceSynchronize());
  raise_device_errors();
}

double device_seconds(int index, const std::function<void()>& work) {
  check_index(index, "device_seconds");
  DeviceGuard g(index);
  struct Events {  // destroyed on every path
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start) (void)cudaEventDestroy(start);
      if (stop) (void)cudaEventDestroy(stop);
    }
  } e;
  MAGMADNN_CUDA_CHECK(cudaEventCreate(&e.start));
  MAGMADNN_CUDA_CHECK(cudaEventCreate(&e.stop));
  MAGMADNN_CUDA_CHECK(cudaEventRecord(e.start, stream()));
  try {
    work();
  } catch (...) {
    (void)cudaStreamSynchronize(stream());
    throw;
  }
  MAGMADNN_CUDA_CHECK(cudaEventRecord(e.stop, stream()));
  MAGMADNN_CUDA_CHECK(cudaEventSynchronize(e.stop));
  raise_device_errors();
  float ms = 0;
  MAGMADNN_CUDA_CHECK(cudaEventElapsedTime(&ms, e.start, e.stop));
  return ms * 1e-3;
}

// ------------------------------------------------------------------------------ memory

namespace {
void* raw_cuda_alloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // clear cudaErrorMemoryAllocation; the caller reports OOM
    return nullptr;
  }
  return p;
}
void raw_cuda_free(void* p) { (void)cudaFree(p); }

// The CachingAllocator with the device made current around each driver call.
class DeviceAllocator : public Allocator {
 public:
  CachingAllocator& cache() { return cache_; }
  explicit DeviceAllocator(int index) : index_(index), cache_(Device::cuda(index), raw_cuda_alloc, raw_cuda_free) {}
  void* allocate(size_t bytes) override {
    DeviceGuard g(index_);
    return cache_.allocate(bytes);
  }
  void deallocate(void* ptr, size_t bytes) override { cache_.deallocate(ptr, bytes); }
  MemoryStats stats() const override { return cache_.stats(); }
  void reset_peak() override { cache_.reset_peak(); }
  void empty_cache() override {
    DeviceGuard g(index_);
    // Queued kernels may still use cached blocks: wait before cudaFree returns them.
    MAGMADNN_CUDA_CHECK(cudaDeviceSynchronize());
    cache_.empty_cache();
  }
  Device device() const override { return Device::cuda(index_); }

 private:
  int index_;
  CachingAllocator cache_;
};
}  // namespace

CachingAllocator& device_cache(int index) {
  return static_cast<DeviceAllocator&>(device_allocator(index)).cache();
}

Allocator& device_allocator(int index) {
  check_index(index, "device allocator");
  static std::mutex mutex;
  static std::array<DeviceAllocator*, 64> allocators{};  // leaked: storage may outlive statics
  MAGMADNN_CHECK(index < static_cast<int>(allocators.size()), "device allocator: device index ", index, " too large");
  std::lock_guard<std::mutex> lock(mutex);
  if (!allocators[index]) allocators[index] = new DeviceAllocator(index);
  return *allocators[index];
}

MemoryStats memory_stats(int index) { return device_allocator(index).stats(); }
void empty_cache(int index) { device_allocator(index).empty_cache(); }

// ------------------------------------------------------------------------------ helpers

StridedGeom make_geom(const Shape& shape, std::initializer_list<const std::vector<int64_t>*> strides) {
  const int nops = static_cast<int>(strides.size());
  MAGMADNN_CHECK(nops <= kMaxOperands, "cuda: too many operands");
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> st(nops);
  for (int64_t d = 0; d < shape.dim(); ++d) {
    if (shape[d] == 1) continue;
    sizes.push_back(shape[d]);
    int k = 0;
    for (const auto* s : strides) st[k++].push_back((*s)[d]);
  }
  // Merge dimension d into d-1 when every operand steps through them as one.
  for (size_t d = sizes.size(); d-- > 1;) {
    bool merge = true;
    for (int k = 0; k < nops; ++k) merge = merge && st[k][d - 1] == st[k][d] * sizes[d];
    if (!merge) continue;
    sizes[d - 1] *= sizes[d];
    for (int k = 0; k < nops; ++k) st[k][d - 1] = st[k][d];
    sizes.erase(sizes.begin() + d);
    for (int k = 0; k < nops; ++k) st[k].erase(st[k].begin() + d);
  }
  MAGMADNN_CHECK(static_cast<int>(sizes.size()) <= kMaxDims, "cuda: tensor of shape ", shape, " has more than ",
                 kMaxDims, " non-mergeable dimensions");
  StridedGeom g;
  g.nd = static_cast<int>(sizes.size());
  g.numel = shape.numel();
  for (int d = 0; d < g.nd; ++d) {
    g.sizes[d] = sizes[d];
    for (int k = 0; k < nops; ++k) g.strides[k][d] = st[k][d];
  }
  return g;
}

void check_cuda_tensor(const Tensor& t, const char* op) {
  MAGMADNN_CHECK(t.device().is_cuda(), "cuda backend ", op, ": tensor is on ", t.device());
}

// ------------------------------------------------------------------------------ streams, handles

namespace {
// What each device gets once: its stream and its cuBLAS handle. Leaked with the process (the
// driver reclaims them; destroying them at exit races with static tensors still being freed).
struct DeviceResources {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  bool cublas_tf32 = false;  // the handle's math mode
  DeviceErrorSink errors{nullptr, nullptr};
  DeviceErrorRecord* host_record = nullptr;  // the host side of errors.record
  unsigned* arrival_counters = nullptr;      // kArrivalCounters zeros (cuda_backend.h)
  uint64_t* random_state = nullptr;          // {key, offset base} of captured random fills
};
constexpr int kMaxDevices = 64;
std::mutex resources_mutex;
std::array<DeviceResources, kMaxDevices> resources;

DeviceResources& resources_of(int device) {
  MAGMADNN_CHECK(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " out of range");
  return resources[device];
}
}  // namespace

int current_device() {
  int d = 0;
  MAGMADNN_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

cudaStream_t stream() {
  // Fast path without the lock: a stream, once created, never changes.
  static thread_local int cached_device = -1;
  static thread_local cudaStream_t cached_stream = nullptr;
  const int d = current_device();
  if (d == cached_device) return cached_stream;
  std::lock_guard<std::mutex> lock(resources_mutex);
  DeviceResources& r = resources_of(d);
  if (!r.stream) MAGMADNN_CUDA_CHECK(cudaStreamCreateWithFlags(&r.stream, cudaStreamDefault));
  cached_device = d;
  cached_stream = r.stream;
  return r.stream;
}

bool stream_is_capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  MAGMADNN_CUDA_CHECK(cudaStreamIsCapturing(stream(), &status));
  return status != cudaStreamCaptureStatusNone;
}

void check_not_capturing(const char* op) {
  MAGMADNN_CHECK(!stream_is_capturing(), op,
                 ": not allowed while a CUDA graph is being captured (it needs the host; a captured step must not "
                 "read tensors back, e.g. with item(), nor synchronise with the device)");
}

cublasHandle_t cublas_handle() {
  cudaStream_t s = stream();
  const bool tf32 = allow_tf32();
  std::lock_guard<std::mutex> lock(resources_mutex);
  DeviceResources& r = resources_of(current_device());
  if (!r.cublas) {
    const cublasStatus_t st = cublasCreate(&r.cublas);
    MAGMADNN_CHECK(st == CUBLAS_STATUS_SUCCESS, "cuBLAS: cublasCreate failed (status ", static_cast<int>(st), ")");
    // The device's one stream, set once: cublasSetStream also resets the handle's workspace,
    // which must not happen inside a CUDA graph capture.
    MAGMADNN_CHECK(cublasSetStream(r.cublas, s) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cublasSetStream failed");
    r.cublas_tf32 = !tf32;  // forces the math mode below
  }
  if (r.cublas_tf32 != tf32) {  // full fp32 unless TF32 was asked for (set_allow_tf32)
    const cublasMath_t math = tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
    MAGMADNN_CHECK(cublasSetMathMode(r.cublas, math) == CUBLAS_STATUS_SUCCESS, "cuBLAS: cublasSetMathMode failed");
    r.cublas_tf32 = tf32;
  }
  return r.cublas;
}

DeviceErrorSink device_error_sink() {
  const int d = current_device();
  std::lock_guard<std::mutex> lock(resources_mutex);
  DeviceResources& r = resources_of(d);
  if (!r.errors.claim) {
    unsigned int* claim = nullptr;
    MAGMADNN_CUDA_CHECK(cudaMalloc(&claim, sizeof(unsigned int)));
    MAGMADNN_CUDA_CHECK(cudaMemset(claim, 0, sizeof(unsigned int)));
    void* host = nullptr;
    MAGMADNN_CUDA_CHECK(cudaHostAlloc(&host, sizeof(DeviceErrorRecord), cudaHostAllocMapped));
    r.host_record = static_cast<DeviceErrorRecord*>(host);
    r.host_record->op = static_cast<int>(DeviceErrorOp::None);
    void* alias = nullptr;
    MAGMADNN_CUDA_CHECK(cudaHostGetDevicePointer(&alias, host, 0));
    r.errors = DeviceErrorSink{claim, static_cast<DeviceErrorRecord*>(alias)};
  }
  return r.errors;
}

unsigned* arrival_counters() {
  std::lock_guard<std::mutex> lock(resources_mutex);
  DeviceResources& r = resources_of(current_device());
  if (!r.arrival_counters && !stream_is_capturing()) {
    unsigned* p = nullptr;
    MAGMADNN_CUDA_CHECK(cudaMalloc(&p, kArrivalCounters * sizeof(unsigned)));
    MAGMADNN_CUDA_CHECK(cudaMemsetAsync(p, 0, kArrivalCounters * sizeof(unsigned), stream()));
    r.arrival_counters = p;
  }
  return r.arrival_counters;
}

uint64_t* random_state() {
  std::lock_guard<std::mutex> lock(resources_mutex);
  DeviceResources& r = resources_of(current_device());
  // No initial value: every replay that reads it writes it first. cudaMalloc is not stream work,
  // so a capture may meet this first.
  if (!r.random_state) MAGMADNN_CUDA_CHECK(cudaMalloc(&r.random_state, 2 * sizeof(uint64_t)));
  return r.random_state;
}

void raise_device_errors() {
  DeviceErrorRecord* rec = nullptr;
  unsigned int* claim = nullptr;
  {
    std::lock_guard<std::mutex> lock(resources_mutex);
    DeviceResources& r = resources_of(current_device());
    rec = r.host_record;
    claim = r.errors.claim;
  }
  if (!rec || rec->op == static_cast<int>(DeviceErrorOp::None)) return;
  const auto op = static_cast<DeviceErrorOp>(rec->op);
  const long long value = rec->value, position = rec->position, limit = rec->limit;
  rec->op = static_cast<int>(DeviceErrorOp::None);  // cleared, so the next error can be recorded
  MAGMADNN_CUDA_CHECK(cudaMemsetAsync(claim, 0, sizeof(unsigned int), stream()));
  const char* name = "";
  switch (op) {
    case DeviceErrorOp::CrossEntropy:
      MAGMADNN_ERROR("cross_entropy: target ", value, " at position ", position, " is out of range for ", limit,
                     " classes");
    case DeviceErrorOp::IndexSelect: name = "index_select"; break;
    case DeviceErrorOp::IndexAdd: name = "index_add"; break;
    case DeviceErrorOp::Gather: name = "gather"; break;
    case DeviceErrorOp::ScatterAdd: name = "scatter_add"; break;
    case DeviceErrorOp::None: return;
  }
  MAGMADNN_ERROR(name, ": index ", value, " is out of range for a dimension of size ", limit);
}

// ------------------------------------------------------------------------------ backend

CudaBackend::CudaBackend() = default;
CudaBackend::~CudaBackend() = default;  // leaked with the registry

std::string CudaBackend::describe() const {
  std::string s = "cuda:";
  for (const std::string& line : describe_lines()) s += "\n    " + line;
  return s;
}

Allocator& CudaBackend::allocator() {
  // One allocator per device; the Backend interface has no device argument, so new storage goes
  // to the current device, which backend_for(Device::cuda(N)) has just made N (select_device).
  int current = 0;
  MAGMADNN_CUDA_CHECK(cudaGetDevice(&current));
  return device_allocator(current);
}

void CudaBackend::synchronize() {
  MAGMADNN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  raise_device_errors();
}

// Host <-> device copies: one cudaMemcpy when both sides are contiguous with one dtype; otherwise
// a contiguous staging tensor on the host side (converted/strided there by the CPU backend) or
// on the device side (by copy_device).
void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  MAGMADNN_CHECK(src.shape() == dst.shape(), "copy: source shape ", src.shape(), " differs from destination ",
                 dst.shape());
  if (src.numel() == 0) return;
  const bool simple = src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous();
  if (src.device().is_cuda() && dst.device().is_cuda()) {
    if (src.device() == dst.device()) return copy_device(src, dst);
    if (simple) {
      MAGMADNN_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw_data(), dst.device().index, src.raw_data(),
                                              src.device().index, src.nbytes(), stream()));
      return;
    }
    Tensor staged = Tensor::empty(src.shape(), dst.dtype(), src.device());
    copy_device(src, staged);
    Tensor moved = Tensor::empty(src.shape(), dst.dtype(), dst.device());
    copy(staged, moved);
    return copy_device(moved, dst);
  }
  if (dst.device().is_cuda()) {  // host -> device
    MAGMADNN_CHECK(src.device().is_cpu(), "copy: unsupported devices ", src.device(), " -> ", dst.device());
    DeviceGuard g(dst.device().index);
    check_not_capturing("copy from the host to a CUDA tensor");
    if (simple) {
      MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyHostToDevice,
                                          stream()));
      // Pageable source: the call returns once the data is staged, so the host buffer may go.
      return;
    }
    Tensor host = src;
    if (!src.is_contiguous()) {
      host = Tensor::empty(src.shape(), src.dtype(), Device::cpu());
      backend_for(Device::cpu()).copy(src, host);
    }
    Tensor dev = Tensor::empty(src.shape(), src.dtype(), dst.device());
    copy(host, dev);
    return copy_device(dev, dst);
  }
  // device -> host
  check_cuda_tensor(src, "copy");
  MAGMADNN_CHECK(dst.device().is_cpu(), "copy: unsupported devices ", src.device(), " -> ", dst.device());
  DeviceGuard g(src.device().index);
  check_not_capturing("copy from a CUDA tensor to the host");
  if (simple) {
    MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyDeviceToHost,
                                        stream()));
    MAGMADNN_CUDA_CHECK(cudaStreamSynchronize(stream()));
    raise_device_errors();
    return;
  }
  Tensor dev = src;
  if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
    dev = Tensor::empty(src.shape(), dst.dtype(), src.device());
    copy_device(src, dev);
  }
  Tensor host = dst.is_contiguous() ? dst : Tensor::empty(dst.shape(), dst.dtype(), Device::cpu());
  MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(host.raw_data(), dev.raw_data(), dev.nbytes(), cudaMemcpyDeviceToHost, stream()));
  MAGMADNN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  raise_device_errors();
  if (!dst.is_contiguous()) backend_for(Device::cpu()).copy(host, dst);
}

// ------------------------------------------------------------------------------ matmul (cuBLAS)

namespace {
using detail::gemm_layout;
using detail::GemmOperand;

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}
#define MAGMADNN_CUBLAS_CHECK(expr)                                                                       \
  do {                                                                                                    \
    const cublasStatus_t magmadnn_cublas_st_ = (expr);                                                    \
    MAGMADNN_CHECK(magmadnn_cublas_st_ == CUBLAS_STATUS_SUCCESS, "cuBLAS error in ", #expr, ": ",       \
                   cublas_status_name(magmadnn_cublas_st_));                                              \
  } while (0)

int to_int(int64_t v, const char* what) {
  MAGMADNN_CHECK(v <= std::numeric_limits<int>::max(), "matmul: ", what, " = ", v, " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}
}  // namespace

void CudaBackend::matmul(const Tensor& a_in, const Tensor& b_in, Tensor& out, bool accumulate) {
  MAGMADNN_CHECK(a_in.dim() == 3 && b_in.dim() == 3 && out.dim() == 3, "matmul kernel: expected 3-D operands");
  MAGMADNN_CHECK(out.is_contiguous(), "matmul kernel: output must be contiguous");
  check_cuda_tensor(a_in, "matmul");
  check_cuda_tensor(b_in, "matmul");
  check_cuda_tensor(out, "matmul");
  MAGMADNN_CHECK(a_in.dtype() == out.dtype() && b_in.dtype() == out.dtype(), "matmul: dtypes ", a_in.dtype(), " and ",
                 b_in.dtype(), " differ from output ", out.dtype());
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a_in.size(2);
  if (B == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate) fill(out, 0.0);
    return;
  }
  Tensor a = a_in, b = b_in;
  GemmOperand ga{'N', 1}, gb{'N', 1};
  if (!gemm_layout(M, K, a.stride(1), a.stride(2), ga)) {
    a = Tensor::empty(a_in.shape(), a_in.dtype(), a_in.device());
    copy_device(a_in, a);
    gemm_layout(M, K, a.stride(1), a.stride(2), ga);
  }
  if (!gemm_layout(K, N, b.stride(1), b.stride(2), gb)) {
    b = Tensor::empty(b_in.shape(), b_in.dtype(), b_in.device());
    copy_device(b_in, b);
    gemm_layout(K, N, b.stride(1), b.stride(2), gb);
  }
  DeviceGuard g(out.device().index);
  cublasHandle_t h = cublas_handle();
  // Row-major C = A B is column-major C^T = B^T A^T: swap the operands; a row-major 'N' operand
  // is a column-major 'N' of its transpose, so the flags carry over unchanged.
  const cublasOperation_t opa = gb.trans == 'N' ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t opb = ga.trans == 'N' ? CUBLAS_OP_N : CUBLAS_OP_T;
  const int m = to_int(N, "N"), n = to_int(M, "M"), k = to_int(K, "K"), batch = to_int(B, "batch");
  const int lda = to_int(gb.ld, "ldb"), ldb = to_int(ga.ld, "lda"), ldc = to_int(N, "ldc");
  const long long sa = b.stride(0), sb = a.stride(0), sc = M * N;
  if (out.dtype() == kFloat32) {
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    MAGMADNN_CUBLAS_CHECK(cublasSgemmStridedBatched(h, opa, opb, m, n, k, &alpha, static_cast<const float*>(b.raw_data()),
                                                    lda, sa, static_cast<const float*>(a.raw_data()), ldb, sb, &beta,
                                                    static_cast<float*>(out.raw_data()), ldc, sc, batch));
  } else if (out.dtype() == kFloat64) {
    const double alpha = 1.0, beta = accumulate ? 1.0 : 0.0;
    MAGMADNN_CUBLAS_CHECK(cublasDgemmStridedBatched(h, opa, opb, m, n, k, &alpha,
                                                    static_cast<const double*>(b.raw_data()), lda, sa,
                                                    static_cast<const double*>(a.raw_data()), ldb, sb, &beta,
                                                    static_cast<double*>(out.raw_data()), ldc, sc, batch));
  } else {
    MAGMADNN_ERROR("matmul: expected a float32 or float64 tensor, got ", out.dtype());
  }
}

// ------------------------------------------------------------------------------ registration

std::unique_ptr<Backend> make_cuda_backend_if_available() {
  if (!is_available()) return nullptr;
  return std::make_unique<CudaBackend>();
}

void select_device(int index) {
  int current = 0;
  MAGMADNN_CUDA_CHECK(cudaGetDevice(&current));
  if (current != index) MAGMADNN_CUDA_CHECK(cudaSetDevice(index));
}

}  // namespace magmadnn::cuda
