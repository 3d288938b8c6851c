// The training loop: fit() runs epochs of forward, loss, backward and optimizer step over a
// DataLoader, evaluates on a test loader after each epoch, reports progress, and appends one
// JSON line of metrics per epoch to a log file when asked. It writes full training checkpoints
// (train/checkpoint.h) every N steps / M minutes / epoch end, and resume() continues a run from
// one, mid-epoch included, so the remaining steps give the same parameters as an uninterrupted run.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "magmadnn/data/dataloader.h"
#include "magmadnn/nn/module.h"
#include "magmadnn/optim/lr_scheduler.h"
#include "magmadnn/optim/optimizer.h"
#include "magmadnn/train/checkpoint.h"
#include "magmadnn/train/progress.h"

namespace magmadnn::train {

class BatchMetric;  // train/metrics.h: ConfusionMatrix, RegressionMetrics

struct EvalMetrics {
  double loss = 0;
  double accuracy = 0;  // fraction of argmax predictions equal to the integer target
  int64_t samples = 0;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;  // the per-epoch evaluation (see eval_name); NaN without one
  double train_seconds = 0;                 // training steps only, without evaluation
  double samples_per_second = 0;
  double lr = 0;
};

// What a training step leaves on the device, not yet read back: the loss (a scalar tensor) and
// the batch's hit count (a float64 or int64 scalar tensor; undefined when not counted).
struct StepOutput {
  Tensor loss;
  Tensor correct;
};

// loss(model output, target) -> scalar tensor
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;
LossFn cross_entropy_loss();

struct TrainerOptions {
  int64_t epochs = 1;
  // Where training runs: every batch (input and target) is moved here before its step. Unset:
  // the device of the model's parameters when fit() starts (see module_device()). The model
  // itself is not moved: call model->to(device) before creating the optimizer.
  std::optional<Device> device;
  ProgressMode progress = ProgressMode::Auto;
  std::ostream* out = nullptr;   // progress and summaries; std::cout when null
  std::string metrics_log;       // JSON-lines file, one object per epoch; none when empty
  // What the per-epoch evaluation is called in the epoch lines and the metrics log: "test", or
  // "val" when it runs on a validation split ("val_loss", "val_accuracy"). EpochMetrics::test_*
  // hold its figures either way.
  std::string eval_name = "test";
  LossFn loss;                   // cross-entropy when empty
  // Classification: argmax hits are counted into the accuracies. False for a regression (e.g. an
  // mse_loss): the epoch lines, the progress and the log show no accuracy, EpochMetrics' are NaN.
  bool accuracy = true;
  int64_t max_batches = 0;       // per epoch; 0 means the whole loader
  // When positive: after backward, the gradients of all parameters are rescaled together to a
  // total 2-norm of at most this (nn::utils::clip_grad_norm_), before the optimizer step.
  double clip_grad_norm = 0;
  // Gradient accumulation: each optimizer step sums the gradients of this many consecutive batches,
  // each batch's loss divided by it, so a step follows the mean loss of accumulate_steps * the
  // loader's batch size samples. An epoch's last, shorter group is rescaled to its own mean. Steps
  // (global_step(), on_step_end, checkpoint_every_steps, stop_after_steps) count optimizer steps;
  // checkpoints are written between groups only.
  int64_t accumulate_steps = 1;
  // Optional: returns a guard under which backward does not synchronise gradients across processes
  // (DistributedDataParallel::no_sync), held for all but the last batch of a group.
  std::function<std::shared_ptr<void>()> no_sync;

