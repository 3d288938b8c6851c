// CUDA fused optimizer updates over a list of parameters (the *_step_group kernels), in the manner
// of PyTorch's multi_tensor_apply: the addresses and sizes of up to kMaxTensors tensors and the
// first block of each travel BY VALUE in the kernel's argument struct, so a launch needs no
// host-to-device copy (nothing to wait for, and it can be captured into a CUDA graph); longer
// lists take several launches. A block finds its tensor by binary search over the first blocks;
// chunks are small enough that even one large tensor fills the GPU with blocks. The per-element math is the single-tensor kernels'
// (backend/optim_update.h), so both give the same results.
#include <array>
#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/optim_update.h"

namespace magmadnn::cuda {

namespace {

namespace ou = magmadnn::optim_update;

constexpr int64_t kChunk = 8192;  // elements of one tensor per block (32 per thread)
// Tensors per launch by the number of pointers per tensor, so the argument struct stays under the
// 4 KB kernel-parameter limit (the same table as PyTorch's).
constexpr int max_tensors(int depth) {
  return depth == 1 ? 110 : depth == 2 ? 64 : depth == 3 ? 48 : depth == 4 ? 36 : 30;
}

template <int Depth>
struct TensorListArgs {
  static constexpr int kMaxTensors = max_tensors(Depth);
  void* ptr[Depth][kMaxTensors];  // [operand][tensor]; null for state a variant does not use
  int64_t numel[kMaxTensors];
  int64_t first_block[kMaxTensors];  // tensor t's chunks are blocks first_block[t] ..
  int count;                         // tensors in this launch
};
static_assert(sizeof(TensorListArgs<5>) + 128 <= 4096, "kernel arguments over the 4 KB limit");
static_assert(sizeof(TensorListArgs<3>) + 128 <= 4096, "kernel arguments over the 4 KB limit");

// Block b updates elements [chunk * kChunk, min(numel, (chunk + 1) * kChunk)) of tensor t, the
// last one with first_block[t] <= b, where chunk = b - first_block[t].
template <typename T, int Depth, typename Op>
__global__ void __launch_bounds__(kThreads) multi_tensor_kernel(TensorListArgs<Depth> args, Op op) {
  const int64_t b = blockIdx.x;
  int lo = 0, hi = args.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (args.first_block[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  const int t = lo;
  const int64_t n = args.numel[t];
  const int64_t begin = (b - args.first_block[t]) * kChunk;
  const int64_t end = begin + kChunk < n ? begin + kChunk : n;
  T* p[Depth];
#pragma unroll
  for (int d = 0; d < Depth; ++d) p[d] = static_cast<T*>(args.ptr[d][t]);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) op(i, p);
}

// Launches the kernel over the tensors, kMaxTensors at a time. `ptrs[k][d]` is operand d of entry k.
template <typename T, int Depth, typename Op>
void launch_multi_tensor(const std::vector<std::array<void*, Depth>>& ptrs,
                         const std::vector<int64_t>& numels, const Op& op, const char* what) {
  using Args = TensorListArgs<Depth>;
  Args args{};
  int64_t blocks = 0;
  auto launch = [&] {
    if (args.count == 0) return;
    MAGMADNN_CHECK(blocks <= INT32_MAX, what, ": too many elements in one launch (", blocks, " blocks)");
    multi_tensor_kernel<T, Depth, Op><<<static_cast<unsigned>(blocks), kThreads, 0, stream()>>>(args, op);
    MAGMADNN_CUDA_CHECK_LAUNCH(what);
    args.count = 0;
    blocks = 0;
  };
  for (size_t k = 0; k < ptrs.size(); ++k) {
    const int64_t n = numels[k];
    if (n == 0) continue;
    const int t = args.count++;
    for (int d = 0; d < Depth; ++d) args.ptr[d][t] = ptrs[k][d];
    args.numel[t] = n;
    args.first_block[t] = blocks;
    blocks += (n + kChunk - 1) / kChunk;
    if (args.count == Args::kMaxTensors) launch();
  }
  launch();
}

template <typename T>
T* data_or_null(const Tensor& t, bool use) {
  return use ? static_cast<T*>(t.raw_data()) : nullptr;
}

template <typename T>
struct SgdOp {
  ou::SgdScalars<T> s;
  __device__ __forceinline__ void operator()(int64_t i, T* const* p) const {
    ou::sgd_update(i, p[0], p[1], p[2], s);
  }
};
template <typename T>
struct AdamOp {
  ou::AdamScalars<T> s;
  __device__ __forceinline__ void operator()(int64_t i, T* const* p) const {
    ou::adam_update(i, p[0], p[1], p[2], p[3], p[4], s);
  }
};
template <typename T>
struct AdagradOp {
  ou::AdagradScalars<T> s;
  __device__ __forceinline__ void operator()(int64_t i, T* const* p) const {
    ou::adagrad_update(i, p[0], p[1], p[2], s);
  }
};
template <typename T>
struct RmspropOp {
  ou::RmspropScalars<T> s;
  __device__ __forceinline__ void operator()(int64_t i, T* const* p) const {
    ou::rmsprop_update(i, p[0], p[1], p[2], p[3], p[4], s);
  }
};

}  // namespace

void CudaBackend::sgd_step_group(std::vector<SgdTensors>& tensors, const SgdParams& p) {
  check_step_group(tensors, p);
  if (tensors.empty()) return;
  check_cuda_tensor(tensors[0].param, "SGD");  // and so every tensor (checked above)
  DeviceGuard guard(tensors[0].param.device().index);
  dispatch_float(tensors[0].param.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    std::vector<std::array<void*, 3>> ptrs;
    std::vector<int64_t> numels;
    for (SgdTensors& e : tensors) {
      ptrs.push_back(
          {e.param.raw_data(), e.grad.raw_data(), data_or_null<T>(e.momentum_buffer, p.momentum != 0)});
      numels.push_back(e.param.numel());
    }
    launch_multi_tensor<T, 3>(ptrs, numels, SgdOp<T>{ou::sgd_scalars<T>(p)}, "SGD");
  });
}

void CudaBackend::adam_step_group(std::vector<AdamTensors>& tensors, const AdamParams& p) {
  const char* op = p.decoupled_weight_decay ? "AdamW" : "Adam";
  check_step_group(tensors, p);
  if (tensors.empty()) return;
  check_cuda_tensor(tensors[0].param, op);  // and so every tensor (checked above)
  DeviceGuard guard(tensors[0].param.device().index);
  dispatch_float(tensors[0].param.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    std::vector<std::array<void*, 5>> ptrs;
    std::vector<int64_t> numels;
    for (AdamTensors& e : tensors) {
      ptrs.push_back({e.param.raw_data(), e.grad.raw_data(), e.exp_avg.raw_data(), e.exp_avg_sq.raw_data(),
                      data_or_null<T>(e.max_exp_avg_sq, p.amsgrad)});
      numels.push_back(e.param.numel());
    }
    launch_multi_tensor<T, 5>(ptrs, numels, AdamOp<T>{ou::adam_scalars<T>(p)}, op);
  });
}

