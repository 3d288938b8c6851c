// CUDA batch normalization (x viewed as (N, C, S), one block per channel, sums in double) and
// pooling (max/avg pool2d with PyTorch's windows, adaptive average pooling), mirroring
// src/backend/cpu/batchnorm.cpp and pool.cpp. First
// versions for correctness (cuDNN takes over where it pays); backward passes scatter with
// atomicAdd, so overlapping windows sum in an unspecified order.
#include <cstdint>
#include <limits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"

namespace magmadnn::cuda {

namespace {

// Sum of v over the block, returned to every thread (blockDim.x == kThreads).
__device__ double block_sum(double v, double* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

template <typename T>
__global__ void bn_forward_kernel(const T* x, const T* w, const T* b, T* mean, T* var, bool training, double eps, T* y,
                                  int64_t N, int64_t C, int64_t S) {
  __shared__ double shared[kThreads];
  const int64_t M = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    if (training) {
      double s = 0;
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) s += static_cast<double>(x[((j / S) * C + c) * S + j % S]);
      const double m = block_sum(s, shared) / static_cast<double>(M);
      const T mt = static_cast<T>(m);
      double v = 0;
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const T d = x[((j / S) * C + c) * S + j % S] - mt;
        v += static_cast<double>(d * d);
      }
      const double vt = block_sum(v, shared) / static_cast<double>(M);
      if (threadIdx.x == 0) {
        mean[c] = mt;
        var[c] = static_cast<T>(vt);
      }
      __syncthreads();
    }
    const double invstd = 1.0 / ::sqrt(static_cast<double>(var[c]) + eps);
    const T scale = static_cast<T>(w[c] * invstd), shift = static_cast<T>(b[c] - mean[c] * w[c] * invstd);
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t off = ((j / S) * C + c) * S + j % S;
      y[off] = x[off] * scale + shift;
    }
    __syncthreads();  // mean/var of this channel are read above before the next iteration
  }
}

template <typename T>
__global__ void bn_backward_kernel(const T* x, const T* gy, const T* w, const T* mean, const T* var, bool training,
                                   double eps, T* gx, T* gw, T* gb, int64_t N, int64_t C, int64_t S) {
  __shared__ double shared[kThreads];
  const int64_t M = N * S;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    const double invstd = 1.0 / ::sqrt(static_cast<double>(var[c]) + eps);
    const T mc = mean[c];
    double a = 0, bsum = 0;
    for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
      const int64_t off = ((j / S) * C + c) * S + j % S;
      a += static_cast<double>(gy[off]);
      bsum += static_cast<double>(gy[off] * (x[off] - mc));
    }
    const double sg = block_sum(a, shared);
    const double sgx = block_sum(bsum, shared);
    const double dw = sgx * invstd;  // sum of g * xhat
    if (threadIdx.x == 0) {
      if (gw) gw[c] = static_cast<T>(dw);
      if (gb) gb[c] = static_cast<T>(sg);
    }
    if (gx) {
      const double k = static_cast<double>(w[c]) * invstd;
      const double k2 = training ? -k * invstd * dw / M : 0.0, k0 = training ? -k * sg / M : 0.0;
      const T kt = static_cast<T>(k), k2t = static_cast<T>(k2), k0t = static_cast<T>(k0);
      for (int64_t j = threadIdx.x; j < M; j += blockDim.x) {
        const int64_t off = ((j / S) * C + c) * S + j % S;
        gx[off] = kt * gy[off] + k2t * (x[off] - mc) + k0t;
      }
    }
  }
}

__device__ __forceinline__ int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ __forceinline__ int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
__global__ void adaptive_avg_pool_kernel(const T* x, T* y, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < NC * OH * OW; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = j % OW, oh = (j / OW) % OH, i = j / (OW * OH);
    const int64_t h0 = bin_start(oh, H, OH), h1 = bin_end(oh, H, OH), w0 = bin_start(ow, W, OW),
                  w1 = bin_end(ow, W, OW);
    const T* q = x + i * H * W;
    T acc = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) acc += q[h * W + w];
    y[j] = (OH == 1 && OW == 1) ? acc * (T(1) / static_cast<T>(H * W)) : acc / static_cast<T>((h1 - h0) * (w1 - w0));
  }
}

