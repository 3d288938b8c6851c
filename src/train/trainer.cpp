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
#include "magmadnn/core/rng.h"
#include "magmadnn/io/checkpoint.h"
#include "magmadnn/nn/clip_grad.h"
#include "magmadnn/ops/ops.h"
#include "magmadnn/train/metrics.h"

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

Tensor count_correct_tensor(const Tensor& logits, const Tensor& target) {
  if (logits.dim() != 2 || target.dtype() != kInt64) return Tensor();
  NoGradGuard no_grad;
  // Compared in float64 (exact for any class index), as the element-wise kernels of every
  // backend take floating operands; like count_correct, over the first min(N, target size).
  Tensor pred = argmax(logits.detach(), 1).to(kFloat64);
  Tensor t = target.detach().reshape({-1}).to(kFloat64);
  const int64_t m = std::min(pred.numel(), t.numel());
  if (m == 0) return zeros({}, kFloat64, logits.device());
  if (pred.numel() != m) pred = pred.slice(0, 0, m);
  if (t.numel() != m) t = t.slice(0, 0, m);
  return sum(eq(pred, t));
}

Device module_device(const nn::Module& module) {
  for (const Tensor& p : module.parameters())
    if (p.defined()) return p.device();
  for (const Tensor& b : module.buffers())
    if (b.defined()) return b.device();
  return Device::cpu();
}

data::Example to_device(const data::Example& batch, Device device) {
  data::Example out;
  out.input = batch.input.defined() ? batch.input.to(device) : batch.input;
  out.target = batch.target.defined() ? batch.target.to(device) : batch.target;
  return out;
}

namespace {
// sum + value * n in float64 on the device of `sum` (created there as `start` when undefined).
// On the CPU this is bit for bit the host's `sum += value.item<double>() * n`.
void accumulate(Tensor& sum, double start, const Tensor& value, double n) {
  if (!value.defined()) return;
  if (!sum.defined()) sum = scalar_tensor(start, kFloat64, value.device());
  Tensor v = value.detach().to(kFloat64).reshape({});
  sum = add(sum, n == 1 ? v : mul(v, n));
}

// The values of two float64 scalar sums (`otherwise` for an undefined one), read back together:
// one host synchronisation on a GPU instead of two.
std::pair<double, double> read_pair(const Tensor& a, const Tensor& b, double a_otherwise, double b_otherwise) {
  if (a.defined() && b.defined() && a.device() == b.device()) {
    NoGradGuard no_grad;
    const std::vector<double> v = stack({a, b}, 0).to_vector<double>();
    return {v[0], v[1]};
  }
  return {a.defined() ? a.item<double>() : a_otherwise, b.defined() ? b.item<double>() : b_otherwise};
}
}  // namespace

EvalMetrics evaluate(nn::Module& model, data::DataLoader& loader, const LossFn& loss, BatchMetric* metric) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  const Device device = module_device(model);
  EvalMetrics m;
  Tensor loss_sum, correct;  // float64 scalars on `device`, read once at the end
  for (const data::Example& host_batch : loader) {
    const data::Example batch = to_device(host_batch, device);
    Tensor out = model(batch.input);
    const int64_t n = batch.input.size(0);
    accumulate(loss_sum, 0, loss(out, batch.target), static_cast<double>(n));
    Tensor hits = count_correct_tensor(out, batch.target);
    if (hits.defined()) accumulate(correct, 0, hits, 1);
    if (metric) metric->add(out, batch.target);
    m.samples += n;
  }
  model.train(was_training);
  if (m.samples > 0) {
    const auto [loss_total, hits] = read_pair(loss_sum, correct, 0, 0);
    m.loss = loss_total / m.samples;
    m.accuracy = static_cast<double>(std::llround(hits)) / m.samples;
  }
  return m;
}

