// The CUDA backend: cuBLAS for GEMM, cuDNN for convolution and pooling, cuSPARSE for spmm, own
// kernels for the rest. Files: cuda_backend.cpp (devices, allocator, copies between host and
// device, matmul, registration), elementwise.cu (copy/fill/unary/binary), kernels.cu (reductions,
// softmax, cross-entropy, optimizers), index.cu (index_select/add, gather/scatter_add),
// norm_pool.cu (batch norm, adaptive average pooling), random.cu (Philox fills), conv.cpp
// (cuDNN), sparse.cpp (cuSPARSE), graph.cpp (CUDA graphs).
// All work of a device goes to that device's one stream (stream()), so stream order makes the
// caching allocator's reuse safe and a training step can be captured into a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <vector>

#include "magmadnn/backend/backend.h"
#include "magmadnn/backend/cuda.h"

struct cublasContext;  // cublasHandle_t, without cublas_v2.h in every kernel file

// On failure the runtime's stored error is cleared (a non-sticky one would otherwise be reported
// again by the next launch check), then the call is named in the Error.
#define MAGMADNN_CUDA_CHECK(expr)                                                                   \
  do {                                                                                              \
    const cudaError_t magmadnn_cuda_err_ = (expr);                                                  \
    if (magmadnn_cuda_err_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError();                                                                     \
      MAGMADNN_ERROR("CUDA error in ", #expr, ": ", cudaGetErrorName(magmadnn_cuda_err_), " (",     \
                     cudaGetErrorString(magmadnn_cuda_err_), ")");                                  \
    }                                                                                               \
  } while (0)

// After a kernel launch: reports bad launch configurations at once (execution errors surface at
// the next synchronising call).
#define MAGMADNN_CUDA_CHECK_LAUNCH(what) MAGMADNN_CUDA_CHECK(cudaGetLastError())

namespace magmadnn::cuda {

// Strided N-d iteration for kernels: up to kMaxDims dimensions after merging, up to 3 operands.
constexpr int kMaxDims = 10;
constexpr int kMaxOperands = 3;
struct StridedGeom {
  int nd = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxOperands][kMaxDims];  // in elements, per operand
};
// Drops size-1 dimensions and merges neighbours that are contiguous for every operand (as the CPU
// loops do), so most broadcasts become 1-3 dimensions. Throws when more than kMaxDims remain.
StridedGeom make_geom(const Shape& shape, std::initializer_list<const std::vector<int64_t>*> strides);

// The stream of the current device: one per device, created on first use (a blocking stream, so
// stray work on the legacy default stream still orders with it). Every kernel, copy and library
// call of the backend goes here; library handles are set to it before each call.
cudaStream_t stream();
// True while stream() is being captured into a CUDA graph (no host synchronisation allowed then).
bool stream_is_capturing();
// Throws a clear error naming `op` when stream() is being captured: for operations that must
// synchronise with the host (reads to the host).
void check_not_capturing(const char* op);
// Multiprocessor count of the current device (cached per device): kernels size their grids by it.
int multiprocessors();
// Blocks of kThreads threads of `kernel` that one multiprocessor holds at once (the occupancy
// calculator, cached per kernel; at least 1): times multiprocessors(), one full wave.
int blocks_per_multiprocessor(const void* kernel);
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);  // grid-stride loops cover the rest
}

void check_cuda_tensor(const Tensor& t, const char* op);

