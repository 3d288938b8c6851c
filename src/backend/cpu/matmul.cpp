// CPU matrix multiply: oneDNN's sgemm for float32 (JIT AVX-512 kernels), or with
// cpu_bf16_active() a oneDNN matmul on operands rounded to bf16 (float32 accumulation and
// output); a plain loop for float64 (used by gradient checks). Transposed views map to GEMM's
// transpose flags (or strides), so backward passes never copy a transposed operand.
#include <dnnl.hpp>

#include "backend/cpu/bf16.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"
#include "backend/cpu/onednn_utils.h"
#include "backend/gemm_layout.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn::cpu {

namespace {

using detail::gemm_layout;
using detail::GemmOperand;

template <typename T>
void gemm_ref(char ta, char tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
              int64_t ldb, T beta, T* C, int64_t ldc) {
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

// C (M, N) = A (M, K) @ B (K, N) [+ C] in bf16 x bf16 -> float32. Each operand is rounded into
// a packed bf16 copy in the order it is stored (row-major, or column-major for a transposed
// operand), described to oneDNN by strides; accumulation into C is a sum post-op.
class Bf16Gemm {
 public:
  Bf16Gemm(char ta, char tb, int64_t M, int64_t N, int64_t K, bool accumulate)
      : ta_(ta), tb_(tb), M_(M), N_(N), K_(K) {
    using namespace onednn;
    onednn::Key key;
    key << ta << tb << M << N << K << accumulate;
    entry_ = cache().get(key, [&] {
      const dnnl::memory::desc a({M, K}, dt::bf16, ta == 'N' ? dims{K, 1} : dims{1, M});
      const dnnl::memory::desc b({K, N}, dt::bf16, tb == 'N' ? dims{N, 1} : dims{1, K});
      const dnnl::memory::desc c({M, N}, dt::f32, dims{N, 1});
      dnnl::primitive_attr attr = user_scratchpad();
      if (accumulate) {
        dnnl::post_ops ops;
        ops.append_sum(1.0f);
        attr.set_post_ops(ops);
      }
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine());
      return Entry{dnnl::matmul(pd), a, b, c, pd.scratchpad_desc()};
    });
    a16_ = onednn::scratch_bytes(static_cast<size_t>(M * K) * 2);
    b16_ = onednn::scratch_bytes(static_cast<size_t>(K * N) * 2);
    if (entry_->scratch.get_size() > 0) scratch_ = onednn::scratch_bytes(entry_->scratch.get_size());
  }

  void run(const float* A, int64_t lda, const float* B, int64_t ldb, float* C) {
    using namespace onednn;
    auto* a16 = static_cast<uint16_t*>(a16_.raw_data());
    auto* b16 = static_cast<uint16_t*>(b16_.raw_data());
    // A batch that broadcasts an operand (batch stride 0) passes the same pointer again: its
    // rounded copy is still in place.
    if (A != last_a_) {
      if (ta_ == 'N')
        to_bf16(A, M_, K_, lda, a16);
      else
        to_bf16(A, K_, M_, lda, a16);
      last_a_ = A;
    }
    if (B != last_b_) {
      if (tb_ == 'N')
        to_bf16(B, K_, N_, ldb, b16);
      else
        to_bf16(B, N_, K_, ldb, b16);
      last_b_ = B;
    }
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, dnnl::memory(entry_->a, engine(), a16)},
                                               {DNNL_ARG_WEIGHTS, dnnl::memory(entry_->b, engine(), b16)},
                                               {DNNL_ARG_DST, dnnl::memory(entry_->c, engine(), C)}};
    if (scratch_.defined())
      args.insert({DNNL_ARG_SCRATCHPAD, dnnl::memory(entry_->scratch, engine(), scratch_.raw_data())});
    entry_->prim.execute(stream(), args);
    stream().wait();
  }

 private:
  struct Entry {
    dnnl::matmul prim;
    dnnl::memory::desc a, b, c, scratch;
  };
  static onednn::PrimitiveCache<Entry>& cache() {
    static onednn::PrimitiveCache<Entry> c;
    return c;
  }
  char ta_, tb_;
  int64_t M_, N_, K_;
  std::shared_ptr<Entry> entry_;
  Tensor a16_, b16_, scratch_;
  const float* last_a_ = nullptr;  // the operands whose rounded copies a16_ / b16_ hold
  const float* last_b_ = nullptr;
};

}  // namespace

void CpuBackend::matmul(const Tensor& a_in, const Tensor& b_in, Tensor& out, bool accumulate) {
  MAGMADNN_CHECK(a_in.dim() == 3 && b_in.dim() == 3 && out.dim() == 3,
                 "matmul kernel: expected 3-D operands");
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
    std::unique_ptr<Bf16Gemm> bf16;
    if constexpr (std::is_same_v<T, float>) {
      if (K > 0 && cpu_bf16_active())
        bf16 = std::make_unique<Bf16Gemm>(ga.trans, gb.trans, M, N, K, accumulate);
    }
    for (int64_t i = 0; i < B; ++i) {
      const T* A = pa + i * a.stride(0);
      const T* Bm = pb + i * b.stride(0);
      T* C = pc + i * M * N;
      if (K == 0) {
        if (!accumulate) std::fill(C, C + M * N, T(0));
        continue;
      }
      if constexpr (std::is_same_v<T, float>) {
        if (bf16) {
          bf16->run(A, ga.ld, Bm, gb.ld, C);
          continue;
        }
        const dnnl_status_t st =
            dnnl_sgemm(ga.trans, gb.trans, M, N, K, 1.0f, A, ga.ld, Bm, gb.ld, beta, C, N);
        MAGMADNN_CHECK(st == dnnl_success, "matmul: oneDNN sgemm failed with status ", static_cast<int>(st),
                       " for (", M, ", ", K, ") @ (", K, ", ", N, ")");
      } else {
        gemm_ref<T>(ga.trans, gb.trans, M, N, K, A, ga.ld, Bm, gb.ld, beta, C, N);
      }
    }
  });
}

}  // namespace magmadnn::cpu
