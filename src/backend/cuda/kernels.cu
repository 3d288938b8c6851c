// CUDA kernels beyond elementwise maps: reductions (sum/mean/max/min as (outer, R, inner), the
// CPU backend's form), argmax, softmax/log_softmax forward and backward, fused cross-entropy
// forward and backward, and the fused optimizer updates (SGD, Adam/AdamW, Adagrad, RMSprop) with
// PyTorch's formulas, mirroring src/backend/cpu/{reduce,softmax}.cpp line by line (the optimizer
// formulas are shared with the CPU in backend/optim_update.h; lists of tensors: optim_multi.cu).
// Straightforward first versions: correct, coalesced where it is free; tuned later on a GPU.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <atomic>
#include <limits>
#include <type_traits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"
#include "backend/cuda/device_errors.h"
#include "backend/optim_update.h"

namespace magmadnn::cuda {

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// ------------------------------------------------------------------------------ reductions

enum class Combine { Sum, Max, Min };

template <Combine C, typename A>
__device__ __forceinline__ A combine(A a, A b) {
  if constexpr (C == Combine::Sum) return a + b;
  else if constexpr (C == Combine::Max) return (a > b || a != a) ? a : b;  // NaN wins, as on the CPU
  else return (a < b || a != a) ? a : b;
}

// Reductions read each element once, so they are limited by memory bandwidth: enough blocks
// must be in flight to saturate it even when there are few outputs (a full sum has one). So R is
// cut into S segments reduced in parallel (pass 1, partials in the accumulator type), then the
// partials of each output are combined (pass 2) -- one pass when the outputs alone fill the GPU.

// inner == 1 (rows of R contiguous elements): block b reduces segment b % S of row b / S, four
// independent accumulators per thread, then a shared-memory tree.
template <typename In, typename A, typename Out, Combine C>
__global__ void reduce_rows_kernel(const In* x, Out* out, int64_t rows, int64_t R, int64_t S, A init, A scale) {
  __shared__ A partial[kThreads];
  const int64_t chunk = (R + S - 1) / S;
  for (int64_t b = blockIdx.x; b < rows * S; b += gridDim.x) {
    const int64_t o = b / S, seg = b % S;
    const int64_t begin = seg * chunk, end = begin + chunk < R ? begin + chunk : R;
    const In* row = x + o * R;
    A a0 = init, a1 = init, a2 = init, a3 = init;
    const int64_t step = blockDim.x;
    int64_t r = begin + threadIdx.x;
    for (; r + 3 * step < end; r += 4 * step) {
      a0 = combine<C>(a0, static_cast<A>(row[r]));
      a1 = combine<C>(a1, static_cast<A>(row[r + step]));
      a2 = combine<C>(a2, static_cast<A>(row[r + 2 * step]));
      a3 = combine<C>(a3, static_cast<A>(row[r + 3 * step]));
    }
    for (; r < end; r += step) a0 = combine<C>(a0, static_cast<A>(row[r]));
    partial[threadIdx.x] = combine<C>(combine<C>(a0, a1), combine<C>(a2, a3));
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
      if (threadIdx.x < s) partial[threadIdx.x] = combine<C>(partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[b] = static_cast<Out>(partial[0] * scale);
    __syncthreads();
  }
}

// inner > 1: thread j = (o, i) of segment blockIdx.y reduces its column over that segment of R;
// neighbouring threads read neighbouring elements. Output j of segment s goes to out[s * outer *
// inner + j] (S == 1: the final outputs).
template <typename In, typename A, typename Out, Combine C>
__global__ void reduce_cols_kernel(const In* x, Out* out, int64_t outer, int64_t R, int64_t inner, A init, A scale) {
  const int64_t S = gridDim.y, seg = blockIdx.y, chunk = (R + S - 1) / S;
  const int64_t begin = seg * chunk, end = begin + chunk < R ? begin + chunk : R;
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const In* p = x + o * R * inner + i;
    A acc = init;
    for (int64_t r = begin; r < end; ++r) acc = combine<C>(acc, static_cast<A>(p[r * inner]));
    out[seg * outer * inner + j] = static_cast<Out>(acc * scale);
  }
}

int multiprocessors() {  // of the current device, asked once per device
  static std::atomic<int> count[64] = {};
  const int d = current_device();
  if (d < 64 && count[d].load(std::memory_order_relaxed) > 0) return count[d].load(std::memory_order_relaxed);
  int n = 0;
  MAGMADNN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d));
  if (d < 64) count[d].store(n, std::memory_order_relaxed);
  return n;
}

