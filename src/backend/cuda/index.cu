// CUDA indexing kernels: index_select / index_add along one axis, gather / scatter_add (as in
// src/backend/cpu/index.cpp). Out-of-range indices are found in the same pass, skipped, and
// recorded as a deferred device error (device_errors.h): raised as the CPU's Error at the next
// host synchronisation, with no host round trip here; entries with valid indices are written. The adds use
// atomicAdd, so repeated indices sum in an unspecified order (float rounding may differ from the CPU).
#include <cstdint>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_errors.h"

namespace magmadnn::cuda {

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__device__ __forceinline__ bool valid_index(int64_t v, int64_t size, int64_t pos, DeviceErrorSink bad,
                                            DeviceErrorOp op) {
  if (v >= 0 && v < size) return true;
  report_device_error(bad, op, v, pos, size);
  return false;
}

template <typename T>
__global__ void index_select_kernel(const T* x, const int64_t* idx, T* out, int64_t n, int64_t size, int64_t inner,
                                    int64_t total, DeviceErrorSink bad) {
  GRID_STRIDE(flat, total) {
    const int64_t k = flat % inner, t = flat / inner, i = t % n, o = t / n;
    const int64_t v = idx[i];
    if (valid_index(v, size, i, bad, DeviceErrorOp::IndexSelect)) out[flat] = x[(o * size + v) * inner + k];
  }
}

template <typename T>
__global__ void index_add_kernel(T* out, const int64_t* idx, const T* src, int64_t n, int64_t size, int64_t inner,
                                 int64_t total, DeviceErrorSink bad) {
  GRID_STRIDE(flat, total) {
    const int64_t k = flat % inner, t = flat / inner, i = t % n, o = t / n;
    const int64_t v = idx[i];
    if (valid_index(v, size, i, bad, DeviceErrorOp::IndexAdd)) atomicAdd(out + (o * size + v) * inner + k, src[flat]);
  }
}

// Index positions (row-major over the index's shape) -> element offsets in the data tensor with
// the axis coordinate left out; data may be larger than the index in non-axis dimensions.
struct IndexGeom {
  int nd = 0, axis = 0;
  int64_t shape[kMaxDims];
  int64_t data_strides[kMaxDims];
};
__device__ __forceinline__ int64_t base_offset(const IndexGeom& g, int64_t flat) {
  int64_t base = 0;
  for (int d = g.nd - 1; d >= 0; --d) {
    const int64_t c = flat % g.shape[d];
    flat /= g.shape[d];
    if (d != g.axis) base += c * g.data_strides[d];
  }
  return base;
}

template <typename T>
__global__ void gather_kernel(const T* x, const int64_t* idx, T* out, IndexGeom g, int64_t size, int64_t step,
                              int64_t total, DeviceErrorSink bad) {
  GRID_STRIDE(flat, total) {
    const int64_t v = idx[flat];
    if (valid_index(v, size, flat, bad, DeviceErrorOp::Gather)) out[flat] = x[base_offset(g, flat) + v * step];
  }
}

template <typename T>
__global__ void scatter_add_kernel(T* out, const int64_t* idx, const T* src, IndexGeom g, int64_t size, int64_t step,
                                   int64_t total, DeviceErrorSink bad) {
  GRID_STRIDE(flat, total) {
    const int64_t v = idx[flat];
    if (valid_index(v, size, flat, bad, DeviceErrorOp::ScatterAdd)) atomicAdd(out + base_offset(g, flat) + v * step, src[flat]);
  }
}

Tensor contiguous_on_device(CudaBackend& be, const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  be.copy(t, c);
  return c;
}

void outer_inner(const Shape& s, int64_t axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < s.dim(); ++d) inner *= s[d];
}

IndexGeom index_geom(const Tensor& index, const Tensor& data, int64_t axis, const char* op) {
  MAGMADNN_CHECK(index.dim() <= kMaxDims, op, ": at most ", kMaxDims, " dimensions on CUDA, got ", index.shape());
  IndexGeom g;
  g.nd = static_cast<int>(index.dim());
  g.axis = static_cast<int>(axis);
  for (int d = 0; d < g.nd; ++d) {
    g.shape[d] = index.shape()[d];
    g.data_strides[d] = data.strides()[d];
  }
  return g;
}

}  // namespace

