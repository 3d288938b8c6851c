// CUDA batch normalization (x viewed as (N, C, S); partial sums over the whole GPU, sums in
// double) and pooling (max/avg pool2d with PyTorch's windows, adaptive average pooling), mirroring
// src/backend/cpu/batchnorm.cpp and pool.cpp. Batch norm was tuned on an H200 (faster there than
// cuDNN's, bench/RESULTS.md); pooling is one thread per output, and its backward passes scatter
// with atomicAdd, so overlapping windows sum in an unspecified order.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"

namespace magmadnn::cuda {

namespace {

// ---------------------------------------------------------------------------- batch normalization
//
// x is viewed as (N, C, S): N*C planes of S contiguous elements, plane (n, c) at (n*C + c)*S.
// Each pass is spread over the whole GPU whatever C is (a block per channel would leave most of
// it idle when C is 64 and the planes are large):
//   1. partial sums: grid (C, P); block (c, p) sums units p*U/P .. (p+1)*U/P of channel c, where a
//      unit is a plane or, when there are few planes, a 1/Q slice of one. Each warp takes whole
//      units, so its lanes read consecutive elements. Sums are kept in double.
//   2. finalize: one thread per channel combines its P partials (batch statistics in the
//      forward pass; the weight/bias gradients and the input-gradient coefficients backward).
//   3. apply: one elementwise pass (4-wide when S % 4 == 0), channel = (i / S) % C by FastDiv.
// The forward sums are of x - K with K = x[plane (0, c)][0], which keeps sum-of-squares accurate
// when |mean| >> std.

struct BnSplit {
  int64_t P, Q;  // blocks per channel, slices per plane
};

// `kernel`: the pass-1 kernel, whose occupancy gives the size of a wave.
BnSplit bn_split(int64_t N, int64_t C, int64_t S, const void* kernel) {
  // Blocks per channel: about one full wave of blocks, rounded down, since a few blocks past a
  // wave would take as long as a second one.
  const int64_t wave = int64_t(multiprocessors()) * blocks_per_multiprocessor(kernel);
  const int64_t want = std::max<int64_t>(1, wave / C);
  // Enough units for 8 warps in each of `want` blocks; slices of at least 256 elements.
  int64_t Q = std::max<int64_t>(1, (want * 8 + N - 1) / N);
  Q = std::max<int64_t>(1, std::min<int64_t>(Q, S / 256));
  return {std::max<int64_t>(1, std::min<int64_t>(want, N * Q)), Q};
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}

// Sums (a, b) over the block into part[2 * (c * P + p) + {0, 1}]; blockDim.x == kThreads.
__device__ __forceinline__ void block_store_pair(double a, double b, double* part, int64_t slot) {
  __shared__ double sa[kThreads / 32], sb[kThreads / 32];
  a = warp_sum(a);
  b = warp_sum(b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double ta = 0, tb = 0;
    for (int w = 0; w < kThreads / 32; ++w) {
      ta += sa[w];
      tb += sb[w];
    }
    part[2 * slot] = ta;
    part[2 * slot + 1] = tb;
  }
}

// Pass 1 of the forward pass: sums of (x - K) and (x - K)^2.
template <typename T>
__global__ void bn_stats_partial_kernel(const T* x, double* part, int64_t N, int64_t C, int64_t S, int64_t Q) {
  const int64_t c = blockIdx.x, p = blockIdx.y, P = gridDim.y, U = N * Q;
  const int64_t u0 = p * U / P, u1 = (p + 1) * U / P;
  const T K = x[c * S];
  double s1 = 0, s2 = 0;
  for (int64_t u = u0 + threadIdx.x / 32; u < u1; u += kThreads / 32) {
    const int64_t n = u / Q, q = u % Q;
    const T* plane = x + (n * C + c) * S;
    const int64_t b = q * S / Q, e = (q + 1) * S / Q;
#pragma unroll 4
    for (int64_t s = b + threadIdx.x % 32; s < e; s += 32) {
      const double d = static_cast<double>(plane[s] - K);
      s1 += d;
      s2 += d * d;
    }
  }
  block_store_pair(s1, s2, part, c * P + p);
}

// Pass 2 of the forward pass: mean and biased variance of each channel.
template <typename T>
__global__ void bn_stats_finalize_kernel(const T* x, const double* part, T* mean, T* var, int64_t C, int64_t S,
                                         int64_t P, double M) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double s1 = 0, s2 = 0;
    for (int64_t p = 0; p < P; ++p) {
      s1 += part[2 * (c * P + p)];
      s2 += part[2 * (c * P + p) + 1];
    }
    const double d = s1 / M;
    mean[c] = static_cast<T>(static_cast<double>(x[c * S]) + d);
    var[c] = static_cast<T>(std::max(s2 / M - d * d, 0.0));
  }
}

