// CPU reductions (sum, mean, max, min over any axes) and argmax. Every reduction is brought to
// the form (outer, R, inner) over a contiguous input, reducing the middle dimension.
#include <algorithm>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

namespace {

// op over x[0 .. n) in 16 interleaved lanes, combined at the end: independent accumulators let
// the compiler vectorise and hide the add latency a single running sum is bound by (a float sum
// in double ran at ~2.4 G elements/s with one accumulator). Rows shorter than 16 reduce in order.
template <typename T, typename Acc, typename Op>
Acc reduce_row(const T* x, int64_t n, Acc init, Op op) {
  constexpr int kLanes = 16;
  Acc acc = init;
  int64_t r = 0;
  if (n >= kLanes) {
    Acc lane[kLanes];
    for (int l = 0; l < kLanes; ++l) lane[l] = init;
    for (; r + kLanes <= n; r += kLanes)
      for (int l = 0; l < kLanes; ++l) lane[l] = op(lane[l], static_cast<Acc>(x[r + l]));
    for (int l = 0; l < kLanes; ++l) acc = op(acc, lane[l]);
  }
  for (; r < n; ++r) acc = op(acc, static_cast<Acc>(x[r]));
  return acc;
}

template <typename T, typename Acc, typename Op>
void reduce_3d(const T* x, T* out, int64_t outer, int64_t R, int64_t inner, Acc init, Op op, double scale) {
  if (inner == 1) {
    if (outer == 1 && R >= kParallelGrain && omp_get_max_threads() > 1) {
      // One long row: per-thread partials, combined in thread order (deterministic for a fixed thread count).
      std::vector<Acc> partial(omp_get_max_threads(), init);
#pragma omp parallel
      {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num(), chunk = (R + nt - 1) / nt;
        const int64_t r0 = std::min(R, t * chunk), r1 = std::min(R, (t + 1) * chunk);
        partial[t] = reduce_row(x + r0, r1 - r0, init, op);
      }
      Acc acc = init;
      for (Acc p : partial) acc = op(acc, p);
      out[0] = static_cast<T>(acc * scale);
      return;
    }
#pragma omp parallel for schedule(static) if (outer * R >= kParallelGrain && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      out[o] = static_cast<T>(reduce_row(x + o * R, R, init, op) * scale);
    }
    return;
  }
  // Column reduction: accumulate whole rows of `inner` elements, split over inner blocks.
  const int64_t block = 256;
  const int64_t nblocks = (inner + block - 1) / block;
#pragma omp parallel for collapse(2) schedule(static) if (outer * R * inner >= kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t i0 = blk * block, i1 = std::min(inner, i0 + block);
      Acc acc[block];
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] = init;
      for (int64_t r = 0; r < R; ++r) {
        const T* row = x + (o * R + r) * inner;
        for (int64_t i = i0; i < i1; ++i) acc[i - i0] = op(acc[i - i0], static_cast<Acc>(row[i]));
      }
      for (int64_t i = i0; i < i1; ++i) out[o * inner + i] = static_cast<T>(acc[i - i0] * scale);
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x_in, const std::vector<int64_t>& axes, Tensor& out) {
  const int64_t nd = x_in.dim();
  std::vector<bool> reduced(nd, false);
  for (int64_t a : axes) reduced[a] = true;
  int64_t R = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (reduced[d]) R *= x_in.shape()[d];

  // Group dimensions (ignoring size 1) into runs of kept / reduced.
  int runs = 0, reduced_runs = 0;
  int prev = -1;
  for (int64_t d = 0; d < nd; ++d) {
    if (x_in.shape()[d] == 1) continue;
    if (static_cast<int>(reduced[d]) != prev) {
      ++runs;
      reduced_runs += reduced[d];
      prev = reduced[d];
    }
  }
  Tensor x = x_in;
  int64_t outer = 1, inner = 1;
  if (reduced_runs <= 1) {
    if (!x.is_contiguous()) {
      x = Tensor::empty(x_in.shape(), x_in.dtype());
      copy(x_in, x);
    }
    bool seen_reduced = false;
    for (int64_t d = 0; d < nd; ++d) {
      if (reduced[d] && x.shape()[d] != 1) seen_reduced = true;
      else if (!reduced[d]) (seen_reduced ? inner : outer) *= x.shape()[d];
    }
  } else {
    // Move kept dims first, reduced dims last, and copy to contiguous.
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < nd; ++d)
      if (!reduced[d]) perm.push_back(d);
    for (int64_t d = 0; d < nd; ++d)
      if (reduced[d]) perm.push_back(d);
    std::vector<int64_t> shape, strides;
    for (int64_t d : perm) {
      shape.push_back(x_in.shape()[d]);
      strides.push_back(x_in.strides()[d]);
    }
    Tensor permuted = make_view(x_in, Shape(shape), strides, x_in.offset());
    x = Tensor::empty(Shape(shape), x_in.dtype());
    copy(permuted, x);
    outer = out.numel();
  }

  dispatch_float(x.dtype(), "reduce", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using T = scalar_t;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    if (R == 0) {
      MAGMADNN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Mean, "max/min: cannot reduce over an empty dimension");
      std::fill(po, po + out.numel(), op == ReduceOp::Sum ? T(0) : std::numeric_limits<T>::quiet_NaN());
      return;
    }
    switch (op) {
      case ReduceOp::Sum:
        return reduce_3d<T, double>(px, po, outer, R, inner, 0.0, [](double a, double b) { return a + b; }, 1.0);
      case ReduceOp::Mean:
        return reduce_3d<T, double>(px, po, outer, R, inner, 0.0, [](double a, double b) { return a + b; },
                                    1.0 / static_cast<double>(R));
      case ReduceOp::Max:
        return reduce_3d<T, T>(px, po, outer, R, inner, -std::numeric_limits<T>::infinity(),
                               [](T a, T b) { return (a > b || a != a) ? a : b; }, 1.0);
      case ReduceOp::Min:
        return reduce_3d<T, T>(px, po, outer, R, inner, std::numeric_limits<T>::infinity(),
                               [](T a, T b) { return (a < b || a != a) ? a : b; }, 1.0);
    }
  });
}

void CpuBackend::argmax(const Tensor& x_in, int64_t axis, Tensor& out) {
  Tensor x = x_in;
  if (!x.is_contiguous()) {
    x = Tensor::empty(x_in.shape(), x_in.dtype());
    copy(x_in, x);
  }
  int64_t outer = 1, inner = 1;
  const int64_t R = x.shape()[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  MAGMADNN_CHECK(R > 0, "argmax: cannot reduce over an empty dimension");
  int64_t* po = out.data<int64_t>();
  dispatch_float(x.dtype(), "argmax", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    const scalar_t* px = x.data<scalar_t>();
#pragma omp parallel for collapse(2) if (outer * inner * R >= kParallelGrain)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const scalar_t* p = px + o * R * inner + i;
        int64_t best = 0;
        for (int64_t r = 1; r < R; ++r)
          if (p[r * inner] > p[best * inner]) best = r;
        po[o * inner + i] = best;
      }
  });
}

}  // namespace magmadnn::cpu