template <typename A>
constexpr DType dtype_of() {
  return std::is_same_v<A, double> ? kFloat64 : kFloat32;
}

template <typename T, typename A, Combine C>
void launch_reduce(const T* x, T* out, int64_t outer, int64_t R, int64_t inner, A init, double scale_d) {
  const A scale = static_cast<A>(scale_d), one = static_cast<A>(1);
  const int64_t want_threads = int64_t(multiprocessors()) * 2048;  // a full GPU
  const Device dev = Device::cuda(current_device());
  if (inner == 1) {
    // Segments per row: enough blocks for the GPU, but at least 8 elements per thread.
    int64_t S = (want_threads / kThreads + outer - 1) / outer;
    S = std::max<int64_t>(1, std::min<int64_t>(S, R / (kThreads * 8)));
    const auto grid = [](int64_t blocks) { return static_cast<unsigned>(std::min<int64_t>(blocks, 65535 * 8)); };
    if (S == 1) {
      reduce_rows_kernel<T, A, T, C><<<grid(outer), kThreads, 0, stream()>>>(x, out, outer, R, 1, init, scale);
      return;
    }
    Tensor partial = Tensor::empty(Shape{outer * S}, dtype_of<A>(), dev);
    A* p = static_cast<A*>(partial.raw_data());
    reduce_rows_kernel<T, A, A, C><<<grid(outer * S), kThreads, 0, stream()>>>(x, p, outer, R, S, init, one);
    reduce_rows_kernel<A, A, T, C><<<grid(outer), kThreads, 0, stream()>>>(p, out, outer, S, 1, init, scale);
    return;  // partial goes back to the cache; stream order keeps it alive for pass 2
  }
  const int64_t n = outer * inner;
  int64_t S = (want_threads + n - 1) / n;
  S = std::max<int64_t>(1, std::min<int64_t>({S, R / 16, 65535}));
  if (S == 1) {
    reduce_cols_kernel<T, A, T, C><<<blocks_for(n), kThreads, 0, stream()>>>(x, out, outer, R, inner, init, scale);
    return;
  }
  Tensor partial = Tensor::empty(Shape{S * n}, dtype_of<A>(), dev);
  A* p = static_cast<A*>(partial.raw_data());
  reduce_cols_kernel<T, A, A, C><<<dim3(blocks_for(n), static_cast<unsigned>(S)), kThreads, 0, stream()>>>(
      x, p, outer, R, inner, init, one);
  // Pass 2: the partials (S, n) reduced over S.
  reduce_cols_kernel<A, A, T, C><<<blocks_for(n), kThreads, 0, stream()>>>(p, out, 1, S, n, init, scale);
}

template <typename T>
__global__ void argmax_kernel(const T* x, int64_t* out, int64_t outer, int64_t R, int64_t inner) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* p = x + o * R * inner + i;
    int64_t best = 0;
    for (int64_t r = 1; r < R; ++r)
      if (p[r * inner] > p[best * inner]) best = r;
    out[j] = best;
  }
}

// ------------------------------------------------------------------------------ softmax

template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* xr = x + o * C * inner + i;
    T* yr = y + o * C * inner + i;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < C; ++c) m = m > xr[c * inner] ? m : xr[c * inner];
    T s = 0;
    for (int64_t c = 0; c < C; ++c) s += dm::exp(xr[c * inner] - m);
    if (log) {
      const T lse = m + dm::log(s);
      for (int64_t c = 0; c < C; ++c) yr[c * inner] = xr[c * inner] - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t c = 0; c < C; ++c) yr[c * inner] = dm::exp(xr[c * inner] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* g, T* gx, int64_t outer, int64_t C, int64_t inner,
                                        bool log) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const int64_t base = o * C * inner + i;
    T s = 0;
    if (log) {  // gx = g - exp(y) * sum(g)
      for (int64_t c = 0; c < C; ++c) s += g[base + c * inner];
      for (int64_t c = 0; c < C; ++c) gx[base + c * inner] = g[base + c * inner] - dm::exp(y[base + c * inner]) * s;
    } else {  // gx = y * (g - sum(g * y))
      for (int64_t c = 0; c < C; ++c) s += g[base + c * inner] * y[base + c * inner];
      for (int64_t c = 0; c < C; ++c) gx[base + c * inner] = y[base + c * inner] * (g[base + c * inner] - s);
    }
  }
}

