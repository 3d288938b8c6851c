// CsrMatrix construction (from CSR arrays, edge lists, block-diagonal stacks), validation,
// transpose and dense conversion, and the differentiable spmm op. Structures are built on the
// host; the product runs on the backend of x's device (Backend::spmm_csr).
#include "magmadnn/ops/sparse.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "magmadnn/ops/ops.h"
#include "ops/op_utils.h"

namespace magmadnn {

using autograd::NeedsGrad;

struct CsrMatrix::Impl {
  int64_t rows = 0, cols = 0;
  Tensor row_offsets, col_indices, values;
  bool symmetric = false;
  // Transpose, made on first use (SpMM's backward) and shared by all copies of the handle.
  std::once_flag transpose_once;
  std::shared_ptr<Impl> transpose;
};

namespace {

Tensor contiguous_cpu(const Tensor& t) {
  return t.is_contiguous() ? t : t.contiguous();
}

// Host-side CSR arrays, the common currency of the builders below.
template <typename V>
struct HostCsr {
  std::vector<int64_t> offsets, cols;
  std::vector<V> vals;
};

template <typename V>
std::shared_ptr<CsrMatrix::Impl> make_impl(int64_t rows, int64_t cols, HostCsr<V>&& h, DType dtype,
                                           bool symmetric) {
  auto impl = std::make_shared<CsrMatrix::Impl>();
  impl->rows = rows;
  impl->cols = cols;
  const int64_t nnz = static_cast<int64_t>(h.cols.size());
  impl->row_offsets = from_vector<int64_t>(h.offsets, {rows + 1});
  impl->col_indices = from_vector<int64_t>(h.cols, {nnz});
  impl->values = from_vector<V>(h.vals, {nnz}).to(dtype);
  impl->symmetric = symmetric;
  return impl;
}

// (row, col, value) triplets -> CSR with rows bucketed (counting sort), columns sorted within a
// row and repeated pairs summed.
template <typename V>
HostCsr<V> triplets_to_csr(int64_t rows, const std::vector<int64_t>& r, const std::vector<int64_t>& c,
                           const std::vector<V>& v) {
  const size_t n = r.size();
  std::vector<int64_t> count(rows + 1, 0);
  for (size_t k = 0; k < n; ++k) ++count[r[k] + 1];
  for (int64_t i = 0; i < rows; ++i) count[i + 1] += count[i];
  std::vector<int64_t> pos(count.begin(), count.end() - 1), order(n);
  for (size_t k = 0; k < n; ++k) order[pos[r[k]]++] = static_cast<int64_t>(k);
  HostCsr<V> h;
  h.offsets.assign(rows + 1, 0);
  h.cols.reserve(n);
  h.vals.reserve(n);
  for (int64_t i = 0; i < rows; ++i) {
    auto b = order.begin() + count[i], e = order.begin() + count[i + 1];
    std::stable_sort(b, e, [&](int64_t x, int64_t y) { return c[x] < c[y]; });
    for (auto it = b; it != e; ++it) {
      if (it != b && c[*it] == h.cols.back() && static_cast<int64_t>(h.cols.size()) > h.offsets[i])
        h.vals.back() += v[*it];
      else {
        h.cols.push_back(c[*it]);
        h.vals.push_back(v[*it]);
      }
    }
    h.offsets[i + 1] = static_cast<int64_t>(h.cols.size());
  }
  return h;
}

}  // namespace

const CsrMatrix::Impl& CsrMatrix::impl() const {
  MAGMADNN_CHECK(impl_ != nullptr, "CsrMatrix: the matrix is undefined (default-constructed)");
  return *impl_;
}
int64_t CsrMatrix::rows() const {
  return impl().rows;
}
int64_t CsrMatrix::cols() const {
  return impl().cols;
}
int64_t CsrMatrix::nnz() const {
  return impl().col_indices.numel();
}
const Tensor& CsrMatrix::row_offsets() const {
  return impl().row_offsets;
}
const Tensor& CsrMatrix::col_indices() const {
  return impl().col_indices;
}
const Tensor& CsrMatrix::values() const {
  return impl().values;
}
bool CsrMatrix::is_symmetric() const {
  return impl().symmetric;
}

CsrMatrix::CsrMatrix(int64_t rows, int64_t cols, Tensor row_offsets, Tensor col_indices, Tensor values,
                     bool symmetric) {
  MAGMADNN_CHECK(rows >= 0 && cols >= 0, "CsrMatrix: expected non-negative sizes, got ", rows, " x ", cols);
  MAGMADNN_CHECK(row_offsets.defined() && col_indices.defined() && values.defined(),
                 "CsrMatrix: row_offsets, col_indices and values must all be defined");
  MAGMADNN_CHECK(row_offsets.dtype() == kInt64 && row_offsets.dim() == 1 && row_offsets.size(0) == rows + 1,
                 "CsrMatrix(", rows, " x ", cols, "): expected row_offsets int64 (", rows + 1, "), got ",
                 row_offsets.dtype(), " ", row_offsets.shape());
  MAGMADNN_CHECK(col_indices.dtype() == kInt64 && col_indices.dim() == 1,
                 "CsrMatrix: expected col_indices int64 (nnz), got ", col_indices.dtype(), " ",
                 col_indices.shape());
  MAGMADNN_CHECK(is_floating(values.dtype()) && values.dim() == 1 && values.size(0) == col_indices.size(0),
                 "CsrMatrix: expected values float32/float64 (", col_indices.size(0),
                 ") like col_indices, got ", values.dtype(), " ", values.shape());
  MAGMADNN_CHECK(symmetric == false || rows == cols, "CsrMatrix: a ", rows, " x ", cols,
                 " matrix cannot be symmetric");
  const auto ro = row_offsets.to_vector<int64_t>(), ci = col_indices.to_vector<int64_t>();
  const int64_t nnz = col_indices.size(0);
  MAGMADNN_CHECK(ro[0] == 0 && ro[rows] == nnz,
                 "CsrMatrix: row_offsets must start at 0 and end at nnz = ", nnz, ", got ", ro[0], " and ",
                 ro[rows]);
  for (int64_t i = 0; i < rows; ++i)
    MAGMADNN_CHECK(ro[i] <= ro[i + 1], "CsrMatrix: row_offsets decrease at row ", i, " (", ro[i], " > ",
                   ro[i + 1], ")");
  for (int64_t k = 0; k < nnz; ++k)
    MAGMADNN_CHECK(ci[k] >= 0 && ci[k] < cols, "CsrMatrix: column index ", ci[k], " at entry ", k,
                   " is out of range for ", cols, " columns");
  auto impl = std::make_shared<Impl>();
  impl->rows = rows;
  impl->cols = cols;
  impl->row_offsets = contiguous_cpu(row_offsets);
  impl->col_indices = contiguous_cpu(col_indices);
  impl->values = contiguous_cpu(values);
  impl->symmetric = symmetric;
  impl_ = std::move(impl);
}

CsrMatrix CsrMatrix::from_edges(int64_t rows, int64_t cols, const Tensor& edges_in, const Tensor& weights,
                                bool symmetric) {
  MAGMADNN_CHECK(rows >= 0 && cols >= 0, "CsrMatrix::from_edges: expected non-negative sizes, got ", rows,
                 " x ", cols);
  MAGMADNN_CHECK(!symmetric || rows == cols, "CsrMatrix::from_edges: symmetric needs a square matrix, got ",
                 rows, " x ", cols);
  MAGMADNN_CHECK(edges_in.defined() && (edges_in.dtype() == kInt64 || edges_in.dtype() == kInt32) &&
                     edges_in.dim() == 2 && edges_in.size(1) == 2,
                 "CsrMatrix::from_edges: expected edges int64 (E, 2), got ",
                 edges_in.defined() ? edges_in.dtype() : kInt64, " ",
                 edges_in.defined() ? edges_in.shape() : Shape{});
  const int64_t E = edges_in.size(0);
  const auto e = edges_in.to_vector<int64_t>();
  for (int64_t k = 0; k < E; ++k)
    MAGMADNN_CHECK(e[2 * k] >= 0 && e[2 * k] < rows && e[2 * k + 1] >= 0 && e[2 * k + 1] < cols,
                   "CsrMatrix::from_edges: edge ", k, " (", e[2 * k], ", ", e[2 * k + 1],
                   ") is out of range for a ", rows, " x ", cols, " matrix");
  DType dtype = kFloat32;
  std::vector<double> w(E, 1.0);
  if (weights.defined()) {
    MAGMADNN_CHECK(is_floating(weights.dtype()) && weights.dim() == 1 && weights.size(0) == E,
                   "CsrMatrix::from_edges: expected weights float32/float64 (", E, ") for ", E,
                   " edges, got ", weights.dtype(), " ", weights.shape());
    dtype = weights.dtype();
    w = weights.to_vector<double>();
    for (int64_t k = 0; k < E; ++k)
      MAGMADNN_CHECK(std::isfinite(w[k]), "CsrMatrix::from_edges: weight ", w[k], " of edge ", k, " (",
                     e[2 * k], ", ", e[2 * k + 1], ") is not finite");
  }
  std::vector<int64_t> r, c;
  std::vector<double> v;
  r.reserve(symmetric ? 2 * E : E);
  c.reserve(r.capacity());
  v.reserve(r.capacity());
  for (int64_t k = 0; k < E; ++k) {
    r.push_back(e[2 * k]);
    c.push_back(e[2 * k + 1]);
    v.push_back(w[k]);
    if (symmetric && e[2 * k] != e[2 * k + 1]) {
      r.push_back(e[2 * k + 1]);
      c.push_back(e[2 * k]);
      v.push_back(w[k]);
    }
  }
  return CsrMatrix(make_impl(rows, cols, triplets_to_csr(rows, r, c, v), dtype, symmetric));
}

CsrMatrix CsrMatrix::block_diagonal(const std::vector<CsrMatrix>& blocks) {
  MAGMADNN_CHECK(!blocks.empty(), "CsrMatrix::block_diagonal: got no blocks");
  const DType dtype = blocks[0].dtype();
  int64_t rows = 0, cols = 0, nnz = 0;
  bool symmetric = true;
  for (size_t b = 0; b < blocks.size(); ++b) {
    MAGMADNN_CHECK(blocks[b].defined(), "CsrMatrix::block_diagonal: block ", b, " is undefined");
    MAGMADNN_CHECK(blocks[b].dtype() == dtype, "CsrMatrix::block_diagonal: block ", b, " has dtype ",
                   blocks[b].dtype(), ", block 0 has ", dtype);
    rows += blocks[b].rows();
    cols += blocks[b].cols();
    nnz += blocks[b].nnz();
    symmetric = symmetric && blocks[b].is_symmetric();
  }
  HostCsr<double> h;
  h.offsets.reserve(rows + 1);
  h.offsets.push_back(0);
  h.cols.reserve(nnz);
  h.vals.reserve(nnz);
  int64_t col0 = 0;
  for (const CsrMatrix& m : blocks) {
    const auto ro = m.row_offsets().to_vector<int64_t>(), ci = m.col_indices().to_vector<int64_t>();
    const auto va = m.values().to_vector<double>();
    const int64_t base = h.offsets.back();
    for (int64_t i = 1; i <= m.rows(); ++i) h.offsets.push_back(base + ro[i]);
    for (int64_t k = 0; k < m.nnz(); ++k) {
      h.cols.push_back(col0 + ci[k]);
      h.vals.push_back(va[k]);
    }
    col0 += m.cols();
  }
  return CsrMatrix(make_impl(rows, cols, std::move(h), dtype, symmetric));
}

CsrMatrix CsrMatrix::transpose() const {
  const Impl& a = impl();
  if (a.symmetric) return *this;
  std::call_once(impl_->transpose_once, [this] {
    const Impl& m = *impl_;
    const auto ro = m.row_offsets.to_vector<int64_t>(), ci = m.col_indices.to_vector<int64_t>();
    const auto va = m.values.to_vector<double>();
    std::vector<int64_t> r, c;
    r.reserve(ci.size());
    c.reserve(ci.size());
    for (int64_t i = 0; i < m.rows; ++i)
      for (int64_t k = ro[i]; k < ro[i + 1]; ++k) {
        r.push_back(ci[k]);
        c.push_back(i);
      }
    // Repeated entries of A stay summed in A^T; the product is the same.
    impl_->transpose = make_impl(m.cols, m.rows, triplets_to_csr(m.cols, r, c, va), m.values.dtype(), false);
    if (!m.values.device().is_cpu()) impl_->transpose = CsrMatrix(impl_->transpose).to(m.values.device()).impl_;
  });
  return CsrMatrix(impl_->transpose);
}

CsrMatrix CsrMatrix::to(DType dtype) const {
  const Impl& a = impl();
  if (dtype == a.values.dtype()) return *this;
  MAGMADNN_CHECK(is_floating(dtype), "CsrMatrix::to: values must be float32 or float64, got ", dtype);
  auto impl = std::make_shared<Impl>();
  impl->rows = a.rows;
  impl->cols = a.cols;
  impl->row_offsets = a.row_offsets;
  impl->col_indices = a.col_indices;
  impl->values = a.values.to(dtype);
  impl->symmetric = a.symmetric;
  return CsrMatrix(std::move(impl));
}

CsrMatrix CsrMatrix::to(Device device) const {
  const Impl& a = impl();
  if (device == a.values.device()) return *this;
  auto impl = std::make_shared<Impl>();
  impl->rows = a.rows;
  impl->cols = a.cols;
  impl->row_offsets = a.row_offsets.to(device);
  impl->col_indices = a.col_indices.to(device);
  impl->values = a.values.to(device);
  impl->symmetric = a.symmetric;
  return CsrMatrix(std::move(impl));
}

Tensor CsrMatrix::to_dense() const {
  const Impl& a = impl();
  const auto ro = a.row_offsets.to_vector<int64_t>(), ci = a.col_indices.to_vector<int64_t>();
  const auto va = a.values.to_vector<double>();
  std::vector<double> d(static_cast<size_t>(a.rows * a.cols), 0.0);
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t k = ro[i]; k < ro[i + 1]; ++k) d[i * a.cols + ci[k]] += va[k];
  return from_vector<double>(d, {a.rows, a.cols}).to(a.values.dtype());
}

