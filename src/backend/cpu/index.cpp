// CPU indexing kernels: index_select / index_add along one axis, gather / scatter_add.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {
Tensor contiguous_copy(CpuBackend& be, const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype());
  be.copy(t, c);
  return c;
}
void check_indices(const int64_t* idx, int64_t n, int64_t size, const char* op) {
  for (int64_t i = 0; i < n; ++i)
    MAGMADNN_CHECK(idx[i] >= 0 && idx[i] < size, op, ": index ", idx[i], " is out of range for a dimension of size ",
                   size);
}
}  // namespace

void CpuBackend::index_select(const Tensor& x_in, int64_t axis, const Tensor& index_in, Tensor& out) {
  Tensor x = contiguous_copy(*this, x_in), index = contiguous_copy(*this, index_in);
  const int64_t n = index.numel(), size = x.shape()[axis];
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, n, size, "index_select");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  dispatch_all(x.dtype(), "index_select", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for collapse(2) if (outer * n * inner >= kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < n; ++i)
        std::copy(px + (o * size + idx[i]) * inner, px + (o * size + idx[i] + 1) * inner, po + (o * n + i) * inner);
  });
}

void CpuBackend::index_add(Tensor& out, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  MAGMADNN_CHECK(out.is_contiguous(), "index_add kernel: output must be contiguous");
  Tensor src = contiguous_copy(*this, src_in), index = contiguous_copy(*this, index_in);
  const int64_t n = index.numel(), size = out.shape()[axis];
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, n, size, "index_add");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out.shape()[d];
  for (int64_t d = axis + 1; d < out.dim(); ++d) inner *= out.shape()[d];
  dispatch_float(out.dtype(), "index_add", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    // Parallel over outer only: repeated indices make rows of one outer slice collide.
#pragma omp parallel for if (outer > 1 && outer * n * inner >= kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < n; ++i) {
        scalar_t* dst = po + (o * size + idx[i]) * inner;
        const scalar_t* s = ps + (o * n + i) * inner;
        for (int64_t k = 0; k < inner; ++k) dst[k] += s[k];
      }
  });
}

void CpuBackend::gather(const Tensor& x_in, int64_t axis, const Tensor& index_in, Tensor& out) {
  Tensor x = contiguous_copy(*this, x_in), index = contiguous_copy(*this, index_in);
  const int64_t size = x.shape()[axis], m = index.shape()[axis];
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, index.numel(), size, "gather");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= index.shape()[d];
  for (int64_t d = axis + 1; d < index.dim(); ++d) inner *= index.shape()[d];
  const int64_t x_inner = x.strides()[axis];
  dispatch_all(x.dtype(), "gather", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < m; ++j)
        for (int64_t k = 0; k < inner; ++k) {
          // index/out have their own inner extents; x may be larger in non-axis dims.
          const int64_t flat = (o * m + j) * inner + k;
          int64_t xo = 0, rem_o = o, rem_k = k;
          // Map (o, k) in index coordinates to x offsets.
          for (int64_t d = index.dim() - 1; d > axis; --d) {
            xo += (rem_k % index.shape()[d]) * x.strides()[d];
            rem_k /= index.shape()[d];
          }
          for (int64_t d = axis - 1; d >= 0; --d) {
            xo += (rem_o % index.shape()[d]) * x.strides()[d];
            rem_o /= index.shape()[d];
          }
          po[flat] = px[xo + idx[flat] * x_inner];
        }
  });
}

void CpuBackend::scatter_add(Tensor& out, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  MAGMADNN_CHECK(out.is_contiguous(), "scatter_add kernel: output must be contiguous");
  Tensor src = contiguous_copy(*this, src_in), index = contiguous_copy(*this, index_in);
  const int64_t size = out.shape()[axis], m = index.shape()[axis];
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, index.numel(), size, "scatter_add");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= index.shape()[d];
  for (int64_t d = axis + 1; d < index.dim(); ++d) inner *= index.shape()[d];
  dispatch_float(out.dtype(), "scatter_add", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < m; ++j)
        for (int64_t k = 0; k < inner; ++k) {
          const int64_t flat = (o * m + j) * inner + k;
          int64_t xo = 0, rem_o = o, rem_k = k;
          for (int64_t d = index.dim() - 1; d > axis; --d) {
            xo += (rem_k % index.shape()[d]) * out.strides()[d];
            rem_k /= index.shape()[d];
          }
          for (int64_t d = axis - 1; d >= 0; --d) {
            xo += (rem_o % index.shape()[d]) * out.strides()[d];
            rem_o /= index.shape()[d];
          }
          po[xo + idx[flat] * out.strides()[axis]] += ps[flat];
        }
  });
}

}  // namespace magmadnn::cpu
