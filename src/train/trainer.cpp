// The training loop and evaluation; see train/trainer.h.
#include "magmadnn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::train {

LossFn cross_entropy_loss() {
  return [](const Tensor& output, const Tensor& target) { return cross_entropy(output, target); };
}

int64_t count_correct(const Tensor& logits, const Tensor& target) {
  if (logits.dim() != 2 || target.dtype() != kInt64) return 0;
  const std::vector<int64_t> pred = argmax(logits.detach(), 1).to_vector<int64_t>();
  const std::vector<int64_t> t = target.to_vector<int64_t>();
  int64_t n = 0;
  for (size_t i = 0; i < pred.size() && i < t.size(); ++i) n += pred[i] == t[i];
  return n;
}

EvalMetrics evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalMetrics m;
  double loss_sum = 0;
  int64_t correct = 0;
  for (const data::Example& batch : loader) {
    Tensor out = model(batch.input);
    const int64_t n = batch.input.size(0);
    loss_sum += loss(out, batch.target).item<double>() * n;
    correct += count_correct(out, batch.target);
    m.samples += n;
  }
  model.train(was_training);
  if (m.samples > 0) {
    m.loss = loss_sum / m.samples;
    m.accuracy = static_cast<double>(correct) / m.samples;
  }
  return m;
}

Trainer::Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), options_(std::move(options)) {
  MAGMADNN_CHECK(model_ && optimizer_, "Trainer: model and optimizer must be set");
  MAGMADNN_CHECK(options_.epochs >= 1, "Trainer: epochs must be at least 1, got ", options_.epochs);
  if (!options_.loss) options_.loss = cross_entropy_loss();
  if (!options_.out) options_.out = &std::cout;
}

double Trainer::train_step(const data::Example& batch, int64_t* correct) {
  optimizer_->zero_grad();
  Tensor out = (*model_)(batch.input);
  Tensor loss = options_.loss(out, batch.target);
  const double value = loss.item<double>();
  MAGMADNN_CHECK(std::isfinite(value), "training diverged: loss is ", value,
                 " (try a smaller --lr, or check the input data for NaN/inf)");
  loss.backward();
  optimizer_->step();
  if (correct) *correct = count_correct(out, batch.target);
  return value;
}

std::vector<EpochMetrics> Trainer::fit(data::DataLoader& train_loader, data::DataLoader* test_loader) {
  std::ostream& out = *options_.out;
  ProgressReporter progress(options_.progress, out);
  std::ofstream log;
  if (!options_.metrics_log.empty()) {
    log.open(options_.metrics_log, std::ios::app);
    MAGMADNN_CHECK(log.good(), "Trainer: cannot open metrics log ", options_.metrics_log, " for writing");
  }
  std::vector<EpochMetrics> history;
  int64_t steps = 0;
  for (int64_t epoch = 1; epoch <= options_.epochs; ++epoch) {
    model_->train();
    train_loader.set_epoch(epoch - 1);
    const int64_t num_batches = options_.max_batches > 0 ? std::min(options_.max_batches, train_loader.num_batches())
                                                         : train_loader.num_batches();
    progress.start_epoch(epoch, options_.epochs, num_batches);
    EpochMetrics m;
    m.epoch = epoch;
    m.lr = optimizer_->lr();
    double loss_sum = 0, seconds = 0;
    int64_t correct = 0, samples = 0, batch_index = 0;
    for (const data::Example& batch : train_loader) {
      if (batch_index == num_batches) break;
      const auto t0 = std::chrono::steady_clock::now();
      int64_t hits = 0;
      const double loss = train_step(batch, &hits);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++steps;
      for (auto& cb : step_callbacks_) cb(steps);
      const int64_t n = batch.input.size(0);
      loss_sum += loss * n;
      correct += hits;
      samples += n;
      ++batch_index;
      progress.update(batch_index, loss_sum / samples, static_cast<double>(correct) / samples, samples);
    }
    m.train_loss = samples ? loss_sum / samples : 0;
    m.train_accuracy = samples ? static_cast<double>(correct) / samples : 0;
    m.train_seconds = seconds;
    m.samples_per_second = seconds > 0 ? samples / seconds : 0;
    m.test_loss = m.test_accuracy = std::numeric_limits<double>::quiet_NaN();
    if (test_loader) {
      const EvalMetrics e = evaluate(*model_, *test_loader, options_.loss);
      m.test_loss = e.loss;
      m.test_accuracy = e.accuracy;
    }
    std::ostringstream summary;
    summary << std::fixed << "epoch " << epoch << "/" << options_.epochs << std::setprecision(4) << " train_loss "
            << m.train_loss << std::setprecision(4) << " train_acc " << m.train_accuracy;
    if (test_loader) summary << " test_loss " << m.test_loss << " test_acc " << m.test_accuracy;
    summary << std::setprecision(0) << " " << m.samples_per_second << " samples/s " << std::setprecision(1)
            << m.train_seconds << "s";
    progress.end_epoch(summary.str());
    if (log.is_open()) {
      nlohmann::json j = {{"epoch", m.epoch},
                          {"train_loss", m.train_loss},
                          {"train_accuracy", m.train_accuracy},
                          {"train_seconds", m.train_seconds},
                          {"samples_per_second", m.samples_per_second},
                          {"lr", m.lr}};
      if (test_loader) {
        j["test_loss"] = m.test_loss;
        j["test_accuracy"] = m.test_accuracy;
      }
      log << j.dump() << "\n" << std::flush;
    }
    history.push_back(m);
    bool keep_going = true;
    for (auto& cb : callbacks_) keep_going = cb(m) && keep_going;
    if (!keep_going) break;
  }
  return history;
}

}  // namespace magmadnn::train
