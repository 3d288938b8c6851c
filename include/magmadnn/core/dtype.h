// Element types of tensors. float32 is the working type; float64 serves gradient checks;
// int64/int32 hold labels and indices; uint8 holds raw data such as image bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "magmadnn/core/error.h"

namespace magmadnn {

enum class DType : uint8_t { Float32, Float64, Int64, Int32, UInt8 };

constexpr DType kFloat32 = DType::Float32;
constexpr DType kFloat64 = DType::Float64;
constexpr DType kInt64 = DType::Int64;
constexpr DType kInt32 = DType::Int32;
constexpr DType kUInt8 = DType::UInt8;

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int64", ...
bool is_floating(DType t);
std::ostream& operator<<(std::ostream& os, DType t);

template <typename T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::UInt8; };
template <typename T>
constexpr DType dtype_of() { return DTypeOf<T>::value; }

}  // namespace magmadnn

namespace magmadnn {
// Calls f(T{}) with T the C++ type of a floating dtype; inside, `using scalar_t = decltype(tag);`.
// (Functions rather than macros, so OpenMP pragmas can appear inside the lambda.)
template <typename F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  MAGMADNN_ERROR(op, ": expected a float32 or float64 tensor, got ", t);
}

// Same, for every dtype.
template <typename F>
decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    case DType::Int32: return f(int32_t{});
    case DType::UInt8: return f(uint8_t{});
  }
  MAGMADNN_ERROR(op, ": unknown dtype");
}
}  // namespace magmadnn
