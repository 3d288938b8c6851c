// Learning-rate schedules, written as PyTorch 1.13 computes them (recursive forms included) so
// their sequences match torch.optim.lr_scheduler value for value.
#include "magmadnn/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace magmadnn::optim {

namespace {
std::vector<double> current_lrs(const Optimizer& opt) {
  std::vector<double> lrs;
  for (size_t g = 0; g < opt.num_groups(); ++g) lrs.push_back(opt.lr(g));
  return lrs;
}

Tensor scalar64(double v) {
  return full({1}, v, kFloat64);
}

// Reads the listed one-element keys, reporting every missing or malformed one in one Error.
std::vector<double> read_scalars(const std::map<std::string, Tensor>& sd,
                                 const std::vector<std::string>& keys, const char* who) {
  std::vector<double> out;
  std::vector<std::string> problems;
  for (const auto& k : keys) {
    auto it = sd.find(k);
    if (it == sd.end() || !it->second.defined()) {
      problems.push_back("missing key '" + k + "'");
    } else if (it->second.numel() != 1) {
      problems.push_back(
          detail::str_cat("key '", k, "': expected one element, got shape ", it->second.shape()));
    } else {
      out.push_back(it->second.to(kFloat64).to_vector<double>()[0]);
    }
  }
  for (const auto& [k, _] : sd)
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      problems.push_back("unexpected key '" + k + "'");
  if (!problems.empty()) {
    std::ostringstream msg;
    msg << who << ": load_state_dict found " << problems.size() << " problem"
        << (problems.size() > 1 ? "s" : "") << ", nothing was loaded:";
    for (const auto& p : problems) msg << "\n  " << p;
    MAGMADNN_ERROR(msg.str());
  }
  return out;
}
}  // namespace

// ------------------------------------------------------------------------------ LRScheduler

LRScheduler::LRScheduler(Optimizer& optimizer)
    : optimizer_(optimizer), base_lrs_(current_lrs(optimizer)), last_lr_(base_lrs_) {}

void LRScheduler::step() {
  ++last_epoch_;
  std::vector<double> lrs = compute_lr();
  for (size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(g, lrs[g]);
  last_lr_ = std::move(lrs);
}

std::map<std::string, Tensor> LRScheduler::state_dict() const {
  std::map<std::string, Tensor> sd;
  sd.emplace("last_epoch", scalar64(static_cast<double>(last_epoch_)));
  for (size_t g = 0; g < base_lrs_.size(); ++g)
    sd.emplace("base_lr." + std::to_string(g), scalar64(base_lrs_[g]));
  return sd;
}

void LRScheduler::load_state_dict(const std::map<std::string, Tensor>& sd) {
  std::vector<std::string> keys{"last_epoch"};
  for (size_t g = 0; g < base_lrs_.size(); ++g) keys.push_back("base_lr." + std::to_string(g));
  std::vector<double> v = read_scalars(sd, keys, "LRScheduler");
  last_epoch_ = static_cast<int64_t>(v[0]);
  for (size_t g = 0; g < base_lrs_.size(); ++g) base_lrs_[g] = v[g + 1];
  // The optimizer's own state dict carries the current rates.
  last_lr_ = current_lrs(optimizer_);
}

// ------------------------------------------------------------------------------- OneCycleLR

namespace {
Optimizer& with_lr(Optimizer& optimizer, double lr) {
  optimizer.set_lr(lr);
  return optimizer;
}
}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, const OneCycleOptions& options)
    : LRScheduler(with_lr(optimizer, max_lr / options.div_factor())),
      max_lr_(max_lr),
      total_steps_(total_steps),
      options_(options) {
  MAGMADNN_CHECK(max_lr > 0 && total_steps > 0, "OneCycleLR: max_lr and total_steps must be positive, got ", max_lr,
                 " and ", total_steps);
  MAGMADNN_CHECK(options.pct_start() > 0 && options.pct_start() < 1, "OneCycleLR: pct_start must be in (0, 1), got ",
                 options.pct_start());
  MAGMADNN_CHECK(options.div_factor() > 0 && options.final_div_factor() > 0,
                 "OneCycleLR: div_factor and final_div_factor must be positive");
}

