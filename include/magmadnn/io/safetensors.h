// The safetensors file format (https://github.com/huggingface/safetensors): 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets"}, "__metadata__"},
// padded with spaces to a multiple of 8, then the raw little-endian tensor data. Files written
// here load in PyTorch/NumPy through the safetensors package and vice versa.
#pragma once

#include <map>
#include <string>

#include "magmadnn/core/tensor.h"

namespace magmadnn::io {

// Writes the tensors (in sorted name order) and string metadata. Dtypes: F32, F64, I64, I32, U8.
// Atomic: a temporary file in the same directory is fsync'ed and renamed over `path`; on any
// failure it is removed, `path` keeps its previous content and an Error names the file.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor (contiguous CPU tensors). Validates the whole file; each problem throws one
// line "load_safetensors: <path>: <what>". Fills `metadata` when given.
std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata = nullptr);

// The same format in memory (`source` names the data in error messages).
std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});
std::map<std::string, Tensor> parse_safetensors(const std::string& bytes,
                                                const std::string& source = "<memory>",
                                                std::map<std::string, std::string>* metadata = nullptr);

// "F32", "F64", "I64", "I32", "U8".
const char* safetensors_dtype(DType t);

}  // namespace magmadnn::io