// Channel of element i (or of vector i, each of W elements, when S % W == 0).
struct ChannelOf {
  FastDiv plane;  // by S / W
  FastDiv chan;   // by C
  __device__ __forceinline__ uint32_t operator()(uint32_t i) const { return chan.mod(plane.div(i)); }
};

// y = x * scale[c] + shift[c], with scale = w / sqrt(var + eps) and shift = b - mean * scale,
// computed per element from the four per-channel values (cached loads).
template <typename T, int W>
__global__ void bn_apply_kernel(const T* x, const T* w, const T* b, const T* mean, const T* var, T eps, T* y,
                                uint32_t vectors, ChannelOf channel) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += gridDim.x * blockDim.x) {
    const uint32_t c = channel(i);
    const T scale = w[c] / dm::sqrt(var[c] + eps), shift = b[c] - mean[c] * scale;
    if constexpr (W == 4) {
      Vec4<T> r = load4(x + 4 * int64_t(i));
      for (int k = 0; k < 4; ++k) r.v[k] = r.v[k] * scale + shift;
      store4(y + 4 * int64_t(i), r);
    } else {
      y[i] = x[i] * scale + shift;
    }
  }
}

// Pass 1 of the backward pass: sums of gy and gy * (x - mean).
template <typename T>
__global__ void bn_grad_partial_kernel(const T* x, const T* gy, const T* mean, double* part, int64_t N, int64_t C,
                                       int64_t S, int64_t Q) {
  const int64_t c = blockIdx.x, p = blockIdx.y, P = gridDim.y, U = N * Q;
  const int64_t u0 = p * U / P, u1 = (p + 1) * U / P;
  const T mc = mean[c];
  double s1 = 0, s2 = 0;
  for (int64_t u = u0 + threadIdx.x / 32; u < u1; u += kThreads / 32) {
    const int64_t n = u / Q, q = u % Q;
    const int64_t off = (n * C + c) * S;
    const int64_t b = q * S / Q, e = (q + 1) * S / Q;
#pragma unroll 4
    for (int64_t s = b + threadIdx.x % 32; s < e; s += 32) {
      const T g = gy[off + s];
      s1 += static_cast<double>(g);
      s2 += static_cast<double>(g * (x[off + s] - mc));
    }
  }
  block_store_pair(s1, s2, part, c * P + p);
}

// Pass 2 of the backward pass: gw = sum(gy * xhat), gb = sum(gy) and the coefficients of
// gx = k * gy + k2 * (x - mean) + k0 (k2 = k0 = 0 with running statistics).
template <typename T>
__global__ void bn_grad_finalize_kernel(const double* part, const T* w, const T* var, bool training, double eps,
                                        T* gw, T* gb, T* coef, int64_t C, int64_t P, double M) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double sg = 0, sgx = 0;
    for (int64_t p = 0; p < P; ++p) {
      sg += part[2 * (c * P + p)];
      sgx += part[2 * (c * P + p) + 1];
    }
    const double invstd = 1.0 / ::sqrt(static_cast<double>(var[c]) + eps);
    const double dw = sgx * invstd;  // sum of g * xhat
    if (gw) gw[c] = static_cast<T>(dw);
    if (gb) gb[c] = static_cast<T>(sg);
    const double k = static_cast<double>(w[c]) * invstd;
    coef[3 * c] = static_cast<T>(k);
    coef[3 * c + 1] = static_cast<T>(training ? -k * invstd * dw / M : 0.0);
    coef[3 * c + 2] = static_cast<T>(training ? -k * sg / M : 0.0);
  }
}