void CudaBackend::adagrad_step_group(std::vector<AdagradTensors>& tensors, const AdagradParams& p) {
  check_step_group(tensors, p);
  if (tensors.empty()) return;
  check_cuda_tensor(tensors[0].param, "Adagrad");  // and so every tensor (checked above)
  DeviceGuard guard(tensors[0].param.device().index);
  dispatch_float(tensors[0].param.dtype(), "Adagrad", [&](auto tag) {
    using T = decltype(tag);
    std::vector<std::array<void*, 3>> ptrs;
    std::vector<int64_t> numels;
    for (AdagradTensors& e : tensors) {
      ptrs.push_back({e.param.raw_data(), e.grad.raw_data(), e.sum.raw_data()});
      numels.push_back(e.param.numel());
    }
    launch_multi_tensor<T, 3>(ptrs, numels, AdagradOp<T>{ou::adagrad_scalars<T>(p)}, "Adagrad");
  });
}

void CudaBackend::rmsprop_step_group(std::vector<RmspropTensors>& tensors, const RmspropParams& p) {
  check_step_group(tensors, p);
  if (tensors.empty()) return;
  check_cuda_tensor(tensors[0].param, "RMSprop");  // and so every tensor (checked above)
  DeviceGuard guard(tensors[0].param.device().index);
  dispatch_float(tensors[0].param.dtype(), "RMSprop", [&](auto tag) {
    using T = decltype(tag);
    std::vector<std::array<void*, 5>> ptrs;
    std::vector<int64_t> numels;
    for (RmspropTensors& e : tensors) {
      ptrs.push_back({e.param.raw_data(), e.grad.raw_data(), e.square_avg.raw_data(),
                      data_or_null<T>(e.momentum_buffer, p.momentum > 0),
                      data_or_null<T>(e.grad_avg, p.centered)});
      numels.push_back(e.param.numel());
    }
    launch_multi_tensor<T, 5>(ptrs, numels, RmspropOp<T>{ou::rmsprop_scalars<T>(p)}, "RMSprop");
  });
}

}  // namespace magmadnn::cuda