  // Full training checkpoints to checkpoint_path (none when empty): after every
  // checkpoint_every_steps optimizer steps, when checkpoint_every_minutes have passed since the
  // last one (checked after each step), and after each epoch (after evaluation and the epoch
  // callbacks). Only where write_checkpoints is true: rank 0 of a distributed run.
  std::string checkpoint_path;
  int64_t checkpoint_every_steps = 0;
  double checkpoint_every_minutes = 0;
  bool checkpoint_at_epoch_end = true;
  bool write_checkpoints = true;
  // Strings saved with every checkpoint; resume() requires the checkpoint to hold the same keys
  // with the same values (e.g. the batch size and world size: a resumed run must see the same
  // batches); a key only one of them has (an optional flag) is a mismatch too.
  std::map<std::string, std::string> checkpoint_metadata;
  // Stop fit() after this many optimizer steps in total (0: never), writing a checkpoint there
  // first; e.g. to end within a batch job's time limit and --resume in the next job.
  int64_t stop_after_steps = 0;
  // The module whose state checkpoints hold; the trained model when null (give the inner module
  // of a DistributedDataParallel wrapper, so checkpoints do not depend on the wrapper).
  std::shared_ptr<nn::Module> checkpoint_module;
  // Where checkpoints get the model's and the optimizer's state, and how resume() loads the
  // optimizer's (after the generator's state, so it may set a per-rank one). Defaults:
  // checkpoint_module's / the optimizer's state_dict and load_state_dict. A pipeline gathers its
  // stages onto rank 0 here: such hooks are collective, so every rank checkpoints on the same
  // steps (use step-based checkpoints then, not checkpoint_every_minutes).
  std::function<StateDict()> model_state, optimizer_state;
  std::function<void(const StateDict&)> load_optimizer_state;

  // Replace the optimizer step on a batch (e.g. a pipeline-parallel step; return the loss, fill
  // `correct` when known; the batch is already on `device`) and the per-epoch evaluation (e.g. a
  // distributed one; called after every epoch whether or not fit() got a test loader). Defaults:
  // step_on_device (the loss and hit counts stay on the device, summed there, and are read back
  // only when progress is shown, a checkpoint is written and at epoch end) and evaluate().
  std::function<double(const data::Example& batch, int64_t* correct)> step;
  std::function<EvalMetrics()> evaluate;
  // Replace the optimizer step without a host read (e.g. a step replayed from a CUDA graph,
  // train/cuda_graph_step.h): the batch is already on `device`; the returned tensors are added
  // to the epoch's sums on the device at once (so they may be overwritten by the next step).
  // Set `step` or `device_step`, not both.
  std::function<StepOutput(const data::Example& batch)> device_step;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options);

  // Trains for options.epochs epochs; returns the metrics of each.
  std::vector<EpochMetrics> fit(data::DataLoader& train_loader, data::DataLoader* test_loader = nullptr);
  // One optimizer step on a batch; returns the loss and fills `correct` with the batch's hits.
  // Reads both back to the host (a synchronisation on a GPU). A whole step on this batch alone,
  // whatever accumulate_steps; fit() accumulates over its groups of batches.
  double train_step(const data::Example& batch, int64_t* correct = nullptr);
  // One optimizer step on a batch (moved to device() first) without reading anything back to
  // the host: the loss as a scalar tensor on the device and the batch's hits as a float64 scalar
  // tensor there (undefined when the output is not (N, C) logits with int64 targets). On the CPU,
  // where reading costs nothing, a non-finite loss is an Error before backward; on a GPU fit()
  // finds it when it next reads the epoch's sums.
  using DeviceStep = StepOutput;
  DeviceStep step_on_device(const data::Example& batch);
  // options.device, else the device of the model's parameters.
  Device device() const;
  // Called after every epoch (after evaluation): learning-rate schedules, checkpoints, early stop.
  // Returning false stops training.
  void on_epoch_end(std::function<bool(const EpochMetrics&)> callback) { callbacks_.push_back(std::move(callback)); }
  // Called after every optimizer step (per-step schedules such as OneCycleLR) with the global
  // step: the number of steps since the start of training, steps before a resume included.
  void on_step_end(std::function<void(int64_t step)> callback) { step_callbacks_.push_back(std::move(callback)); }

  // State saved in and restored from checkpoints besides model, optimizer and data position:
  // `name` (no '.' or ',') with its state_dict / load_state_dict. track() does it for schedulers.
  void add_checkpoint_state(const std::string& name, std::function<StateDict()> save,
                            std::function<void(const StateDict&)> load);
  void track(const std::string& name, optim::LRScheduler& scheduler);
  void track(const std::string& name, optim::ReduceLROnPlateau& scheduler);