// ------------------------------------------------------------------------------ cross-entropy

// One block: per-sample losses (Reduction::None) or their (weighted) sum/mean; a label outside
// [0, C) is skipped and reported as a deferred device error.
template <typename T>
__global__ void cross_entropy_kernel(const T* lp, const int64_t* t, const T* w, int64_t N, int64_t C,
                                     Reduction reduction, T* out, DeviceErrorSink bad) {
  __shared__ double tot[kThreads], ws[kThreads];
  double total = 0, wsum = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t ti = t[i];
    if (ti < 0 || ti >= C) {
      report_device_error(bad, DeviceErrorOp::CrossEntropy, ti, i, C);
      continue;
    }
    const double wi = w ? static_cast<double>(w[ti]) : 1.0;
    const double li = -wi * static_cast<double>(lp[i * C + ti]);
    if (reduction == Reduction::None) out[i] = static_cast<T>(li);
    total += li;
    wsum += wi;
  }
  tot[threadIdx.x] = total;
  ws[threadIdx.x] = wsum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) {
      tot[threadIdx.x] += tot[threadIdx.x + s];
      ws[threadIdx.x] += ws[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (reduction == Reduction::Sum) out[0] = static_cast<T>(tot[0]);
    if (reduction == Reduction::Mean) out[0] = static_cast<T>(tot[0] / ws[0]);
  }
}

// One block: the Mean reduction's scale 1 / sum_i w[t_i] (1 without Mean).
template <typename T>
__global__ void ce_scale_kernel(const int64_t* t, const T* w, int64_t N, int64_t C, Reduction reduction,
                                double* scale) {
  __shared__ double ws[kThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t ti = t[i];
    acc += (w && ti >= 0 && ti < C) ? static_cast<double>(w[ti]) : 1.0;
  }
  ws[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) ws[threadIdx.x] += ws[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *scale = reduction == Reduction::Mean ? 1.0 / ws[0] : 1.0;
}

template <typename T>
__global__ void ce_backward_kernel(const T* lp, const int64_t* t, const T* w, const T* g, const double* scale,
                                   int64_t N, int64_t C, Reduction reduction, T* gx) {
  GRID_STRIDE(j, N * C) {
    const int64_t i = j / C, c = j % C;
    const int64_t ti = t[i];
    const bool valid = ti >= 0 && ti < C;
    const double wi = (w && valid) ? static_cast<double>(w[ti]) : 1.0;
    const T gi = static_cast<T>(static_cast<double>(reduction == Reduction::None ? g[i] : g[0]) * *scale * wi);
    T v = dm::exp(lp[j]) * gi;
    if (valid && c == ti) v -= gi;
    gx[j] = v;
  }
}

// ------------------------------------------------------------------------------ optimizers

// One thread per element; the formulas are shared with the CPU loops and the multi-tensor
// kernels (backend/optim_update.h).
template <typename T>
__global__ void sgd_kernel(int64_t n, T* w, const T* g, T* m, optim_update::SgdScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::sgd_update(i, w, g, m, s); }
}

template <typename T>
__global__ void adam_kernel(int64_t n, T* w, const T* g, T* m, T* v, T* vmax,
                            optim_update::AdamScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::adam_update(i, w, g, m, v, vmax, s); }
}

template <typename T>
__global__ void adagrad_kernel(int64_t n, T* w, const T* g, T* sum, optim_update::AdagradScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::adagrad_update(i, w, g, sum, s); }
}

template <typename T>
__global__ void rmsprop_kernel(int64_t n, T* w, const T* g, T* sq, T* buf, T* ga,
                               optim_update::RmspropScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::rmsprop_update(i, w, g, sq, buf, ga, s); }
}

void geometry(const Tensor& x, int64_t axis, int64_t& outer, int64_t& C, int64_t& inner) {
  outer = 1;
  inner = 1;
  C = x.shape()[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
}

void check_step(const Tensor& param, const Tensor& grad, const char* op) {
  check_cuda_tensor(param, op);
  check_cuda_tensor(grad, op);
  MAGMADNN_CHECK(param.is_contiguous() && grad.is_contiguous(), op, ": expected contiguous parameter and gradient");
  MAGMADNN_CHECK(param.shape() == grad.shape(), op, ": gradient shape ", grad.shape(), " differs from parameter ",
                 param.shape());
}

template <typename T>
T* ptr_or_null(const Tensor& t, bool use) {
  return use ? static_cast<T*>(t.raw_data()) : nullptr;
}

}  // namespace

