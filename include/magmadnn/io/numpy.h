// NumPy files: `.npy` arrays (format versions 1.0, 2.0 and 3.0 read, 1.0/2.0 written) and `.npz`
// archives (zip, entries stored or deflate-compressed, zip64 as np.savez writes it, CRC-checked),
// so data sets move between MagmaDNN and Python tools. Little-endian C-order arrays only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::io {

// One array as raw little-endian C-order bytes. `dtype` is NumPy's type code without the byte
// order: "b1" (bool), "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8".
struct NpyArray {
  std::string dtype;
  std::vector<int64_t> shape;  // () for a 0-d array
  std::vector<uint8_t> bytes;  // numel() * itemsize() bytes

  int64_t numel() const;
  size_t itemsize() const;

  // Typed views; throw when T does not match `dtype` ("f8" <-> double, "i1" <-> int8_t, "b1" <-> bool).
  template <typename T>
  const T* data() const;
  template <typename T>
  T* data();
  // A copy of the elements; T must match `dtype`.
  template <typename T>
  std::vector<T> to_vector() const {
    const T* p = data<T>();
    return std::vector<T>(p, p + numel());
  }
  // An array of `values` with `shape` (checked against values.size()); dtype from T.
  template <typename T>
  static NpyArray from_vector(const std::vector<T>& values, std::vector<int64_t> shape);
};

// The NumPy type code of a C++ type: "f4" for float, "i1" for int8_t, "b1" for bool, ...
template <typename T>
const char* npy_dtype();

// A shape as NumPy prints it: "(2, 3)", "(5,)", "()".
std::string shape_str(const std::vector<int64_t>& shape);

// Reads a .npy file. Every problem (missing file, bad magic, header that is not a dict,
// unsupported dtype, fortran_order, big-endian, data shorter or longer than the shape says)
// throws one line "load_npy: <path>: <what>".
NpyArray load_npy(const std::string& path);
// Writes a .npy file atomically (temporary file + rename).
void save_npy(const std::string& path, const NpyArray& array);

// Every array of a .npz archive, by name without the ".npy" suffix. Corrupt archives (bad CRC,
// truncated entries, unsupported compression or encryption, bad zip structures) throw
// "load_npz: <path>: <what>".
std::map<std::string, NpyArray> load_npz(const std::string& path);
// Writes a .npz archive atomically; entries stored, or deflate-compressed when `compress`
// (what np.savez / np.savez_compressed write). Names get ".npy" appended.
void save_npz(const std::string& path, const std::map<std::string, NpyArray>& arrays, bool compress = false);

// The same formats in memory; `source` names the data in error messages.
NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& source = "<memory>");
std::vector<uint8_t> serialize_npy(const NpyArray& array);

// A CPU tensor holding the array converted to `dtype` (any numeric NumPy dtype to any Tensor
// dtype, e.g. int8 spins to float32; bool becomes 0/1).
Tensor to_tensor(const NpyArray& array, DType dtype);
// Same, with the natural dtype: f4 -> float32, f8 -> float64, i8 -> int64, i4 -> int32,
// u1 and b1 -> uint8; other dtypes (e.g. i1, which Tensor lacks) need the explicit overload.
Tensor to_tensor(const NpyArray& array);
// The tensor's values (made contiguous, copied to the CPU) with the matching NumPy dtype.
NpyArray from_tensor(const Tensor& tensor);

}  // namespace magmadnn::io