// One thread per input element, summing the bins that contain it (in the CPU's bin order).
template <typename T>
__global__ void adaptive_avg_pool_backward_kernel(const T* gy, T* gx, int64_t NC, int64_t H, int64_t W, int64_t OH,
                                                  int64_t OW) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < NC * H * W; j += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = j % W, h = (j / W) % H, i = j / (W * H);
    if (OH == 1 && OW == 1) {
      gx[j] = gy[i] / static_cast<T>(H * W);
      continue;
    }
    T acc = 0;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = bin_start(oh, H, OH), h1 = bin_end(oh, H, OH);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = bin_start(ow, W, OW), w1 = bin_end(ow, W, OW);
        if (w < w0 || w >= w1) continue;
        acc += gy[(i * OH + oh) * OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
    gx[j] = acc;
  }
}

// PyTorch's pooling window for output index o: [start, end) clipped to the input, and the
// divisor of an average (count_include_pad counts padding but not the ceil-mode overhang).
struct Window {
  int64_t start, end, padded;
};
__device__ __forceinline__ Window window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  const int64_t s = o * stride - pad;
  const int64_t e = s + k < in + pad ? s + k : in + pad;
  return {s > 0 ? s : 0, e < in ? e : in, e - s};
}

struct PoolDims {
  int64_t NC, H, W, OH, OW;
};

// One thread per output; Max records the flat in-plane index of the maximum (the workspace).
template <typename T>
__global__ void pool_forward_kernel(const T* x, T* y, int64_t* argmax, PoolDims d, Pool2dParams p) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < d.NC * d.OH * d.OW; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % d.OW, oh = (o / d.OW) % d.OH, nc = o / (d.OW * d.OH);
    const Window wh = window(oh, p.stride_h, p.pad_h, p.kernel_h, d.H), ww = window(ow, p.stride_w, p.pad_w, p.kernel_w, d.W);
    const T* xp = x + nc * d.H * d.W;
    if (p.kind == PoolKind::Max) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t arg = wh.start * d.W + ww.start;
      for (int64_t h = wh.start; h < wh.end; ++h)
        for (int64_t w = ww.start; w < ww.end; ++w) {
          const T v = xp[h * d.W + w];
          if (v > best || v != v) {  // NaN propagates, as in PyTorch
            best = v;
            arg = h * d.W + w;
          }
        }
      y[o] = best;
      argmax[o] = arg;
    } else {
      T acc = 0;
      for (int64_t h = wh.start; h < wh.end; ++h)
        for (int64_t w = ww.start; w < ww.end; ++w) acc += xp[h * d.W + w];
      const int64_t div =
          p.kind == PoolKind::AvgIncludePad ? wh.padded * ww.padded : (wh.end - wh.start) * (ww.end - ww.start);
      y[o] = acc / static_cast<T>(div);
    }
  }
}

// One thread per output, scattering its gradient with atomicAdd (windows may overlap).
template <typename T>
__global__ void pool_backward_kernel(const T* gy, const int64_t* argmax, T* gx, PoolDims d, Pool2dParams p) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < d.NC * d.OH * d.OW; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % d.OW, oh = (o / d.OW) % d.OH, nc = o / (d.OW * d.OH);
    T* gp = gx + nc * d.H * d.W;
    if (p.kind == PoolKind::Max) {
      const int64_t a = argmax[o];
      if (a >= 0 && a < d.H * d.W) atomicAdd(gp + a, gy[o]);
      continue;
    }
    const Window wh = window(oh, p.stride_h, p.pad_h, p.kernel_h, d.H), ww = window(ow, p.stride_w, p.pad_w, p.kernel_w, d.W);
    const int64_t div =
        p.kind == PoolKind::AvgIncludePad ? wh.padded * ww.padded : (wh.end - wh.start) * (ww.end - ww.start);
    const T v = gy[o] / static_cast<T>(div);
    for (int64_t h = wh.start; h < wh.end; ++h)
      for (int64_t w = ww.start; w < ww.end; ++w) atomicAdd(gp + h * d.W + w, v);
  }
}

void check_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    MAGMADNN_CHECK(t->device().is_cuda() && t->is_contiguous(), op,
                   " kernel: expected contiguous CUDA tensors, got shape ", t->shape(), " on ", t->device());
  }
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

unsigned channel_blocks(int64_t C) { return static_cast<unsigned>(C < 65535 ? (C > 0 ? C : 1) : 65535); }

}  // namespace

void CudaBackend::batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& mean, Tensor& var,
                             bool training, double eps, Tensor& y) {
  check_operands("batch_norm", {&x, &w, &b, &mean, &var, &y});
  if (x.numel() == 0) return;
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    bn_forward_kernel<T><<<channel_blocks(C), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(w.raw_data()), static_cast<const T*>(b.raw_data()),
        static_cast<T*>(mean.raw_data()), static_cast<T*>(var.raw_data()), training, eps, static_cast<T*>(y.raw_data()),
        N, C, S);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("batch_norm");
}

