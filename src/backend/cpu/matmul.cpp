// CPU matrix multiply: oneDNN's sgemm for float32 (JIT AVX-512 kernels), a blocked loop for
// float64 (used by gradient checks). Transposed views map to GEMM's transpose flags, so
// backward passes never copy a transposed operand.
#include <dnnl.h>

#include "backend/gemm_layout.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {

using detail::gemm_layout;
using detail::GemmOperand;

template <typename T>
void gemm_ref(char ta, char tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
              T beta, T* C, int64_t ldc) {
  auto a = [&](int64_t i, int64_t k) { return ta == 'N' ? A[i * lda + k] : A[k * lda + i]; };
  auto b = [&](int64_t k, int64_t j) { return tb == 'N' ? B[k * ldb + j] : B[j * ldb + k]; };
#pragma omp parallel for if (M * N * K >= kParallelGrain)
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      T acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += a(i, k) * b(k, j);
      C[i * ldc + j] = beta == T(0) ? acc : beta * C[i * ldc + j] + acc;
    }
  }
}

}  // namespace

void CpuBackend::matmul(const Tensor& a_in, const Tensor& b_in, Tensor& out, bool accumulate) {
  MAGMADNN_CHECK(a_in.dim() == 3 && b_in.dim() == 3 && out.dim() == 3, "matmul kernel: expected 3-D operands");
  MAGMADNN_CHECK(out.is_contiguous(), "matmul kernel: output must be contiguous");
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a_in.size(2);
  Tensor a = a_in, b = b_in;
  GemmOperand ga{'N', 1}, gb{'N', 1};
  if (!gemm_layout(M, K, a.stride(1), a.stride(2), ga)) {
    a = Tensor::empty(a_in.shape(), a_in.dtype());
    copy(a_in, a);
    gemm_layout(M, K, a.stride(1), a.stride(2), ga);
  }
  if (!gemm_layout(K, N, b.stride(1), b.stride(2), gb)) {
    b = Tensor::empty(b_in.shape(), b_in.dtype());
    copy(b_in, b);
    gemm_layout(K, N, b.stride(1), b.stride(2), gb);
  }
  if (M == 0 || N == 0) return;
  dispatch_float(out.dtype(), "matmul", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* pc = out.data<T>();
    const T beta = accumulate ? T(1) : T(0);
    for (int64_t i = 0; i < B; ++i) {
      const T* A = pa + i * a.stride(0);
      const T* Bm = pb + i * b.stride(0);
      T* C = pc + i * M * N;
      if (K == 0) {
        if (!accumulate) std::fill(C, C + M * N, T(0));
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        const dnnl_status_t st = dnnl_sgemm(ga.trans, gb.trans, M, N, K, 1.0f, A, ga.ld, Bm, gb.ld, beta, C, N);
        MAGMADNN_CHECK(st == dnnl_success, "matmul: oneDNN sgemm failed with status ", static_cast<int>(st),
                       " for (", M, ", ", K, ") @ (", K, ", ", N, ")");
      } else {
        gemm_ref<T>(ga.trans, gb.trans, M, N, K, A, ga.ld, Bm, gb.ld, beta, C, N);
      }
    }
  });
}

}  // namespace magmadnn::cpu
