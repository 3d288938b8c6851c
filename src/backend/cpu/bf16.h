// bfloat16 on the CPU: the switch behind set_allow_bf16() and the float32 -> bf16 rounding that
// the convolution and matmul kernels apply to their inputs when it is on (see backend.h).
#pragma once

#include <cstdint>
#include <cstring>

namespace magmadnn::cpu {

// bf16 is the top half of a float32: round to nearest even on the dropped 16 bits; NaNs stay
// (quiet) NaNs, infinities stay infinities, values past bf16's largest finite round to infinity.
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// dst[i] = bf16(src[i]) for rows x cols elements read with leading dimension ld (>= cols) and
// written packed (leading dimension cols). Split over OpenMP threads for large blocks.
void to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst);

}  // namespace magmadnn::cpu
