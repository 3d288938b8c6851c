// Learning-rate schedules (PyTorch 1.13 semantics and values): StepLR, MultiStepLR and
// CosineAnnealingLR advance once per epoch with step(); OneCycleLR once per optimizer step;
// ReduceLROnPlateau lowers the rate when a metric stops improving, step(metric). All write the
// new rates into the optimizer's groups.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

#include "magmadnn/optim/optimizer.h"

namespace magmadnn::optim {

// Epoch-based schedules. After construction last_epoch() is 0 and the rates are the optimizer's;
// each step() moves to the next epoch. The optimizer must outlive the scheduler.
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  void step();
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // "last_epoch" and "base_lr.<g>" as one-element float64 tensors.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state_dict);

 protected:
  // The rates for epoch last_epoch_ (already advanced); may read the groups' current rates,
  // as PyTorch's recursive forms do.
  virtual std::vector<double> compute_lr() = 0;
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;

 private:
  std::vector<double> last_lr_;
};

// lr = base_lr * gamma^(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^(number of milestones reached); a milestone listed twice counts twice.
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> compute_lr() override;

 private:
  std::map<int64_t, int> milestones_;  // epoch -> multiplicity
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, computed with PyTorch's
// recursive form (which keeps going, periodically, past T_max).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> compute_lr() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// The 1cycle policy (Smith & Topin), stepped after every optimizer step: the rate rises from
// max_lr / div_factor to max_lr over the first pct_start of total_steps, then anneals (cosine or
// linear) to max_lr / (div_factor * final_div_factor). Construction sets the initial rate.
// As torch.optim.lr_scheduler.OneCycleLR with cycle_momentum=False (momentum is not cycled).
struct OneCycleOptions {
  OneCycleOptions& pct_start(double v) {
    pct_start_ = v;
    return *this;
  }
  OneCycleOptions& div_factor(double v) {
    div_factor_ = v;
    return *this;
  }
  OneCycleOptions& final_div_factor(double v) {
    final_div_factor_ = v;
    return *this;
  }
  OneCycleOptions& cosine(bool v) {
    cosine_ = v;
    return *this;
  }
  double pct_start() const { return pct_start_; }
  double div_factor() const { return div_factor_; }
  double final_div_factor() const { return final_div_factor_; }
  bool cosine() const { return cosine_; }  // false: linear annealing

 private:
  double pct_start_ = 0.3;
  double div_factor_ = 25;
  double final_div_factor_ = 1e4;
  bool cosine_ = true;
};

class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, const OneCycleOptions& options = {});

 protected:
  std::vector<double> compute_lr() override;

 private:
  double max_lr_;
  int64_t total_steps_;
  OneCycleOptions options_;
};

enum class PlateauMode { Min, Max };
enum class ThresholdMode { Rel, Abs };

struct ReduceLROnPlateauOptions {
  using Mode = PlateauMode;  // ReduceLROnPlateauOptions::Mode::Max
  ReduceLROnPlateauOptions& mode(PlateauMode v) {
    mode_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& factor(double v) {
    factor_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& patience(int64_t v) {
    patience_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& threshold(double v) {
    threshold_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& threshold_mode(ThresholdMode v) {
    threshold_mode_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& cooldown(int64_t v) {
    cooldown_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& min_lr(double v) {
    min_lr_ = v;
    return *this;
  }
  ReduceLROnPlateauOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  PlateauMode mode() const { return mode_; }
  double factor() const { return factor_; }
  int64_t patience() const { return patience_; }
  double threshold() const { return threshold_; }
  ThresholdMode threshold_mode() const { return threshold_mode_; }
  int64_t cooldown() const { return cooldown_; }
  double min_lr() const { return min_lr_; }
  double eps() const { return eps_; }  // smaller reductions than this are skipped

 private:
  PlateauMode mode_ = PlateauMode::Min;
  double factor_ = 0.1;
  int64_t patience_ = 10;
  double threshold_ = 1e-4;
  ThresholdMode threshold_mode_ = ThresholdMode::Rel;
  int64_t cooldown_ = 0;
  double min_lr_ = 0;
  double eps_ = 1e-8;
};

class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  // One epoch with its metric (e.g. the validation loss); lowers the rates by `factor` after
  // more than `patience` epochs without improvement.
  void step(double metric);
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  const ReduceLROnPlateauOptions& options() const { return options_; }
  // "last_epoch", "best", "num_bad_epochs", "cooldown_counter" as one-element float64 tensors.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state_dict);

 private:
  bool is_better(double a) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace magmadnn::optim
