// CUDA backend: CSR sparse x dense products (SpMM) with cuSPARSE's generic API -- int64 indices,
// row-major dense operands, a batch of dense operands sharing one sparse structure as one strided
// batched call, and the per-device cuSPARSE handle. Semantics: Backend::spmm_csr (backend.h) and
// the CPU kernel in src/backend/cpu/sparse.cpp.
#include <cusparse.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <mutex>
#include <string>

#include "backend/cuda/cuda_backend.h"

// A failed cuSPARSE call: names the call, cuSPARSE's status string and `where` (the op and its
// shapes; evaluated only on failure).
#define MAGMADNN_CUSPARSE_CHECK(expr, where)                                                                 \
  do {                                                                                                       \
    const cusparseStatus_t magmadnn_cusparse_st_ = (expr);                                                   \
    if (magmadnn_cusparse_st_ != CUSPARSE_STATUS_SUCCESS)                                                    \
      MAGMADNN_ERROR("cuSPARSE error in ", #expr, ": ", cusparseGetErrorString(magmadnn_cusparse_st_), " (", \
                     where, ")");                                                                            \
  } while (0)

namespace magmadnn::cuda {

namespace {

// One cuSPARSE handle per device, made on first use; `mutex` is held for each whole SpMM call
// because the handle's stream is set per call and a handle must not serve two threads at once.
struct DeviceCusparse {
  std::mutex mutex;
  cusparseHandle_t handle = nullptr;
};

DeviceCusparse& device_cusparse(int index) { return per_device<DeviceCusparse>(index, "cuSPARSE"); }

// Descriptors of one SpMM call, destroyed on every path out.
struct SpmmDescriptors {
  cusparseSpMatDescr_t a = nullptr;
  cusparseDnMatDescr_t x = nullptr, out = nullptr;
  SpmmDescriptors() = default;
  SpmmDescriptors(const SpmmDescriptors&) = delete;
  SpmmDescriptors& operator=(const SpmmDescriptors&) = delete;
  ~SpmmDescriptors() {
    if (out) cusparseDestroyDnMat(out);
    if (x) cusparseDestroyDnMat(x);
    if (a) cusparseDestroySpMat(a);
  }
};

// cusparseSpMM's limit on batchCount.
constexpr int64_t kMaxBatch = 65535;

}  // namespace

void CudaBackend::spmm_csr(const Tensor& row_offsets, const Tensor& col_indices, const Tensor& values,
                           const Tensor& x, const Tensor& c, Tensor& out) {
  // A: CSR (rows x cols, nnz), x: (B, cols, F) -> out: (B, rows, F) = A x_b (+ c) for each b.
  for (const Tensor* t :
       std::initializer_list<const Tensor*>{&row_offsets, &col_indices, &values, &x, &c, &out}) {
    if (!t->defined()) continue;
    check_cuda_tensor(*t, "spmm_csr");
    MAGMADNN_CHECK(t->device() == x.device(), "spmm_csr: tensors on ", x.device(), " and ", t->device());
  }
  MAGMADNN_CHECK(x.dim() == 3 && out.dim() == 3 && x.is_contiguous() && out.is_contiguous() &&
                     values.is_contiguous() && row_offsets.is_contiguous() && col_indices.is_contiguous(),
                 "spmm_csr kernel: expected contiguous x (B, cols, F) and out (B, rows, F), got ", x.shape(),
                 " and ", out.shape());
  const int64_t B = x.size(0), cols = x.size(1), F = x.size(2), rows = out.size(1);
  const int64_t nnz = col_indices.numel();
  // The op and its shapes for error messages (built only when one is raised).
  auto where = [&] {
    return detail::str_cat("spmm_csr on ", x.device(), ": A (", rows, " x ", cols, ", nnz ", nnz, "), x ",
                           x.shape(), ", out ", out.shape(), ", ", dtype_name(x.dtype()));
  };
  MAGMADNN_CHECK(x.dtype() == kFloat32 || x.dtype() == kFloat64,
                 "spmm_csr: expected float32 or float64, got ", x.dtype(), " (", where(), ")");
  MAGMADNN_CHECK(
      values.dtype() == x.dtype() && out.dtype() == x.dtype() && (!c.defined() || c.dtype() == x.dtype()),
      "spmm_csr: dtypes differ: values ", values.dtype(), ", x ", x.dtype(), ", out ", out.dtype(), " (",
      where(), ")");
  MAGMADNN_CHECK(row_offsets.dtype() == kInt64 && col_indices.dtype() == kInt64 &&
                     row_offsets.numel() == rows + 1 && values.numel() == nnz && out.size(0) == B &&
                     out.size(2) == F,
                 "spmm_csr: inconsistent operands: row_offsets ", row_offsets.dtype(), " ",
                 row_offsets.shape(), ", col_indices ", col_indices.dtype(), " ", col_indices.shape(),
                 ", values ", values.shape(), " (", where(), ")");
  MAGMADNN_CHECK(!c.defined() || c.shape() == out.shape(), "spmm_csr kernel: c ",
                 c.defined() ? c.shape() : Shape{}, " differs from out ", out.shape());
  if (out.numel() == 0) return;

  DeviceGuard scope(x.device().index);
  // out starts as c (any strides, broadcast included; the copy kernel lays it out densely) and
  // cuSPARSE adds A x with beta = 1; without c it starts at zero. Zeroing (rather than beta = 0)
  // also keeps uninitialised memory out of the result whatever cuSPARSE reads.
  if (c.defined())
    copy_device(c, out);
  else
    MAGMADNN_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), stream()));
  if (nnz == 0 || cols == 0) return;  // A = 0: out is c (or zero); cuSPARSE wants non-empty arrays

  const cudaDataType dt = x.dtype() == kFloat64 ? CUDA_R_64F : CUDA_R_32F;
  const float f1 = 1.0f;
  const double d1 = 1.0;
  const void* one = x.dtype() == kFloat64 ? static_cast<const void*>(&d1) : static_cast<const void*>(&f1);
  const size_t esize = x.element_size();
  char* const px = static_cast<char*>(x.raw_data());
  char* const pout = static_cast<char*>(out.raw_data());

  DeviceCusparse& d = device_cusparse(x.device().index);
  std::lock_guard<std::mutex> lock(d.mutex);
  if (!d.handle) MAGMADNN_CUSPARSE_CHECK(cusparseCreate(&d.handle), where());
  MAGMADNN_CUSPARSE_CHECK(cusparseSetStream(d.handle, stream()), where());

  // out[b0 : b0 + nb] += A x[b0 : b0 + nb]: one strided-batched call when nb > 1, the sparse
  // matrix shared by all (batch stride 0). Returns the first failing cuSPARSE call and its status,
  // so that a library refusing the batched form can be answered with single calls.
  struct Status {
    cusparseStatus_t st = CUSPARSE_STATUS_SUCCESS;
    const char* call = "";
    bool ok() const { return st == CUSPARSE_STATUS_SUCCESS; }
  };
  auto run = [&](int64_t b0, int64_t nb) -> Status {
    SpmmDescriptors desc;
    cusparseStatus_t st = cusparseCreateCsr(&desc.a, rows, cols, nnz, row_offsets.raw_data(),
                                            col_indices.raw_data(), values.raw_data(), CUSPARSE_INDEX_64I,
                                            CUSPARSE_INDEX_64I, CUSPARSE_INDEX_BASE_ZERO, dt);
    if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseCreateCsr"};
    // Row-major (cols x F) and (rows x F): the leading dimension is the row length F.
    st = cusparseCreateDnMat(&desc.x, cols, F, F, px + b0 * cols * F * esize, dt, CUSPARSE_ORDER_ROW);
    if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseCreateDnMat"};
    st = cusparseCreateDnMat(&desc.out, rows, F, F, pout + b0 * rows * F * esize, dt, CUSPARSE_ORDER_ROW);
    if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseCreateDnMat"};
    if (nb > 1) {
      st = cusparseCsrSetStridedBatch(desc.a, static_cast<int>(nb), 0, 0);
      if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseCsrSetStridedBatch"};
      st = cusparseDnMatSetStridedBatch(desc.x, static_cast<int>(nb), cols * F);
      if (st == CUSPARSE_STATUS_SUCCESS)
        st = cusparseDnMatSetStridedBatch(desc.out, static_cast<int>(nb), rows * F);
      if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseDnMatSetStridedBatch"};
    }
    size_t bytes = 0;
    st = cusparseSpMM_bufferSize(d.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                 one, desc.a, desc.x, one, desc.out, dt, CUSPARSE_SPMM_ALG_DEFAULT, &bytes);
    if (st != CUSPARSE_STATUS_SUCCESS) return {st, "cusparseSpMM_bufferSize"};
    // From the caching allocator; stream order makes freeing it after the call safe.
    const Tensor buffer = bytes ? Tensor::empty({static_cast<int64_t>(bytes)}, kUInt8, x.device()) : Tensor();
    st = cusparseSpMM(d.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, one,
                      desc.a, desc.x, one, desc.out, dt, CUSPARSE_SPMM_ALG_DEFAULT,
                      buffer.defined() ? buffer.raw_data() : nullptr);
    return {st, "cusparseSpMM"};
  };
  auto check = [&](const Status& s, int64_t b0, int64_t nb) {
    MAGMADNN_CHECK(s.ok(), "cuSPARSE error in ", s.call, ": ", cusparseGetErrorString(s.st), " (", where(),
                   "; batch entries ", b0, " to ", b0 + nb - 1, ")");
  };

  // The whole batch in chunks of at most kMaxBatch. If cuSPARSE refuses a shared sparse matrix
  // in batched SpMM (not supported, or batch stride 0 taken as invalid), fall back to one call per
  // batch entry: a refused call is refused before anything is launched, so it wrote nothing.
  const int64_t first_nb = std::min(B, kMaxBatch);
  const Status first = run(0, first_nb);
  if (first.ok()) {
    for (int64_t b0 = first_nb; b0 < B; b0 += kMaxBatch) {
      const int64_t nb = std::min(B - b0, kMaxBatch);
      check(run(b0, nb), b0, nb);
    }
    return;
  }
  if (B == 1 || (first.st != CUSPARSE_STATUS_NOT_SUPPORTED && first.st != CUSPARSE_STATUS_INVALID_VALUE))
    check(first, 0, first_nb);
  for (int64_t b = 0; b < B; ++b) check(run(b, 1), b, 1);
}

}  // namespace magmadnn::cuda
