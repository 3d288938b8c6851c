// Strided loops shared by the CPU kernels. for_each_strided walks N operands of one shape
// (each with its own strides, stride 0 for broadcast) and calls a kernel on runs of the
// innermost dimension, after dropping size-1 dimensions and merging dimensions that are
// contiguous in every operand. Outer iterations are split over OpenMP threads.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::cpu {

// Below this many elements a loop runs on one thread: forking costs more than it saves.
constexpr int64_t kParallelGrain = 32768;

// f(offsets, n, inner_strides): process n elements starting at element offsets[k] of operand k,
// stepping inner_strides[k].
template <size_t N, typename F>
void for_each_strided(const Shape& shape, const std::array<const std::vector<int64_t>*, N>& strides, F&& f) {
  std::vector<int64_t> sizes;
  std::vector<std::array<int64_t, N>> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    std::array<int64_t, N> s;
    for (size_t k = 0; k < N; ++k) s[k] = (*strides[k])[d];
    if (!sizes.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k) merge = merge && st.back()[k] == s[k] * shape[d];
      if (merge) {
        sizes.back() *= shape[d];
        st.back() = s;
        continue;
      }
    }
    sizes.push_back(shape[d]);
    st.push_back(s);
  }
  std::array<int64_t, N> zero{};
  if (sizes.empty()) {
    std::array<int64_t, N> one{};
    f(zero, int64_t(1), one);
    return;
  }
  const int64_t nd = static_cast<int64_t>(sizes.size());
  const int64_t inner = sizes[nd - 1];
  const std::array<int64_t, N> inner_st = st[nd - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d < nd - 1; ++d) outer *= sizes[d];
  const bool parallel = outer > 1 && outer * inner >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t o = 0; o < outer; ++o) {
    std::array<int64_t, N> off{};
    int64_t rem = o;
    for (int64_t d = nd - 2; d >= 0; --d) {
      const int64_t i = rem % sizes[d];
      rem /= sizes[d];
      for (size_t k = 0; k < N; ++k) off[k] += i * st[d][k];
    }
    f(off, inner, inner_st);
  }
}

// Splits [0, n) over threads when n is large enough; f(begin, end).
template <typename F>
void parallel_range(int64_t n, F&& f, int64_t grain = kParallelGrain) {
  if (n < grain || omp_get_max_threads() == 1) {
    f(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = std::min(n, t * chunk), e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace magmadnn::cpu