// ------------------------------------------------------------------------------ backend methods

void CudaBackend::reduce(ReduceOp op, const Tensor& x_in, const std::vector<int64_t>& axes, Tensor& out) {
  check_cuda_tensor(x_in, "reduce");
  check_cuda_tensor(out, "reduce");
  MAGMADNN_CHECK(out.is_contiguous(), "reduce: output must be contiguous");
  const int64_t nd = x_in.dim();
  std::vector<bool> reduced(nd, false);
  for (int64_t a : axes) reduced[a] = true;
  int64_t R = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (reduced[d]) R *= x_in.shape()[d];
  int reduced_runs = 0, prev = -1;  // runs of consecutive reduced axes (size-1 axes ignored)
  for (int64_t d = 0; d < nd; ++d) {
    if (x_in.shape()[d] == 1) continue;
    if (static_cast<int>(reduced[d]) != prev) {
      reduced_runs += reduced[d];
      prev = reduced[d];
    }
  }
  if (reduced_runs > 1) {
    // Several separate runs of reduced axes, e.g. (N, C, H, W) over {0, 2, 3}: reduce the last run
    // first (one read of everything into a much smaller tensor), then the rest from that result.
    // Sum, mean (equal-sized groups), max and min all compose this way.
    std::vector<int64_t> last_run, rest;
    int64_t d = nd - 1;
    while (d >= 0 && !(reduced[d] && x_in.shape()[d] != 1)) --d;
    for (; d >= 0 && (reduced[d] || x_in.shape()[d] == 1); --d)
      if (reduced[d]) last_run.push_back(d);
    for (int64_t a : axes)
      if (std::find(last_run.begin(), last_run.end(), a) == last_run.end()) rest.push_back(a);
    std::vector<int64_t> mid_shape = x_in.shape().vec();
    for (int64_t a : last_run) mid_shape[a] = 1;
    Tensor mid = Tensor::empty(Shape(mid_shape), out.dtype(), out.device());
    reduce(op, x_in, last_run, mid);
    return reduce(op, mid, rest, out);
  }
  Tensor x = x_in;
  int64_t outer = 1, inner = 1;
  if (!x.is_contiguous()) {
    x = Tensor::empty(x_in.shape(), x_in.dtype(), x_in.device());
    copy_device(x_in, x);
  }
  bool seen_reduced = false;
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d] && x.shape()[d] != 1) seen_reduced = true;
    else if (!reduced[d]) (seen_reduced ? inner : outer) *= x.shape()[d];
  }
  if (out.numel() == 0) return;
  if (R == 0) {
    MAGMADNN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Mean, "max/min: cannot reduce over an empty dimension");
    fill(out, op == ReduceOp::Sum ? 0.0 : std::numeric_limits<double>::quiet_NaN());
    return;
  }
  dispatch_float(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    switch (op) {
      case ReduceOp::Sum: return launch_reduce<T, double, Combine::Sum>(px, po, outer, R, inner, 0.0, 1.0);
      case ReduceOp::Mean:
        return launch_reduce<T, double, Combine::Sum>(px, po, outer, R, inner, 0.0, 1.0 / static_cast<double>(R));
      case ReduceOp::Max:
        return launch_reduce<T, T, Combine::Max>(px, po, outer, R, inner, -std::numeric_limits<T>::infinity(), 1.0);
      case ReduceOp::Min:
        return launch_reduce<T, T, Combine::Min>(px, po, outer, R, inner, std::numeric_limits<T>::infinity(), 1.0);
    }
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("reduce");
}

void CudaBackend::argmax(const Tensor& x_in, int64_t axis, Tensor& out) {
  check_cuda_tensor(x_in, "argmax");
  check_cuda_tensor(out, "argmax");
  Tensor x = x_in;
  if (!x.is_contiguous()) {
    x = Tensor::empty(x_in.shape(), x_in.dtype(), x_in.device());
    copy_device(x_in, x);
  }
  int64_t outer, R, inner;
  geometry(x, axis, outer, R, inner);
  MAGMADNN_CHECK(R > 0, "argmax: cannot reduce over an empty dimension");
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    argmax_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), out.data<int64_t>(), outer, R, inner);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("argmax");
}