template <typename T, int W>
__global__ void bn_grad_apply_kernel(const T* x, const T* gy, const T* mean, const T* coef, T* gx, uint32_t vectors,
                                     ChannelOf channel) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += gridDim.x * blockDim.x) {
    const uint32_t c = channel(i);
    const T k = coef[3 * c], k2 = coef[3 * c + 1], k0 = coef[3 * c + 2], mc = mean[c];
    if constexpr (W == 4) {
      const Vec4<T> xv = load4(x + 4 * int64_t(i)), gv = load4(gy + 4 * int64_t(i));
      Vec4<T> r;
      for (int q = 0; q < 4; ++q) r.v[q] = k * gv.v[q] + k2 * (xv.v[q] - mc) + k0;
      store4(gx + 4 * int64_t(i), r);
    } else {
      gx[i] = k * gy[i] + k2 * (x[i] - mc) + k0;
    }
  }
}

// The running statistics, in the default's arithmetic (backend/norm_defaults.cpp: each product
// rounded to T, then the sum), one launch instead of six.
template <typename T>
__global__ void bn_running_kernel(const T* mean, const T* var, T* rm, T* rv, int64_t C, T keep, T take, T take_var) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    const T m0 = rm[c] * keep, m1 = mean[c] * take;
    rm[c] = m0 + m1;
    const T v0 = rv[c] * keep, v1 = var[c] * take_var;
    rv[c] = v0 + v1;
  }
}

template <typename T>
__global__ void increment_kernel(T* counter) {
  *counter = static_cast<T>(*counter + T(1));
}

// Calls launch(W, vectors, channel) with W = 4 when every plane is a whole number of aligned
// 16-byte vectors, else W = 1.
template <typename F>
void for_each_width(int64_t C, int64_t S, std::initializer_list<const void*> ptrs, F&& launch) {
  bool wide = S % 4 == 0;
  for (const void* p : ptrs) wide = wide && p && reinterpret_cast<uintptr_t>(p) % 16 == 0;
  const int64_t W = wide ? 4 : 1;
  launch(W, ChannelOf{FastDiv(static_cast<uint32_t>(S / W)), FastDiv(static_cast<uint32_t>(C))});
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


}  // namespace