std::vector<double> OneCycleLR::compute_lr() {
  MAGMADNN_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: stepped ", last_epoch_, " times, but total_steps is ",
                 total_steps_);
  const double initial = max_lr_ / options_.div_factor(), final_lr = initial / options_.final_div_factor();
  const double warm_end = options_.pct_start() * static_cast<double>(total_steps_) - 1;
  const double last = static_cast<double>(total_steps_ - 1), t = static_cast<double>(last_epoch_);
  auto anneal = [&](double from, double to, double pct) {
    return options_.cosine() ? to + (from - to) / 2 * (1 + std::cos(M_PI * pct)) : (to - from) * pct + from;
  };
  // Past the last step (the step() after the final batch) the rate stays at its final value,
  // where PyTorch would extrapolate the annealing curve.
  const double lr = t <= warm_end && warm_end > 0 ? anneal(initial, max_lr_, t / warm_end)
                                  : anneal(max_lr_, final_lr, std::min(1.0, (t - warm_end) / (last - warm_end)));
  return std::vector<double>(base_lrs_.size(), lr);
}

// ----------------------------------------------------------------------------------- StepLR

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  MAGMADNN_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
}

std::vector<double> StepLR::compute_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (auto& lr : lrs) lr *= gamma_;
  return lrs;
}

// ------------------------------------------------------------------------------ MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  for (int64_t m : milestones) ++milestones_[m];
}

std::vector<double> MultiStepLR::compute_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  auto it = milestones_.find(last_epoch_);
  if (it == milestones_.end()) return lrs;
  for (auto& lr : lrs) lr *= std::pow(gamma_, it->second);
  return lrs;
}

// ------------------------------------------------------------------------ CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  MAGMADNN_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
}

std::vector<double> CosineAnnealingLR::compute_lr() {
  std::vector<double> lrs = current_lrs(optimizer_);
  if (last_epoch_ == 0) return lrs;
  const double pi = M_PI, T = static_cast<double>(T_max_), e = static_cast<double>(last_epoch_);
  if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    for (size_t g = 0; g < lrs.size(); ++g) lrs[g] += (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  for (auto& lr : lrs)
    lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

// ------------------------------------------------------------------------ ReduceLROnPlateau

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options), last_lr_(current_lrs(optimizer)) {
  MAGMADNN_CHECK(options.factor() < 1.0 && options.factor() >= 0,
                 "ReduceLROnPlateau: factor must be in [0, 1), got ", options.factor());
  MAGMADNN_CHECK(options.patience() >= 0 && options.cooldown() >= 0,
                 "ReduceLROnPlateau: patience and cooldown must be non-negative");
  best_ = options.mode() == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                             : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
  const double t = options_.threshold();
  const bool rel = options_.threshold_mode() == ThresholdMode::Rel;
  if (options_.mode() == PlateauMode::Min) return rel ? a < best_ * (1 - t) : a < best_ - t;
  return rel ? a > best_ * (t + 1) : a > best_ + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience()) {
    for (size_t g = 0; g < optimizer_.num_groups(); ++g) {
      const double old_lr = optimizer_.lr(g);
      const double new_lr = std::max(old_lr * options_.factor(), options_.min_lr());
      if (old_lr - new_lr > options_.eps()) optimizer_.set_lr(g, new_lr);
    }
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
  last_lr_ = current_lrs(optimizer_);
}

std::map<std::string, Tensor> ReduceLROnPlateau::state_dict() const {
  return {{"last_epoch", scalar64(static_cast<double>(last_epoch_))},
          {"best", scalar64(best_)},
          {"num_bad_epochs", scalar64(static_cast<double>(num_bad_epochs_))},
          {"cooldown_counter", scalar64(static_cast<double>(cooldown_counter_))}};
}

void ReduceLROnPlateau::load_state_dict(const std::map<std::string, Tensor>& sd) {
  std::vector<double> v =
      read_scalars(sd, {"last_epoch", "best", "num_bad_epochs", "cooldown_counter"}, "ReduceLROnPlateau");
  last_epoch_ = static_cast<int64_t>(v[0]);
  best_ = v[1];
  num_bad_epochs_ = static_cast<int64_t>(v[2]);
  cooldown_counter_ = static_cast<int64_t>(v[3]);
  last_lr_ = current_lrs(optimizer_);
}

}  // namespace magmadnn::optim