void CudaBackend::softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) {
  check_cuda_tensor(x, "softmax");
  check_cuda_tensor(out, "softmax");
  MAGMADNN_CHECK(x.is_contiguous() && out.is_contiguous(), "softmax kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(x, axis, outer, C, inner);
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), outer, C, inner, log);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("softmax");
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& gy, int64_t axis, bool log, Tensor& gx) {
  check_cuda_tensor(y, "softmax_backward");
  check_cuda_tensor(gy, "softmax_backward");
  check_cuda_tensor(gx, "softmax_backward");
  MAGMADNN_CHECK(y.is_contiguous() && gy.is_contiguous() && gx.is_contiguous(),
                 "softmax_backward kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(y, axis, outer, C, inner);
  if (outer * inner == 0) return;
  dispatch_float(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(y.raw_data()), static_cast<const T*>(gy.raw_data()), static_cast<T*>(gx.raw_data()),
        outer, C, inner, log);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("softmax_backward");
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                Reduction reduction, Tensor& log_probs, Tensor& loss) {
  check_cuda_tensor(target, "cross_entropy");
  check_cuda_tensor(loss, "cross_entropy");
  MAGMADNN_CHECK(target.is_contiguous(), "cross_entropy: expected a contiguous target");
  softmax(logits, 1, /*log=*/true, log_probs);
  const int64_t N = logits.size(0), C = logits.size(1);
  // Labels are checked in the same pass; a bad one is raised at the next host synchronisation.
  const DeviceErrorSink bad = device_error_sink();
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_kernel<T><<<1, kThreads, 0, stream()>>>(
        static_cast<const T*>(log_probs.raw_data()), target.data<int64_t>(), ptr_or_null<const T>(weight, weight.defined()),
        N, C, reduction, static_cast<T*>(loss.raw_data()), bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("cross_entropy");
}

void CudaBackend::cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                                         Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) {
  check_cuda_tensor(log_probs, "cross_entropy_backward");
  check_cuda_tensor(target, "cross_entropy_backward");
  check_cuda_tensor(grad_loss, "cross_entropy_backward");
  check_cuda_tensor(grad_logits, "cross_entropy_backward");
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  if (N * C == 0) return;
  Tensor scale = Tensor::empty(Shape{1}, kFloat64, log_probs.device());
  dispatch_float(log_probs.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* w = ptr_or_null<const T>(weight, weight.defined());
    ce_scale_kernel<T><<<1, kThreads, 0, stream()>>>(target.data<int64_t>(), w, N, C, reduction,
                                                     static_cast<double*>(scale.raw_data()));
    ce_backward_kernel<T><<<blocks_for(N * C), kThreads, 0, stream()>>>(
        static_cast<const T*>(log_probs.raw_data()), target.data<int64_t>(), w,
        static_cast<const T*>(grad_loss.raw_data()), static_cast<const double*>(scale.raw_data()), N, C, reduction,
        static_cast<T*>(grad_logits.raw_data()));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("cross_entropy_backward");
}

void CudaBackend::sgd_step(Tensor& param, const Tensor& grad, Tensor& buf, const SgdParams& p) {
  check_step(param, grad, "SGD");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        ptr_or_null<T>(buf, p.momentum != 0), optim_update::sgd_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("SGD");
}

void CudaBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                            Tensor& max_exp_avg_sq, const AdamParams& p) {
  check_step(param, grad, p.decoupled_weight_decay ? "AdamW" : "Adam");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "Adam", [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(exp_avg.raw_data()), static_cast<T*>(exp_avg_sq.raw_data()),
        ptr_or_null<T>(max_exp_avg_sq, p.amsgrad), optim_update::adam_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("Adam");
}

void CudaBackend::adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) {
  check_step(param, grad, "Adagrad");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "Adagrad", [&](auto tag) {
    using T = decltype(tag);
    adagrad_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(sum.raw_data()), optim_update::adagrad_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("Adagrad");
}

void CudaBackend::rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                               Tensor& grad_avg, const RmspropParams& p) {
  check_step(param, grad, "RMSprop");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag) {
    using T = decltype(tag);
    rmsprop_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(square_avg.raw_data()), ptr_or_null<T>(momentum_buffer, p.momentum > 0),
        ptr_or_null<T>(grad_avg, p.centered), optim_update::rmsprop_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("RMSprop");
}

}  // namespace magmadnn::cuda
