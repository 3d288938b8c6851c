// bfloat16 on the CPU: the set_allow_bf16() switch, the hardware check, and the rounding loop.
#include "backend/cpu/bf16.h"

#include <atomic>
#include <dnnl.hpp>

#include "backend/cpu/loops.h"
#include "magmadnn/backend/backend.h"

namespace magmadnn {

namespace {
std::atomic<bool> g_allow_bf16{false};
}  // namespace

void set_allow_bf16(bool enabled) {
  g_allow_bf16 = enabled;
}
bool allow_bf16() {
  return g_allow_bf16.load();
}

// The instructions must exist and oneDNN must be willing to use them (DNNL_MAX_CPU_ISA can cap
// it below avx512_core_bf16, where its bf16 kernels would be emulated and slower than float32).
bool cpu_has_bf16() {
  static const bool has = [] {
    if (!__builtin_cpu_supports("avx512bf16")) return false;
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  }();
  return has;
}

bool cpu_bf16_active() {
  return allow_bf16() && cpu_has_bf16();
}

}  // namespace magmadnn

namespace magmadnn::cpu {

void to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
#pragma omp parallel for if (rows * cols >= kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * ld;
    uint16_t* d = dst + r * cols;
    for (int64_t c = 0; c < cols; ++c) d[c] = float_to_bf16(s[c]);
  }
}

}  // namespace magmadnn::cpu