Tensor spmm(const CsrMatrix& a, const Tensor& x) {
  return spmm(a, x, Tensor());
}

Tensor spmm(const CsrMatrix& a, const Tensor& x, const Tensor& c) {
  MAGMADNN_CHECK(a.defined(), "spmm: the sparse matrix is undefined");
  detail::check_defined("spmm", x);
  MAGMADNN_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(-2) == a.cols(), "spmm: expected x (", a.cols(),
                 ", F) or (B, ", a.cols(), ", F) for a ", a.rows(), " x ", a.cols(), " sparse matrix, got ",
                 x.shape());
  MAGMADNN_CHECK(x.dtype() == a.dtype(), "spmm: x has dtype ", x.dtype(), " but the sparse matrix (",
                 a.rows(), " x ", a.cols(), ") has ", a.dtype(), "; convert one with .to(dtype)");
  MAGMADNN_CHECK(x.device() == a.device(), "spmm: x is on ", x.device(), " but the sparse matrix is on ",
                 a.device());
  // x: (B, cols, F) contiguous -> out: (B, rows, F); 2-D x is B = 1.
  const bool batched = x.dim() == 3;
  const int64_t B = batched ? x.size(0) : 1, F = x.size(-1);
  const Shape out_shape = batched ? Shape{B, a.rows(), F} : Shape{a.rows(), F};
  Tensor c3;
  if (c.defined()) {
    detail::check_compatible("spmm", x, c);
    MAGMADNN_CHECK(broadcast_shapes(c.shape(), out_shape, "spmm") == out_shape, "spmm: the added tensor ",
                   c.shape(), " does not broadcast to the output ", out_shape);
    Tensor ce = c.detach().expand(out_shape);
    c3 = batched ? ce : make_view(ce, {1, a.rows(), F}, {0, ce.stride(0), ce.stride(1)}, ce.offset());
  }
  Tensor xc = x.detach();
  if (!xc.is_contiguous()) xc = xc.contiguous();
  Tensor x3 = xc.view({B, a.cols(), F});
  Tensor out3 = Tensor::empty({B, a.rows(), F}, x.dtype(), x.device());
  if (out3.numel() > 0)
    backend_for(x.device()).spmm_csr(a.row_offsets(), a.col_indices(), a.values(), x3, c3, out3);
  Tensor out = batched ? out3 : out3.view(out_shape);
  autograd::record("spmm", {x, c}, out,
                   [a, c_shape = c.defined() ? c.shape() : Shape{}](const Tensor& g, const NeedsGrad& n) {
                     // grad_x (B, cols, F) = A^T (cols x rows) @ g (B, rows, F); grad_c = g summed to c's
                     // shape.
                     Tensor gx, gc;
                     if (n[0]) gx = spmm(a.transpose(), g);
                     if (n.size() > 1 && n[1]) gc = sum_to(g, c_shape);
                     return std::vector<Tensor>{gx, gc};
                   });
  return out;
}

}  // namespace magmadnn
