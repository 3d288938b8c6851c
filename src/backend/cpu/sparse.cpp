// CPU sparse kernels: CSR x dense (SpMM) for float32 and float64, OpenMP over the output rows of
// all batch entries at once, the feature dimension innermost (contiguous, vectorised). The op
// (src/ops/sparse.cpp) has already validated the CSR structure and the shapes.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

void CpuBackend::spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values,
                          const Tensor& x, Tensor& out, bool accumulate) {
  MAGMADNN_CHECK(x.dim() == 3 && out.dim() == 3 && x.is_contiguous() && out.is_contiguous() &&
                     values.is_contiguous() && row_offsets.is_contiguous() && col_indices.is_contiguous(),
                 "spmm_csr kernel: expected contiguous x (B, cols, F) and out (B, rows, F), got ", x.shape(),
                 " and ", out.shape());
  const int64_t B = x.size(0), cols = x.size(1), F = x.size(2), rows = out.size(1);
  const int64_t nnz = col_indices.numel();
  const int64_t* ro = row_offsets.data<int64_t>();
  const int64_t* ci = col_indices.data<int64_t>();
  dispatch_float(x.dtype(), "spmm_csr", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* v = values.data<scalar_t>();
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const int64_t total_rows = B * rows;
    // Work ~ (nnz + rows) * B * F multiply-adds; fork only when it pays.
    const bool parallel = total_rows > 1 && (nnz + rows) * B * F >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < total_rows; ++r) {
      const int64_t b = r / rows, i = r - b * rows;
      scalar_t* o = po + r * F;
      const scalar_t* xb = px + b * cols * F;
      if (!accumulate) std::fill(o, o + F, scalar_t(0));
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
