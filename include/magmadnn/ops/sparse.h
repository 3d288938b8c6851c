// Sparse matrices in CSR form and SpMM (sparse x dense), differentiable with respect to the dense
// operand. A CsrMatrix is an immutable, cheaply copied handle: the structure is validated once
// when it is made, and its transpose (needed by SpMM's backward) is computed once and cached.
// Implementation: src/ops/sparse.cpp; the kernel is Backend::spmm_csr (src/backend/cpu/sparse.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn {

class CsrMatrix {
 public:
  CsrMatrix() = default;  // undefined; defined() is false
  // From CSR arrays: row_offsets int64 (rows + 1), non-decreasing from 0 to nnz; col_indices
  // int64 (nnz) in [0, cols); values float32 or float64 (nnz). Every rule is checked; repeated
  // (row, col) entries are allowed and act as their sum. `symmetric` declares A == A^T (not
  // checked), which makes transpose() free.
  CsrMatrix(int64_t rows, int64_t cols, Tensor row_offsets, Tensor col_indices, Tensor values,
            bool symmetric = false);

  // From an edge list: edges (E, 2) int64 (or int32) of (row, col) pairs, weights (E) float32 or
  // float64, or undefined for ones in float32. symmetric: every edge (i, j) with i != j also adds
  // (j, i) with the same weight (an undirected edge list names each edge once; a self-loop is its
  // own reverse). Duplicate pairs are summed; columns are sorted within each row. Indices out of
  // range, a wrong edges/weights shape and non-finite weights are errors naming the edge.
  static CsrMatrix from_edges(int64_t rows, int64_t cols, const Tensor& edges,
                              const Tensor& weights = Tensor(), bool symmetric = false);
  // Square (num_nodes x num_nodes) adjacency of a graph.
  static CsrMatrix from_edges(int64_t num_nodes, const Tensor& edges, const Tensor& weights = Tensor(),
                              bool symmetric = false) {
    return from_edges(num_nodes, num_nodes, edges, weights, symmetric);
  }
  // diag(blocks): block k occupies rows and columns after those of blocks 0..k-1. All blocks
  // share one dtype; symmetric when every block is.
  static CsrMatrix block_diagonal(const std::vector<CsrMatrix>& blocks);

  bool defined() const { return impl_ != nullptr; }
  int64_t rows() const;
  int64_t cols() const;
  int64_t nnz() const;
  const Tensor& row_offsets() const;  // int64 (rows + 1)
  const Tensor& col_indices() const;  // int64 (nnz)
  const Tensor& values() const;       // (nnz)
  DType dtype() const { return values().dtype(); }
  Device device() const { return values().device(); }
  bool is_symmetric() const;

  // A^T in CSR form; computed on the first call and shared by every copy of this handle.
  CsrMatrix transpose() const;
  // Same structure with values converted (shares the index arrays).
  CsrMatrix to(DType dtype) const;
  // The same matrix on another device (all three arrays copied; itself when already there). Its
  // transpose, when first asked for, is built on the host and moved to that device.
  CsrMatrix to(Device device) const;
  // Dense (rows, cols) in the values' dtype; repeated entries are summed. For tests and debugging.
  Tensor to_dense() const;

  struct Impl;  // implementation detail (src/ops/sparse.cpp)

 private:
  explicit CsrMatrix(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const;
  std::shared_ptr<Impl> impl_;
};

// out = A @ x. x (cols, F) -> (rows, F), or batched over graphs sharing A: x (B, cols, F) ->
// (B, rows, F) in one kernel call. x must have A's dtype and device. Differentiable with respect
// to x (grad_x = A^T grad, with the cached transpose); A's values are constants.
Tensor spmm(const CsrMatrix& a, const Tensor& x);
// out = A @ x + c with c broadcastable to the output (a bias (F), or the output's shape), added in
// the kernel's single pass over the output. Differentiable with respect to x and c.
Tensor spmm(const CsrMatrix& a, const Tensor& x, const Tensor& c);

}  // namespace magmadnn
