// Full training checkpoints: everything a run needs to continue exactly where it stopped (model,
// optimizer, schedulers, epoch and step, the default generator, the data loader's position and
// the running sums of the current epoch) in ONE safetensors file, written atomically. Tensors
// carry prefixes ("model.", "optimizer.", "state.<name>.", "loader.", "trainer."); scalars that
// are not tensors (format, generator state, user metadata such as the CLI's arguments) live in
// the file's string metadata. Trainer (train/trainer.h) writes and resumes these.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "magmadnn/core/tensor.h"

namespace magmadnn::train {

using StateDict = std::map<std::string, Tensor>;

struct TrainingCheckpoint {
  StateDict model;                          // nn::Module::state_dict()
  StateDict optimizer;                      // optim::Optimizer::state_dict()
  std::map<std::string, StateDict> states;  // extra named states: schedulers, ...
  StateDict loader;                         // data::DataLoader::state_dict()
  int64_t epochs_completed = 0;             // whole epochs done (evaluated, callbacks run)
  int64_t batches_in_epoch = 0;             // steps done in epoch epochs_completed + 1
  int64_t global_step = 0;                  // optimizer steps since the start of training
  // Running sums of the unfinished epoch, so its metrics equal an uninterrupted run's.
  double epoch_loss_sum = 0, epoch_seconds = 0, epoch_lr = 0;  // epoch_lr: the rate logged for it
  int64_t epoch_correct = 0, epoch_samples = 0;
  std::string rng_state;                        // default_generator().state()
  std::map<std::string, std::string> metadata;  // user strings, e.g. the run's arguments
};

// Writes the checkpoint to `path` atomically (temporary file, fsync, rename): an existing file
// is replaced only by a complete new one, and on failure it keeps its previous content.
void save_training_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint);

// Reads a checkpoint written by save_training_checkpoint. A missing, truncated or corrupt file,
// or a safetensors file that is not a training checkpoint, throws one Error naming the file.
TrainingCheckpoint load_training_checkpoint(const std::string& path);

}  // namespace magmadnn::train