Trainer::Trainer(std::shared_ptr<nn::Module> model, std::shared_ptr<optim::Optimizer> optimizer, TrainerOptions options)
    : model_(std::move(model)), optimizer_(std::move(optimizer)), options_(std::move(options)) {
  MAGMADNN_CHECK(model_ && optimizer_, "Trainer: model and optimizer must be set");
  MAGMADNN_CHECK(options_.epochs >= 1, "Trainer: epochs must be at least 1, got ", options_.epochs);
  MAGMADNN_CHECK(!(options_.step && options_.device_step), "Trainer: set TrainerOptions::step or device_step, not both");
  MAGMADNN_CHECK(std::isfinite(options_.clip_grad_norm) && options_.clip_grad_norm >= 0,
                 "Trainer: clip_grad_norm must be finite and >= 0 (0: off), got ", options_.clip_grad_norm);
  MAGMADNN_CHECK(!options_.eval_name.empty(), "Trainer: eval_name must not be empty");
  MAGMADNN_CHECK(options_.accumulate_steps >= 1, "Trainer: accumulate_steps must be at least 1, got ",
                 options_.accumulate_steps);
  MAGMADNN_CHECK(options_.accumulate_steps == 1 || !(options_.step || options_.device_step),
                 "Trainer: accumulate_steps applies to the Trainer's own step; a custom step or device_step must "
                 "accumulate itself");
  MAGMADNN_CHECK(options_.clip_grad_norm == 0 || !(options_.step || options_.device_step),
                 "Trainer: clip_grad_norm applies to the Trainer's own step; a custom step or device_step must clip "
                 "its gradients itself");
  if (!options_.loss) options_.loss = cross_entropy_loss();
  if (!options_.out) options_.out = &std::cout;
}

Device Trainer::device() const {
  return options_.device ? *options_.device : module_device(*model_);
}

Trainer::DeviceStep Trainer::step_on_device(const data::Example& host_batch) {
  return accumulate_step(host_batch, /*first=*/true, /*last=*/true, /*k=*/1);  // a whole step on one batch
}

Trainer::DeviceStep Trainer::accumulate_step(const data::Example& host_batch, bool first, bool last, int64_t k) {
  const data::Example batch = to_device(host_batch, device());
  const int64_t group = options_.accumulate_steps;
  if (first) optimizer_->zero_grad();
  Tensor out = (*model_)(batch.input);
  Tensor loss = options_.loss(out, batch.target);
  if (loss.device().is_cpu()) {  // free on the CPU: stop before the step spreads NaN into the weights
    const double value = loss.item<double>();
    MAGMADNN_CHECK(std::isfinite(value), "training diverged: loss is ", value,
                   " (try a smaller --lr, or check the input data for NaN/inf)");
  }
  {
    const std::shared_ptr<void> no_sync = !last && options_.no_sync ? options_.no_sync() : nullptr;
    (group > 1 ? div(loss, static_cast<double>(group)) : loss).backward();
  }
  if (!last) return {loss.detach(), count_correct_tensor(out, batch.target)};
  if (k < group)  // an epoch's short last group: the gradient of its own mean loss
    nn::utils::scale_grad_(model_->parameters(),
                           full({}, static_cast<double>(group) / static_cast<double>(k), kFloat64, device()));
  if (options_.clip_grad_norm > 0) nn::utils::clip_grad_norm_(model_->parameters(), options_.clip_grad_norm);
  optimizer_->step();
  return {loss.detach(), count_correct_tensor(out, batch.target)};
}

double Trainer::train_step(const data::Example& batch, int64_t* correct) {
  const DeviceStep s = step_on_device(batch);
  const double value = s.loss.item<double>();
  MAGMADNN_CHECK(std::isfinite(value), "training diverged: loss is ", value,
                 " (try a smaller --lr, or check the input data for NaN/inf)");
  if (correct) *correct = s.correct.defined() ? std::llround(s.correct.item<double>()) : 0;
  return value;
}

void Trainer::add_to_epoch_sums(const DeviceStep& step, int64_t batch_size) {
  NoGradGuard no_grad;
  accumulate(loss_sum_on_device_, epoch_loss_sum_, step.loss, static_cast<double>(batch_size));
  if (step.correct.defined())
    accumulate(correct_on_device_, static_cast<double>(epoch_correct_), step.correct, 1);
}

std::pair<double, int64_t> Trainer::current_epoch_sums() const {
  const auto [loss_sum, correct] =
      read_pair(loss_sum_on_device_, correct_on_device_, epoch_loss_sum_, static_cast<double>(epoch_correct_));
  return {loss_sum, std::llround(correct)};
}

void Trainer::read_epoch_sums() {
  if (!loss_sum_on_device_.defined() && !correct_on_device_.defined()) return;
  // The wait for the device is training time: the queued steps finish here.
  const auto t0 = std::chrono::steady_clock::now();
  std::tie(epoch_loss_sum_, epoch_correct_) = current_epoch_sums();
  epoch_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MAGMADNN_CHECK(std::isfinite(epoch_loss_sum_), "training diverged: loss is ",
                 epoch_samples_ > 0 ? epoch_loss_sum_ / epoch_samples_ : epoch_loss_sum_,
                 " (the epoch's mean after ", batches_in_epoch_,
                 " batches; try a smaller --lr, or check the input data for NaN/inf)");
}

