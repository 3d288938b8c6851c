// Saving and loading a Module's weights as safetensors. Loading checks every name, shape and
// dtype against the model first and reports all mismatches in one error that names the file,
// so a wrong checkpoint never half-loads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn {
namespace nn {
class Module;
}

namespace io {

// The model's state_dict() (parameters and buffers) with metadata {"format": "pt"} plus
// `metadata`; atomic like save_safetensors.
void save_module(const nn::Module& module, const std::string& path,
                 const std::map<std::string, std::string>& metadata = {});
// Loads `path` into the model after checking it holds exactly the model's tensors.
void load_module(nn::Module& module, const std::string& path,
                 std::map<std::string, std::string>* metadata = nullptr);

// One line per difference between a model's state and a loaded one: missing and unexpected
// names, shape and dtype mismatches; empty when they agree. Sorted by name.
std::vector<std::string> state_dict_mismatches(const std::map<std::string, Tensor>& expected,
                                               const std::map<std::string, Tensor>& loaded);
// load_safetensors plus that check: throws "<op>: <path>: N mismatch(es) with the model: a; b; c".
std::map<std::string, Tensor> load_checked(const std::string& path,
                                           const std::map<std::string, Tensor>& expected,
                                           std::map<std::string, std::string>* metadata = nullptr,
                                           const char* op = "load_module");

}  // namespace io
}  // namespace magmadnn