void CudaBackend::batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& w, const Tensor& mean,
                                      const Tensor& var, bool training, double eps, Tensor& gx, Tensor& gw,
                                      Tensor& gb) {
  check_operands("batch_norm_backward", {&x, &gy, &w, &mean, &var, &gx, &gw, &gb});
  if (x.numel() == 0) {
    if (gw.defined()) fill(gw, 0);
    if (gb.defined()) fill(gb, 0);
    return;
  }
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    bn_backward_kernel<T><<<channel_blocks(C), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(gy.raw_data()), static_cast<const T*>(w.raw_data()),
        static_cast<const T*>(mean.raw_data()), static_cast<const T*>(var.raw_data()), training, eps, ptr_or_null<T>(gx),
        ptr_or_null<T>(gw), ptr_or_null<T>(gb), N, C, S);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("batch_norm_backward");
}

void CudaBackend::adaptive_avg_pool2d(const Tensor& x, Tensor& y) {
  check_operands("adaptive_avg_pool2d", {&x, &y});
  MAGMADNN_CHECK(x.dim() == 4 && y.dim() == 4, "adaptive_avg_pool2d kernel: expected 4-D tensors, got ", x.shape());
  const int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = y.size(2), OW = y.size(3);
  if (y.numel() == 0) return;
  dispatch_float(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), NC, H, W, OH, OW);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d");
}

void CudaBackend::adaptive_avg_pool2d_backward(const Tensor& gy, Tensor& gx) {
  check_operands("adaptive_avg_pool2d_backward", {&gy, &gx});
  MAGMADNN_CHECK(gy.dim() == 4 && gx.dim() == 4, "adaptive_avg_pool2d_backward kernel: expected 4-D tensors, got ",
                 gy.shape());
  const int64_t NC = gx.size(0) * gx.size(1), H = gx.size(2), W = gx.size(3), OH = gy.size(2), OW = gy.size(3);
  if (gx.numel() == 0) return;
  dispatch_float(gx.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_avg_pool_backward_kernel<T><<<blocks_for(gx.numel()), kThreads, 0, stream()>>>(
        static_cast<const T*>(gy.raw_data()), static_cast<T*>(gx.raw_data()), NC, H, W, OH, OW);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool2d_backward");
}

void CudaBackend::pool2d(const Tensor& x, Tensor& y, Tensor& workspace, const Pool2dParams& p) {
  check_operands("pool2d", {&x, &y});
  MAGMADNN_CHECK(x.dim() == 4 && y.dim() == 4, "pool2d kernel: expected 4-D tensors, got ", x.shape());
  const PoolDims d{x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3)};
  if (p.kind == PoolKind::Max) workspace = Tensor::empty(y.shape(), kInt64, y.device());
  if (y.numel() == 0) return;
  int64_t* arg = p.kind == PoolKind::Max ? static_cast<int64_t*>(workspace.raw_data()) : nullptr;
  dispatch_float(x.dtype(), "pool2d", [&](auto tag) {
    using T = decltype(tag);
    pool_forward_kernel<T><<<blocks_for(y.numel()), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), arg, d, p);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("pool2d");
}

void CudaBackend::pool2d_backward(const Tensor& gy, const Tensor& workspace, Tensor& gx, const Pool2dParams& p) {
  check_operands("pool2d_backward", {&gy, &gx});
  MAGMADNN_CHECK(gy.dim() == 4 && gx.dim() == 4, "pool2d_backward kernel: expected 4-D tensors, got ", gy.shape());
  if (gx.numel() == 0) return;
  fill(gx, 0);
  if (gy.numel() == 0) return;
  if (p.kind == PoolKind::Max)
    MAGMADNN_CHECK(workspace.defined() && workspace.dtype() == kInt64 && workspace.numel() == gy.numel() &&
                       workspace.device() == gy.device(),
                   "pool2d_backward: missing or wrong workspace from the forward pass");
  const PoolDims d{gx.size(0) * gx.size(1), gx.size(2), gx.size(3), gy.size(2), gy.size(3)};
  const int64_t* arg = p.kind == PoolKind::Max ? static_cast<const int64_t*>(workspace.raw_data()) : nullptr;
  dispatch_float(gy.dtype(), "pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    pool_backward_kernel<T><<<blocks_for(gy.numel()), kThreads, 0, stream()>>>(
        static_cast<const T*>(gy.raw_data()), arg, static_cast<T*>(gx.raw_data()), d, p);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("pool2d_backward");
}

}  // namespace magmadnn::cuda