void CudaBackend::index_select(const Tensor& x_in, int64_t axis, const Tensor& index_in, Tensor& out) {
  check_cuda_tensor(x_in, "index_select");
  check_cuda_tensor(index_in, "index_select");
  check_cuda_tensor(out, "index_select");
  MAGMADNN_CHECK(out.is_contiguous(), "index_select kernel: output must be contiguous");
  const Tensor x = contiguous_on_device(*this, x_in), index = contiguous_on_device(*this, index_in);
  const int64_t n = index.numel(), size = x.shape()[axis];
  int64_t outer, inner;
  outer_inner(x.shape(), axis, outer, inner);
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  const DeviceErrorSink bad = device_error_sink();
  dispatch_all(x.dtype(), "index_select", [&](auto tag) {
    using T = decltype(tag);
    index_select_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), index.data<int64_t>(), static_cast<T*>(out.raw_data()), n, size, inner,
        total, bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("index_select");
}

void CudaBackend::index_add(Tensor& out, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  check_cuda_tensor(out, "index_add");
  check_cuda_tensor(index_in, "index_add");
  check_cuda_tensor(src_in, "index_add");
  MAGMADNN_CHECK(out.is_contiguous(), "index_add kernel: output must be contiguous");
  const Tensor src = contiguous_on_device(*this, src_in), index = contiguous_on_device(*this, index_in);
  const int64_t n = index.numel(), size = out.shape()[axis];
  int64_t outer, inner;
  outer_inner(out.shape(), axis, outer, inner);
  const int64_t total = outer * n * inner;
  if (total == 0) return;
  const DeviceErrorSink bad = device_error_sink();
  dispatch_float(out.dtype(), "index_add", [&](auto tag) {
    using T = decltype(tag);
    index_add_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        static_cast<T*>(out.raw_data()), index.data<int64_t>(), static_cast<const T*>(src.raw_data()), n, size, inner,
        total, bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("index_add");
}

void CudaBackend::gather(const Tensor& x_in, int64_t axis, const Tensor& index_in, Tensor& out) {
  check_cuda_tensor(x_in, "gather");
  check_cuda_tensor(index_in, "gather");
  check_cuda_tensor(out, "gather");
  MAGMADNN_CHECK(out.is_contiguous(), "gather kernel: output must be contiguous");
  const Tensor x = contiguous_on_device(*this, x_in), index = contiguous_on_device(*this, index_in);
  const int64_t total = index.numel(), size = x.shape()[axis];
  if (total == 0) return;
  const IndexGeom g = index_geom(index, x, axis, "gather");
  const DeviceErrorSink bad = device_error_sink();
  dispatch_all(x.dtype(), "gather", [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                                    index.data<int64_t>(), static_cast<T*>(out.raw_data()),
                                                                    g, size, x.strides()[axis], total, bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("gather");
}

void CudaBackend::scatter_add(Tensor& out, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  check_cuda_tensor(out, "scatter_add");
  check_cuda_tensor(index_in, "scatter_add");
  check_cuda_tensor(src_in, "scatter_add");
  MAGMADNN_CHECK(out.is_contiguous(), "scatter_add kernel: output must be contiguous");
  const Tensor src = contiguous_on_device(*this, src_in), index = contiguous_on_device(*this, index_in);
  const int64_t total = index.numel(), size = out.shape()[axis];
  if (total == 0) return;
  const IndexGeom g = index_geom(index, out, axis, "scatter_add");
  const DeviceErrorSink bad = device_error_sink();
  dispatch_float(out.dtype(), "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        static_cast<T*>(out.raw_data()), index.data<int64_t>(), static_cast<const T*>(src.raw_data()), g, size,
        out.strides()[axis], total, bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("scatter_add");
}

}  // namespace magmadnn::cuda
