// CPU sparse kernels: CSR x dense (SpMM) for float32 and float64, OpenMP over the output rows of
// all batch entries at once, the feature dimension innermost (contiguous, vectorised). The op
// (src/ops/sparse.cpp) has already validated the CSR structure and the shapes.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

void CpuBackend::spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values,
                          const Tensor& x, const Tensor& c, Tensor& out) {
  MAGMADNN_CHECK(x.dim() == 3 && out.dim() == 3 && x.is_contiguous() && out.is_contiguous() &&
                     values.is_contiguous() && row_offsets.is_contiguous() && col_indices.is_contiguous(),
                 "spmm_csr kernel: expected contiguous x (B, cols, F) and out (B, rows, F), got ", x.shape(),
                 " and ", out.shape());
  MAGMADNN_CHECK(!c.defined() || c.shape() == out.shape(), "spmm_csr kernel: c ",
                 c.defined() ? c.shape() : Shape{}, " differs from out ", out.shape());
  const int64_t B = x.size(0), cols = x.size(1), F = x.size(2), rows = out.size(1);
  const int64_t nnz = col_indices.numel();
  const int64_t* ro = row_offsets.data<int64_t>();
  const int64_t* ci = col_indices.data<int64_t>();
  dispatch_float(x.dtype(), "spmm_csr", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* v = values.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const scalar_t* pc = c.defined() ? static_cast<const scalar_t*>(c.raw_data()) : nullptr;
    const int64_t cb = c.defined() ? c.stride(0) : 0, cr = c.defined() ? c.stride(1) : 0,
                  cf = c.defined() ? c.stride(2) : 0;
    // The kernel is bound by memory traffic (each x row is read once per neighbour from cache,
    // out written once); c is read in the same pass instead of a separate addition.
    const bool parallel = B * rows > 1 && (nnz + rows) * B * F >= kParallelGrain;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < rows; ++i) {
        scalar_t* o = po + (b * rows + i) * F;
        const scalar_t* xb = px + b * cols * F;
        if (pc == nullptr)
          std::fill(o, o + F, scalar_t(0));
        else if (cf == 1)
          std::copy(pc + b * cb + i * cr, pc + b * cb + i * cr + F, o);
        else
          for (int64_t f = 0; f < F; ++f) o[f] = pc[b * cb + i * cr + f * cf];
        for (int64_t k = ro[i]; k < ro[i + 1]; ++k) {
          const scalar_t a = v[k];
          const scalar_t* xr = xb + ci[k] * F;
#pragma omp simd
          for (int64_t f = 0; f < F; ++f) o[f] += a * xr[f];
        }
      }
  });
}

}  // namespace magmadnn::cpu
