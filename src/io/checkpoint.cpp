// Module checkpoints on top of safetensors (see io/checkpoint.h).
#include "magmadnn/io/checkpoint.h"

#include <set>

#include "magmadnn/io/safetensors.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::io {

namespace {
std::string describe(const Tensor& t) {
  std::ostringstream os;
  os << t.dtype() << " " << t.shape();
  return os.str();
}
}  // namespace

std::vector<std::string> state_dict_mismatches(const std::map<std::string, Tensor>& expected,
                                               const std::map<std::string, Tensor>& loaded) {
  std::set<std::string> names;
  for (const auto& kv : expected) names.insert(kv.first);
  for (const auto& kv : loaded) names.insert(kv.first);
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto e = expected.find(name), l = loaded.find(name);
    if (l == loaded.end()) {
      out.push_back("missing '" + name + "' (model has " + describe(e->second) + ")");
    } else if (e == expected.end()) {
      out.push_back("unexpected '" + name + "' (" + describe(l->second) + ") not in the model");
    } else if (e->second.shape() != l->second.shape() || e->second.dtype() != l->second.dtype()) {
      out.push_back("'" + name + "' is " + describe(l->second) + " in the file but " + describe(e->second) +
                    " in the model");
    }
  }
  return out;
}

std::map<std::string, Tensor> load_checked(const std::string& path,
                                           const std::map<std::string, Tensor>& expected,
                                           std::map<std::string, std::string>* metadata, const char* op) {
  auto loaded = load_safetensors(path, metadata);
  const auto problems = state_dict_mismatches(expected, loaded);
  if (!problems.empty()) {
    std::string joined;
    for (const auto& p : problems) joined += (joined.empty() ? "" : "; ") + p;
    MAGMADNN_ERROR(op, ": ", path, ": ", problems.size(), problems.size() == 1 ? " mismatch" : " mismatches",
                   " with the model: ", joined);
  }
  return loaded;
}

void save_module(const nn::Module& module, const std::string& path,
                 const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta{{"format", "pt"}};
  for (const auto& [k, v] : metadata) meta[k] = v;
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : module.state_dict()) state.emplace(name, t);
  save_safetensors(path, state, meta);
}

void load_module(nn::Module& module, const std::string& path, std::map<std::string, std::string>* metadata) {
  std::map<std::string, Tensor> expected;
  for (const auto& [name, t] : module.state_dict()) expected.emplace(name, t);
  auto loaded = load_checked(path, expected, metadata, "load_module");
  module.load_state_dict(loaded, /*strict=*/true);
}

}  // namespace magmadnn::io