void Trainer::clear_epoch_sums_on_device() {
  loss_sum_on_device_ = correct_on_device_ = Tensor();
}

void Trainer::add_checkpoint_state(const std::string& name, std::function<StateDict()> save,
                                   std::function<void(const StateDict&)> load) {
  MAGMADNN_CHECK(!name.empty() && name.find_first_of(".,") == std::string::npos, "Trainer: checkpoint state name '",
                 name, "' must be non-empty without '.' or ','");
  MAGMADNN_CHECK(!states_.count(name), "Trainer: checkpoint state '", name, "' is already tracked");
  states_[name] = TrackedState{std::move(save), std::move(load)};
}

void Trainer::track(const std::string& name, optim::LRScheduler& s) {
  add_checkpoint_state(
      name, [&s] { return s.state_dict(); }, [&s](const StateDict& d) { s.load_state_dict(d); });
}

void Trainer::track(const std::string& name, optim::ReduceLROnPlateau& s) {
  add_checkpoint_state(
      name, [&s] { return s.state_dict(); }, [&s](const StateDict& d) { s.load_state_dict(d); });
}

nn::Module& Trainer::checkpoint_module() const {
  return options_.checkpoint_module ? *options_.checkpoint_module : *model_;
}

TrainingCheckpoint Trainer::checkpoint(const data::DataLoader& loader) const {
  TrainingCheckpoint c;
  c.model = options_.model_state ? options_.model_state() : checkpoint_module().state_dict();
  c.optimizer = options_.optimizer_state ? options_.optimizer_state() : optimizer_->state_dict();
  for (const auto& [name, s] : states_) c.states[name] = s.save();
  c.loader = loader.state_dict();
  c.epochs_completed = epochs_completed_;
  c.batches_in_epoch = batches_in_epoch_;
  c.global_step = global_step_;
  const auto [loss_sum, correct] = current_epoch_sums();
  c.epoch_loss_sum = loss_sum;
  c.epoch_seconds = epoch_seconds_;
  c.epoch_lr = epoch_lr_;
  c.epoch_correct = correct;
  c.epoch_samples = epoch_samples_;
  c.rng_state = default_generator().state();
  c.metadata = options_.checkpoint_metadata;
  return c;
}

void Trainer::save_checkpoint(const std::string& path, const data::DataLoader& loader) const {
  save_training_checkpoint(path, checkpoint(loader));
}

void Trainer::resume(const std::string& path) {
  TrainingCheckpoint c;
  try {
    c = load_training_checkpoint(path);
  } catch (const Error& e) {
    MAGMADNN_ERROR("resume: ", e.what());
  }
  resume(c, path);
}

void Trainer::resume(const TrainingCheckpoint& c, const std::string& source) {
  std::vector<std::string> problems;
  for (const auto& [key, value] : options_.checkpoint_metadata) {
    auto it = c.metadata.find(key);
    if (it == c.metadata.end())
      problems.push_back(key + " is not recorded (this run: " + value + ")");
    else if (it->second != value)
      problems.push_back(key + " " + it->second + " (this run: " + value + ")");
  }
  for (const auto& [key, value] : c.metadata)  // e.g. a flag the resumed run left out
    if (!options_.checkpoint_metadata.count(key)) problems.push_back(key + " " + value + " (this run: none)");
  for (const std::string& m : io::state_dict_mismatches(checkpoint_module().state_dict(), c.model))
    problems.push_back("model: " + m);
  for (const auto& [name, s] : states_)
    if (!c.states.count(name)) problems.push_back("no state '" + name + "' (e.g. a learning-rate schedule)");
  for (const auto& [name, s] : c.states)
    if (!states_.count(name)) problems.push_back("state '" + name + "' that this run does not use");
  if (c.epochs_completed >= options_.epochs)
    problems.push_back("all " + std::to_string(c.epochs_completed) + " epochs are already done (this run has " +
                       std::to_string(options_.epochs) + "; ask for more epochs to continue)");
  Generator probe;
  try {
    probe.set_state(c.rng_state);
  } catch (const Error&) {
    problems.push_back("no valid generator state");
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    MAGMADNN_ERROR("resume: ", source, ": checkpoint does not match this run: ", all);
  }
  const std::string previous_rng = default_generator().state();
  default_generator().set_state(c.rng_state);
  try {
    if (options_.load_optimizer_state)
      options_.load_optimizer_state(c.optimizer);
    else
      optimizer_->load_state_dict(c.optimizer);  // validates everything before changing anything
    checkpoint_module().load_state_dict(c.model);
    for (auto& [name, s] : states_) s.load(c.states.at(name));
  } catch (const Error& e) {
    default_generator().set_state(previous_rng);
    MAGMADNN_ERROR("resume: ", source, ": ", e.what());
  }
  resume_loader_ = c.loader;
  epochs_completed_ = c.epochs_completed;
  batches_in_epoch_ = c.batches_in_epoch;
  global_step_ = c.global_step;
  epoch_loss_sum_ = c.epoch_loss_sum;
  epoch_seconds_ = c.epoch_seconds;
  epoch_lr_ = c.epoch_lr;
  epoch_correct_ = c.epoch_correct;
  epoch_samples_ = c.epoch_samples;
  clear_epoch_sums_on_device();  // the next step starts from the restored sums
}

