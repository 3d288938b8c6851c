// How a row-major 2-D slice with strides (rs, cs) enters a GEMM, shared by every backend's
// matmul (the CPU's dnnl_sgemm, CUDA's cuBLAS): 'N' with ld = rs when rows are contiguous, 'T'
// with ld = cs when columns are. gemm_layout returns false when neither holds (the caller then
// makes the slice contiguous and asks again).
#pragma once

#include <algorithm>
#include <cstdint>

namespace magmadnn::detail {

struct GemmOperand {
  char trans;
  int64_t ld;
};

inline bool gemm_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs, GemmOperand& g) {
  if (cs == 1 || cols == 1) {
    g = {'N', std::max<int64_t>(rows == 1 ? cols : rs, std::max<int64_t>(cols, 1))};
    return !(rows > 1 && rs < cols);
  }
  if (rs == 1 || rows == 1) {
    g = {'T', std::max<int64_t>(cols == 1 ? rows : cs, std::max<int64_t>(rows, 1))};
    return !(cols > 1 && cs < rows);
  }
  return false;
}

}  // namespace magmadnn::detail
