// The training loop: fit() runs epochs of forward, loss, backward and optimizer step over a
// DataLoader, evaluates on a test loader after each epoch, reports progress, and appends one
// JSON line of metrics per epoch to a log file when asked.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "magmadnn/data/dataloader.h"
#include "magmadnn/nn/module.h"
#include "magmadnn/optim/optimizer.h"
#include "magmadnn/train/progress.h"

namespace magmadnn::train {

struct EvalMetrics {
  double loss = 0;
  double accuracy = 0;  // fraction of argmax predictions equal to the integer target
  int64_t samples = 0;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;  // NaN without a test loader
  double train_seconds = 0;                 // training steps only, without evaluation
  double samples_per_second = 0;
  double lr = 0;
};

// loss(model output, target) -> scalar tensor
using LossFn = std::function<Tensor(const Tensor& output, const Tensor& target)>;
LossFn cross_entropy_loss();

struct TrainerOptions {
  int64_t epochs = 1;
  ProgressMode progress = ProgressMode::Auto;
  std::ostream* out = nullptr;   // progress and summaries; std::cout when null
  std::string metrics_log;       // JSON-lines file, one object per epoch; none when empty
  LossFn loss;                   // cross-entropy when empty
  int64_t max_batches = 0;       // per epoch; 0 means the whole loader
};

class Trainer {
 public:
  Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options);

  // Trains for options.epochs epochs; returns the metrics of each.
  std::vector<EpochMetrics> fit(data::DataLoader& train_loader, data::DataLoader* test_loader = nullptr);
  // One optimizer step on a batch; returns the loss and fills `correct` with the batch's hits.
  double train_step(const data::Example& batch, int64_t* correct = nullptr);
  // Called after every epoch (after evaluation): learning-rate schedules, checkpoints, early stop.
  // Returning false stops training.
  void on_epoch_end(std::function<bool(const EpochMetrics&)> callback) { callbacks_.push_back(std::move(callback)); }
  // Called after every optimizer step (per-step schedules such as OneCycleLR, step checkpoints)
  // with the number of steps taken so far in this fit().
  void on_step_end(std::function<void(int64_t step)> callback) { step_callbacks_.push_back(std::move(callback)); }

 private:
  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  TrainerOptions options_;
  std::vector<std::function<bool(const EpochMetrics&)>> callbacks_;
  std::vector<std::function<void(int64_t)>> step_callbacks_;
};

// Loss and accuracy of a model over a loader, in eval mode without recording gradients.
EvalMetrics evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss = cross_entropy_loss());

// Number of rows whose argmax over dim 1 equals the target.
int64_t count_correct(const Tensor& logits, const Tensor& target);

}  // namespace magmadnn::train