class CudaBackend : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }
  std::string describe() const override;
  Allocator& allocator() override;

  void copy(const Tensor& src, Tensor& dst) override;
  void fill(Tensor& dst, double value) override;
  void arange(Tensor& dst, double start, double step) override;
  void uniform(Tensor& dst, double low, double high, Generator& gen) override;
  void normal(Tensor& dst, double mean, double std, Generator& gen) override;
  void bernoulli(Tensor& dst, double p, Generator& gen) override;

  void unary(UnaryOp op, const Tensor& x, Tensor& out, double alpha, double beta) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha, double beta) override;

  void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& axes, Tensor& out) override;
  void argmax(const Tensor& x, int64_t axis, Tensor& out) override;

  void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) override;

  void softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) override;
  void softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t axis, bool log, Tensor& grad_x) override;
  void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, Reduction reduction,
                     Tensor& log_probs, Tensor& loss) override;
  void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                              Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) override;

  void index_select(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) override;
  void index_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int64_t axis, const Tensor& index, Tensor& out) override;
  void scatter_add(Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) override;

  void sgd_step(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdParams& p) override;
  void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                 const AdamParams& p) override;
  void adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) override;
  void rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                    Tensor& grad_avg, const RmspropParams& p) override;
  // Lists of parameters in a few multi-tensor launches (optim_multi.cu).
  void sgd_step_group(std::vector<SgdTensors>& tensors, const SgdParams& p) override;
  void adam_step_group(std::vector<AdamTensors>& tensors, const AdamParams& p) override;
  void adagrad_step_group(std::vector<AdagradTensors>& tensors, const AdagradParams& p) override;
  void rmsprop_step_group(std::vector<RmspropTensors>& tensors, const RmspropParams& p) override;

  void conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out, const Conv2dParams& p) override;
  void conv2d_backward_data(const Tensor& grad_out, const Tensor& weight, Tensor& grad_x,
                            const Conv2dParams& p) override;
  void conv2d_backward_weights(const Tensor& x, const Tensor& grad_out, Tensor& grad_weight, Tensor& grad_bias,
                               const Conv2dParams& p) override;
  void pool2d(const Tensor& x, Tensor& out, Tensor& workspace, const Pool2dParams& p) override;
  void pool2d_backward(const Tensor& grad_out, const Tensor& workspace, Tensor& grad_x, const Pool2dParams& p) override;
  void adaptive_avg_pool2d(const Tensor& x, Tensor& out) override;
  void adaptive_avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x) override;
  void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& mean, Tensor& var, bool training,
                  double eps, Tensor& out) override;
  void batch_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                           const Tensor& var, bool training, double eps, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override;
  void batch_norm_update_running(const Tensor& mean, const Tensor& var, Tensor& running_mean, Tensor& running_var,
                                 double momentum, double var_scale) override;
  void increment(Tensor& counter) override;
  void spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values, const Tensor& x,
                const Tensor& c, Tensor& out) override;

  void synchronize() override;

 private:
  // Same-device strided copy with dtype conversion (elementwise.cu).
  void copy_device(const Tensor& src, Tensor& dst);
};

// The caching allocator of device `index` (created on first use), and the cache inside it (for
// the private pools of CUDA graphs).
Allocator& device_allocator(int index);
CachingAllocator& device_cache(int index);

// Makes `index` the current device for the scope.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index) {
    MAGMADNN_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != index) MAGMADNN_CUDA_CHECK(cudaSetDevice(index));
    index_ = index;
  }
  ~DeviceGuard() {
    if (previous_ != index_) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0, index_ = 0;
};
// The current device (cudaGetDevice).
int current_device();
// kArrivalCounters unsigned counters in the current device's memory, zero between uses: a kernel
// whose blocks count their arrivals (the last one finishes the work) leaves each counter it used
// at zero again, so launches on the device's stream, and replays of captured graphs, share them.
// Made on first use outside a capture; null while a capture meets them before they exist.
constexpr int64_t kArrivalCounters = int64_t(1) << 16;
unsigned* arrival_counters();
// Random fills inside a CUDA graph capture (random.cu): a captured fill cannot take its Philox
// offset from the generator (the host is not there at replay), so it records its index among the
// capture's fills and reads the generator's key and an offset base from two words of device
// memory, which cuda::Graph::replay sets before each replay (set_random_state) after taking
// `fills` offsets from the generator. A capture may draw from one generator, which must outlive it.
struct CapturedRandom {
  Generator* generator = nullptr;
  uint64_t fills = 0;
};
// The capture in progress on this thread (set by cuda::Graph::capture around its body), or null.
CapturedRandom*& captured_random();
// The current device's two words {key, offset base} (made on first use; allowed inside a capture).
uint64_t* random_state();
// Enqueues a write of {key, offset} to random_state() on stream() (a one-thread kernel).
void set_random_state(uint64_t key, uint64_t offset);
// One T per device index (0..63), made on first use and never destroyed (library handles must
// outlive every static user): the per-device state of a library, e.g. a handle and its caches.
template <typename T>
T& per_device(int index, const char* what) {
  static std::mutex mutex;
  static std::array<T*, 64> all{};
  MAGMADNN_CHECK(index >= 0 && index < static_cast<int>(all.size()), what, ": device index ", index,
                 " out of range");
  std::lock_guard<std::mutex> lock(mutex);
  if (!all[index]) all[index] = new T();
  return *all[index];
}
// The cuBLAS handle of the current device (created on first use), its stream set to stream().
// Its math mode follows allow_tf32().
::cublasContext* cublas_handle();

}  // namespace magmadnn::cuda
