// IDX files, the format of MNIST and Fashion-MNIST: magic 0x00 0x00 <type> <ndims>, big-endian
// uint32 sizes, then the elements in row-major order (multi-byte types big-endian). Files may be
// gzipped; the reader detects that from the content (1f 8b), not from the name.
#pragma once

#include <string>

#include "magmadnn/core/tensor.h"

namespace magmadnn::data {

// Reads an IDX file into a CPU tensor. Element types: 0x08 -> uint8, 0x0C -> int32,
// 0x0D -> float32, 0x0E -> float64. Every problem (missing file, bad magic, unsupported type,
// truncated or oversized data, corrupt gzip) throws one line "read_idx: <path>: <what>".
Tensor read_idx(const std::string& path);

// Writes a uint8, int32, float32 or float64 tensor of 1 to 4 dimensions as an IDX file,
// gzipped when `gzip` is true. The write is atomic (temporary file + rename).
void write_idx(const std::string& path, const Tensor& tensor, bool gzip = false);

}  // namespace magmadnn::data
