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

// gather and scatter_add walk the index tensor (outer, m, inner) around `axis`; `data` (the
// gathered-from or scattered-into tensor) may be larger than the index in non-axis dims.
// f(flat, base) gets the flat position in index/src/out and the element offset in `data` of
// the index's (outer, inner) position with the axis coordinate 0.
namespace {
template <typename F>
void for_each_index_position(const Tensor& index, const Tensor& data, int64_t axis, F&& f) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= index.shape()[d];
  for (int64_t d = axis + 1; d < index.dim(); ++d) inner *= index.shape()[d];
  const int64_t m = index.shape()[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < inner; ++k) {
        int64_t base = 0, rem_o = o, rem_k = k;
        for (int64_t d = index.dim() - 1; d > axis; --d) {
          base += (rem_k % index.shape()[d]) * data.strides()[d];
          rem_k /= index.shape()[d];
        }
        for (int64_t d = axis - 1; d >= 0; --d) {
          base += (rem_o % index.shape()[d]) * data.strides()[d];
          rem_o /= index.shape()[d];
        }
        f((o * m + j) * inner + k, base);
      }
}
}  // namespace

void CpuBackend::gather(const Tensor& x_in, int64_t axis, const Tensor& index_in, Tensor& out) {
  Tensor x = contiguous_copy(*this, x_in), index = contiguous_copy(*this, index_in);
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, index.numel(), x.shape()[axis], "gather");
  const int64_t step = x.strides()[axis];
  dispatch_all(x.dtype(), "gather", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for_each_index_position(index, x, axis, [&](int64_t flat, int64_t base) { po[flat] = px[base + idx[flat] * step]; });
  });
}

void CpuBackend::scatter_add(Tensor& out, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  MAGMADNN_CHECK(out.is_contiguous(), "scatter_add kernel: output must be contiguous");
  Tensor src = contiguous_copy(*this, src_in), index = contiguous_copy(*this, index_in);
  const int64_t* idx = index.data<int64_t>();
  check_indices(idx, index.numel(), out.shape()[axis], "scatter_add");
  const int64_t step = out.strides()[axis];
  dispatch_float(out.dtype(), "scatter_add", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* ps = src.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for_each_index_position(index, out, axis,
                            [&](int64_t flat, int64_t base) { po[base + idx[flat] * step] += ps[flat]; });
  });
}

}  // namespace magmadnn::cpu
