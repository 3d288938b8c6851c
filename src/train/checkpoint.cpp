// Full training checkpoints in one safetensors file; see train/checkpoint.h.
#include "magmadnn/train/checkpoint.h"

#include <sstream>

#include "magmadnn/core/error.h"
#include "magmadnn/io/safetensors.h"

namespace magmadnn::train {

namespace {

constexpr const char* kFormat = "magmadnn.training_checkpoint";
constexpr const char* kVersion = "1";

void put_prefixed(std::map<std::string, Tensor>& out, const std::string& prefix, const StateDict& state) {
  for (const auto& [k, v] : state) out[prefix + k] = v;
}

int64_t get_int(const std::map<std::string, Tensor>& t, const std::string& key, const std::string& path) {
  auto it = t.find(key);
  MAGMADNN_CHECK(it != t.end() && it->second.numel() == 1 && it->second.dtype() == kInt64,
                 "load_training_checkpoint: ", path, ": missing or malformed '", key, "'");
  return it->second.to_vector<int64_t>()[0];
}

double get_double(const std::map<std::string, Tensor>& t, const std::string& key, const std::string& path) {
  auto it = t.find(key);
  MAGMADNN_CHECK(it != t.end() && it->second.numel() == 1 && it->second.dtype() == kFloat64,
                 "load_training_checkpoint: ", path, ": missing or malformed '", key, "'");
  return it->second.to_vector<double>()[0];
}

}  // namespace

void save_training_checkpoint(const std::string& path, const TrainingCheckpoint& c) {
  std::map<std::string, Tensor> tensors;
  put_prefixed(tensors, "model.", c.model);
  put_prefixed(tensors, "optimizer.", c.optimizer);
  put_prefixed(tensors, "loader.", c.loader);
  std::string names;
  for (const auto& [name, state] : c.states) {
    MAGMADNN_CHECK(!name.empty() && name.find_first_of(".,") == std::string::npos,
                   "save_training_checkpoint: state name '", name, "' must be non-empty without '.' or ','");
    put_prefixed(tensors, "state." + name + ".", state);
    names += (names.empty() ? "" : ",") + name;
  }
  tensors["trainer.epochs_completed"] = from_vector<int64_t>({c.epochs_completed});
  tensors["trainer.batches_in_epoch"] = from_vector<int64_t>({c.batches_in_epoch});
  tensors["trainer.global_step"] = from_vector<int64_t>({c.global_step});
  tensors["trainer.epoch_correct"] = from_vector<int64_t>({c.epoch_correct});
  tensors["trainer.epoch_samples"] = from_vector<int64_t>({c.epoch_samples});
  tensors["trainer.epoch_loss_sum"] = from_vector<double>({c.epoch_loss_sum});
  tensors["trainer.epoch_seconds"] = from_vector<double>({c.epoch_seconds});
  tensors["trainer.epoch_lr"] = from_vector<double>({c.epoch_lr});
  std::map<std::string, std::string> meta = {
      {"format", kFormat}, {"version", kVersion}, {"rng_state", c.rng_state}, {"states", names}};
  for (const auto& [k, v] : c.metadata) meta["user." + k] = v;
  io::save_safetensors(path, tensors, meta);
}

TrainingCheckpoint load_training_checkpoint(const std::string& path) {
  std::map<std::string, std::string> meta;
  std::map<std::string, Tensor> tensors = io::load_safetensors(path, &meta);
  MAGMADNN_CHECK(meta["format"] == kFormat, "load_training_checkpoint: ", path,
                 ": not a MagmaDNN training checkpoint (no \"format\": \"", kFormat,
                 "\" in its metadata; weights saved with --save are loaded with eval --weights)");
  MAGMADNN_CHECK(meta["version"] == kVersion, "load_training_checkpoint: ", path, ": unsupported version '",
                 meta["version"], "' (this build reads version ", kVersion, ")");
  TrainingCheckpoint c;
  c.rng_state = meta["rng_state"];
  std::map<std::string, StateDict*> prefixes = {
      {"model.", &c.model}, {"optimizer.", &c.optimizer}, {"loader.", &c.loader}};
  std::stringstream names(meta["states"]);
  for (std::string name; std::getline(names, name, ',');) prefixes["state." + name + "."] = &c.states[name];
  for (const auto& [key, value] : tensors) {
    if (key.rfind("trainer.", 0) == 0) continue;
    bool placed = false;
    for (auto& [prefix, dict] : prefixes) {
      if (key.rfind(prefix, 0) == 0) {
        (*dict)[key.substr(prefix.size())] = value;
        placed = true;
        break;
      }
    }
    MAGMADNN_CHECK(placed, "load_training_checkpoint: ", path, ": unexpected tensor '", key, "'");
  }
  c.epochs_completed = get_int(tensors, "trainer.epochs_completed", path);
  c.batches_in_epoch = get_int(tensors, "trainer.batches_in_epoch", path);
  c.global_step = get_int(tensors, "trainer.global_step", path);
  c.epoch_correct = get_int(tensors, "trainer.epoch_correct", path);
  c.epoch_samples = get_int(tensors, "trainer.epoch_samples", path);
  c.epoch_loss_sum = get_double(tensors, "trainer.epoch_loss_sum", path);
  c.epoch_seconds = get_double(tensors, "trainer.epoch_seconds", path);
  c.epoch_lr = get_double(tensors, "trainer.epoch_lr", path);
  MAGMADNN_CHECK(c.epochs_completed >= 0 && c.batches_in_epoch >= 0 && c.global_step >= 0,
                 "load_training_checkpoint: ", path, ": negative epoch or step counters");
  for (const auto& [k, v] : meta)
    if (k.rfind("user.", 0) == 0) c.metadata[k.substr(5)] = v;
  return c;
}

}  // namespace magmadnn::train