  // The full training state now, with `loader`'s position (the train loader of fit()).
  TrainingCheckpoint checkpoint(const data::DataLoader& loader) const;
  void save_checkpoint(const std::string& path, const data::DataLoader& loader) const;
  // Restores model, optimizer, tracked states, the default generator and the counters; the next
  // fit() starts at the checkpoint's position in its train loader (same data set and options).
  // Everything is checked before anything changes: metadata (see checkpoint_metadata), model
  // names/shapes/dtypes, tracked state names, training not already finished; an Error names
  // `source` (the file) and each problem.
  void resume(const TrainingCheckpoint& checkpoint, const std::string& source = "checkpoint");
  void resume(const std::string& path);

  int64_t global_step() const { return global_step_; }
  int64_t epochs_completed() const { return epochs_completed_; }
  // True when the last fit() returned at stop_after_steps before finishing its epochs.
  bool stopped_early() const { return stopped_early_; }

 private:
  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  TrainerOptions options_;
  std::vector<std::function<bool(const EpochMetrics&)>> callbacks_;
  std::vector<std::function<void(int64_t)>> step_callbacks_;
  struct TrackedState {
    std::function<StateDict()> save;
    std::function<void(const StateDict&)> load;
  };
  std::map<std::string, TrackedState> states_;

  nn::Module& checkpoint_module() const;
  void maybe_checkpoint(const data::DataLoader& loader, bool epoch_end);
  // The epoch's running sums live in loss_sum_on_device_ / correct_on_device_ (float64 scalars on
  // the training device, starting from epoch_loss_sum_ / epoch_correct_) while steps add to them
  // there; read_epoch_sums() copies them into epoch_loss_sum_ / epoch_correct_ (a host
  // synchronisation on a GPU: only for progress, checkpoints and the epoch's end) and throws when
  // training has diverged.
  // One batch of an accumulation group (options_.accumulate_steps batches): `first` zeroes the
  // gradients; `last`, the k-th batch of its group, rescales a group of k < accumulate_steps to
  // its own mean and steps the optimizer.
  DeviceStep accumulate_step(const data::Example& batch, bool first, bool last, int64_t k);
  void add_to_epoch_sums(const DeviceStep& step, int64_t batch_size);
  void read_epoch_sums();
  std::pair<double, int64_t> current_epoch_sums() const;  // without changing anything
  void clear_epoch_sums_on_device();
  Tensor loss_sum_on_device_, correct_on_device_;

  // Where training stands (saved in checkpoints): whole epochs done, steps into the next epoch,
  // and that epoch's running sums.
  int64_t epochs_completed_ = 0, batches_in_epoch_ = 0, global_step_ = 0;
  double epoch_loss_sum_ = 0, epoch_seconds_ = 0, epoch_lr_ = 0;
  int64_t epoch_correct_ = 0, epoch_samples_ = 0;
  std::optional<StateDict> resume_loader_;  // applied to the train loader by the next fit()
  int64_t last_checkpoint_step_ = 0;
  bool stopped_early_ = false;
  std::chrono::steady_clock::time_point last_checkpoint_time_;
};

// Loss and accuracy of a model over a loader, in eval mode without recording gradients. Batches
// are moved to the model's device (module_device); the sums stay there until the end.
// With `metric` (a ConfusionMatrix, RegressionMetrics, ...), each batch's output and target are also
// added there (a host read per batch).
EvalMetrics evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss = cross_entropy_loss(),
                     BatchMetric* metric = nullptr);

// Number of rows whose argmax over dim 1 equals the target (read back to the host).
int64_t count_correct(const Tensor& logits, const Tensor& target);
// The same as a float64 scalar tensor on the logits' device, without a host read; undefined when
// `logits` is not 2-D or `target` not int64 (count_correct's 0).
Tensor count_correct_tensor(const Tensor& logits, const Tensor& target);

// The device of a module's first parameter (else first buffer); the CPU for a module without any.
Device module_device(const nn::Module& module);
// `batch` with input and target on `device` (the same tensors when they are there already).
data::Example to_device(const data::Example& batch, Device device);

}  // namespace magmadnn::train