void CudaBackend::batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& mean, Tensor& var,
                             bool training, double eps, Tensor& y) {
  check_operands("batch_norm", {&x, &w, &b, &mean, &var, &y});
  if (x.numel() == 0) return;
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  MAGMADNN_CHECK(x.numel() < (int64_t(1) << 31), "batch_norm kernel: tensors of 2^31 or more elements are not supported, got ",
                 x.shape());
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T *pm = static_cast<T*>(mean.raw_data()), *pv = static_cast<T*>(var.raw_data());
    if (training) {
      const BnSplit sp = bn_split(N, C, S, reinterpret_cast<const void*>(bn_stats_partial_kernel<T>));
      Tensor part = Tensor::empty(Shape{C * sp.P * 2}, kFloat64, x.device());
      double* pp = static_cast<double*>(part.raw_data());
      bn_stats_partial_kernel<T><<<dim3(static_cast<unsigned>(C), static_cast<unsigned>(sp.P)), kThreads, 0, stream()>>>(
          px, pp, N, C, S, sp.Q);
      bn_stats_finalize_kernel<T><<<blocks_for(C), kThreads, 0, stream()>>>(px, pp, pm, pv, C, S, sp.P,
                                                                             static_cast<double>(N * S));
    }
    T* py = static_cast<T*>(y.raw_data());
    for_each_width(C, S, {px, py}, [&](int64_t W, ChannelOf channel) {
      const auto vectors = static_cast<uint32_t>(x.numel() / W);
      const T *pw = static_cast<const T*>(w.raw_data()), *pb = static_cast<const T*>(b.raw_data());
      if (W == 4)
        bn_apply_kernel<T, 4><<<blocks_for(vectors), kThreads, 0, stream()>>>(px, pw, pb, pm, pv, static_cast<T>(eps),
                                                                             py, vectors, channel);
      else
        bn_apply_kernel<T, 1><<<blocks_for(vectors), kThreads, 0, stream()>>>(px, pw, pb, pm, pv, static_cast<T>(eps),
                                                                             py, vectors, channel);
    });
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
  MAGMADNN_CHECK(x.numel() < (int64_t(1) << 31),
                 "batch_norm_backward kernel: tensors of 2^31 or more elements are not supported, got ", x.shape());
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *px = static_cast<const T*>(x.raw_data()), *pg = static_cast<const T*>(gy.raw_data()),
            *pm = static_cast<const T*>(mean.raw_data());
    const BnSplit sp = bn_split(N, C, S, reinterpret_cast<const void*>(bn_grad_partial_kernel<T>));
    Tensor part = Tensor::empty(Shape{C * sp.P * 2}, kFloat64, x.device());
    Tensor coef = Tensor::empty(Shape{C * 3}, x.dtype(), x.device());
    double* pp = static_cast<double*>(part.raw_data());
    T* pc = static_cast<T*>(coef.raw_data());
    bn_grad_partial_kernel<T><<<dim3(static_cast<unsigned>(C), static_cast<unsigned>(sp.P)), kThreads, 0, stream()>>>(
        px, pg, pm, pp, N, C, S, sp.Q);
    bn_grad_finalize_kernel<T><<<blocks_for(C), kThreads, 0, stream()>>>(
        pp, static_cast<const T*>(w.raw_data()), static_cast<const T*>(var.raw_data()), training, eps,
        ptr_or_null<T>(gw), ptr_or_null<T>(gb), pc, C, sp.P, static_cast<double>(N * S));
    if (!gx.defined()) return;
    T* pgx = static_cast<T*>(gx.raw_data());
    for_each_width(C, S, {px, pg, pgx}, [&](int64_t W, ChannelOf channel) {
      const auto vectors = static_cast<uint32_t>(x.numel() / W);
      if (W == 4)
        bn_grad_apply_kernel<T, 4><<<blocks_for(vectors), kThreads, 0, stream()>>>(px, pg, pm, pc, pgx, vectors, channel);
      else
        bn_grad_apply_kernel<T, 1><<<blocks_for(vectors), kThreads, 0, stream()>>>(px, pg, pm, pc, pgx, vectors, channel);
    });
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("batch_norm_backward");
}

void CudaBackend::batch_norm_update_running(const Tensor& mean, const Tensor& var, Tensor& running_mean,
                                            Tensor& running_var, double momentum, double var_scale) {
  const bool fusable = mean.is_contiguous() && var.is_contiguous() && running_mean.is_contiguous() &&
                       running_var.is_contiguous() && mean.dtype() == running_mean.dtype() &&
                       var.dtype() == running_mean.dtype() && running_var.dtype() == running_mean.dtype() &&
                       is_floating(mean.dtype());
  if (!fusable) return Backend::batch_norm_update_running(mean, var, running_mean, running_var, momentum, var_scale);
  check_operands("batch_norm_update_running", {&mean, &var, &running_mean, &running_var});
  const int64_t C = running_mean.numel();
  MAGMADNN_CHECK(mean.numel() == C && var.numel() == C && running_var.numel() == C,
                 "batch_norm_update_running: expected (C) tensors, got ", mean.shape(), ", ", var.shape(), ", ",
                 running_mean.shape(), ", ", running_var.shape());
  if (C == 0) return;
  dispatch_float(mean.dtype(), "batch_norm_update_running", [&](auto tag) {
    using T = decltype(tag);
    bn_running_kernel<T><<<blocks_for(C), kThreads, 0, stream()>>>(
        static_cast<const T*>(mean.raw_data()), static_cast<const T*>(var.raw_data()),
        static_cast<T*>(running_mean.raw_data()), static_cast<T*>(running_var.raw_data()), C,
        static_cast<T>(1.0 - momentum), static_cast<T>(momentum), static_cast<T>(momentum * var_scale));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("batch_norm_update_running");
}

void CudaBackend::increment(Tensor& counter) {
  check_cuda_tensor(counter, "increment");
  MAGMADNN_CHECK(counter.numel() == 1, "increment: expected a one-element counter, got shape ", counter.shape());
  dispatch_all(counter.dtype(), "increment", [&](auto tag) {
    using T = decltype(tag);
    increment_kernel<T><<<1, 1, 0, stream()>>>(static_cast<T*>(counter.raw_data()));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("increment");
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