void Trainer::maybe_checkpoint(const data::DataLoader& loader, bool epoch_end) {
  if (options_.checkpoint_path.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  bool due = epoch_end ? options_.checkpoint_at_epoch_end : false;
  if (!epoch_end && options_.checkpoint_every_steps > 0 &&
      global_step_ - last_checkpoint_step_ >= options_.checkpoint_every_steps)
    due = true;
  if (!epoch_end && options_.checkpoint_every_minutes > 0 &&
      std::chrono::duration<double>(now - last_checkpoint_time_).count() >= options_.checkpoint_every_minutes * 60)
    due = true;
  if (!due) return;
  // Every rank counts, so step-based checkpoints stay on the same steps; only one writes.
  read_epoch_sums();  // and a diverged run writes no checkpoint
  last_checkpoint_step_ = global_step_;
  last_checkpoint_time_ = now;
  const bool collective = options_.model_state || options_.optimizer_state;
  if (options_.write_checkpoints)
    save_checkpoint(options_.checkpoint_path, loader);
  else if (collective)
    checkpoint(loader);  // take part in the gathering; only the writer saves
}

std::vector<EpochMetrics> Trainer::fit(data::DataLoader& train_loader, data::DataLoader* test_loader) {
  std::ostream& out = *options_.out;
  ProgressReporter progress(options_.progress, out);
  std::ofstream log;
  if (!options_.metrics_log.empty()) {
    log.open(options_.metrics_log, std::ios::app);
    MAGMADNN_CHECK(log.good(), "Trainer: cannot open metrics log ", options_.metrics_log, " for writing");
  }
  const bool has_eval = test_loader != nullptr || static_cast<bool>(options_.evaluate);
  last_checkpoint_step_ = global_step_;
  last_checkpoint_time_ = std::chrono::steady_clock::now();
  stopped_early_ = false;
  const Device device = this->device();
  std::vector<EpochMetrics> history;
  for (int64_t epoch = epochs_completed_ + 1; epoch <= options_.epochs; ++epoch) {
    model_->train();
    const int64_t num_batches = options_.max_batches > 0 ? std::min(options_.max_batches, train_loader.num_batches())
                                                         : train_loader.num_batches();
    if (resume_loader_) {  // continue inside the epoch a checkpoint was written in
      train_loader.load_state_dict(*resume_loader_);
      resume_loader_.reset();
      if (batches_in_epoch_ == 0) {
        train_loader.set_epoch(epoch - 1);
      } else if (batches_in_epoch_ < num_batches) {
        const data::SamplerPosition p = train_loader.position();
        MAGMADNN_CHECK(p.epoch == epoch - 1 && p.index == batches_in_epoch_ * train_loader.options().batch_size(),
                       "resume: the checkpoint's data position (epoch ", p.epoch, ", sample ", p.index,
                       ") does not match its trainer state (epoch ", epoch - 1, ", batch ", batches_in_epoch_,
                       "); was it written with another batch size?");
      }
    } else {
      train_loader.set_epoch(epoch - 1);
    }
    progress.start_epoch(epoch, options_.epochs, num_batches);
    EpochMetrics m;
    m.epoch = epoch;
    if (batches_in_epoch_ == 0) epoch_lr_ = optimizer_->lr();
    m.lr = epoch_lr_;
    if (batches_in_epoch_ < num_batches) {
      for (const data::Example& batch : train_loader) {
        if (batches_in_epoch_ == num_batches) break;
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t n = batch.input.size(0);
        bool stepped = true;  // whether this batch ended with an optimizer step
        if (options_.step) {
          read_epoch_sums();  // (only if default steps came first) keep the host sums whole
          clear_epoch_sums_on_device();
          int64_t hits = 0;
          const double loss = options_.step(to_device(batch, device), &hits);
          epoch_loss_sum_ += loss * n;
          epoch_correct_ += hits;
        } else if (options_.device_step) {
          add_to_epoch_sums(options_.device_step(to_device(batch, device)), n);
        } else {
          // Batch k (1-based) of its accumulation group; the group ends at accumulate_steps or the epoch's end.
          const int64_t k = batches_in_epoch_ % options_.accumulate_steps + 1;
          stepped = k == options_.accumulate_steps || batches_in_epoch_ + 1 == num_batches;
          add_to_epoch_sums(accumulate_step(batch, k == 1, stepped, k), n);
        }
        epoch_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        epoch_samples_ += n;
        ++batches_in_epoch_;
        progress.update(batches_in_epoch_, epoch_samples_, [&] {
          read_epoch_sums();
          return ProgressReporter::Values{epoch_loss_sum_ / epoch_samples_,
                                          options_.accuracy ? static_cast<double>(epoch_correct_) / epoch_samples_
                                                            : std::numeric_limits<double>::quiet_NaN()};
        });
        if (!stepped) continue;  // gradients pending: no step, checkpoint or stop between a group's batches
        ++global_step_;
        for (auto& cb : step_callbacks_) cb(global_step_);
        maybe_checkpoint(train_loader, /*epoch_end=*/false);
        if (options_.stop_after_steps > 0 && global_step_ >= options_.stop_after_steps) {
          read_epoch_sums();  // a later fit() or checkpoint() continues from the host sums
          clear_epoch_sums_on_device();
          if (!options_.checkpoint_path.empty() && last_checkpoint_step_ != global_step_) {
            if (options_.write_checkpoints)
              save_checkpoint(options_.checkpoint_path, train_loader);
            else if (options_.model_state || options_.optimizer_state)
              checkpoint(train_loader);
          }
          stopped_early_ = true;
          return history;
        }
      }
    }
    read_epoch_sums();
    clear_epoch_sums_on_device();
    m.train_loss = epoch_samples_ ? epoch_loss_sum_ / epoch_samples_ : 0;
    m.train_accuracy = !options_.accuracy ? std::numeric_limits<double>::quiet_NaN()
                       : epoch_samples_   ? static_cast<double>(epoch_correct_) / epoch_samples_
                                          : 0;
    m.train_seconds = epoch_seconds_;
    m.samples_per_second = epoch_seconds_ > 0 ? epoch_samples_ / epoch_seconds_ : 0;
    m.test_loss = m.test_accuracy = std::numeric_limits<double>::quiet_NaN();
    if (has_eval) {
      const EvalMetrics e = options_.evaluate ? options_.evaluate() : evaluate(*model_, *test_loader, options_.loss);
      m.test_loss = e.loss;
      m.test_accuracy = options_.accuracy ? e.accuracy : std::numeric_limits<double>::quiet_NaN();
    }
    std::ostringstream summary;
    summary << std::fixed << "epoch " << epoch << "/" << options_.epochs << std::setprecision(4) << " train_loss "
            << m.train_loss;
    if (options_.accuracy) summary << " train_acc " << m.train_accuracy;
    if (has_eval) {
      summary << " " << options_.eval_name << "_loss " << m.test_loss;
      if (options_.accuracy) summary << " " << options_.eval_name << "_acc " << m.test_accuracy;
    }
    summary << std::setprecision(0) << " " << m.samples_per_second << " samples/s " << std::setprecision(1)
            << m.train_seconds << "s";
    progress.end_epoch(summary.str());
    if (log.is_open()) {
      nlohmann::json j = {{"epoch", m.epoch},
                          {"train_loss", m.train_loss},
                          {"train_seconds", m.train_seconds},
                          {"samples_per_second", m.samples_per_second},
                          {"lr", m.lr}};
      if (options_.accuracy) j["train_accuracy"] = m.train_accuracy;
      if (has_eval) {
        j[options_.eval_name + "_loss"] = m.test_loss;
        if (options_.accuracy) j[options_.eval_name + "_accuracy"] = m.test_accuracy;
      }
      log << j.dump() << "\n" << std::flush;
    }
    history.push_back(m);
    bool keep_going = true;
    for (auto& cb : callbacks_) keep_going = cb(m) && keep_going;
    epochs_completed_ = epoch;
    batches_in_epoch_ = 0;
    epoch_loss_sum_ = epoch_seconds_ = 0;
    epoch_correct_ = epoch_samples_ = 0;
    maybe_checkpoint(train_loader, /*epoch_end=*/true);
    if (!keep_going) break;
  }
  return history;
}

}  // namespace magmadnn::train
