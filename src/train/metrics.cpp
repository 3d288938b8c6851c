// ConfusionMatrix and confusion_matrix (see train/metrics.h).
#include "magmadnn/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn::train {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_defined(const std::vector<double>& v) {
  double sum = 0;
  int64_t n = 0;
  for (double x : v)
    if (!std::isnan(x)) {
      sum += x;
      ++n;
    }
  return n ? sum / static_cast<double>(n) : kNaN;
}
}  // namespace

ConfusionMatrix::ConfusionMatrix(int64_t num_classes) : classes_(num_classes) {
  MAGMADNN_CHECK(num_classes >= 1, "ConfusionMatrix: num_classes must be at least 1, got ", num_classes);
  counts_.assign(static_cast<size_t>(num_classes * num_classes), 0);
}

void ConfusionMatrix::add(const Tensor& logits, const Tensor& target) {
  MAGMADNN_CHECK(logits.defined() && logits.dim() == 2 && logits.size(1) == classes_, "ConfusionMatrix(", classes_,
                 " classes): expected logits (N, ", classes_, "), got ",
                 logits.defined() ? logits.shape().str() : std::string("an undefined tensor"));
  MAGMADNN_CHECK(target.defined() && target.dtype() == kInt64 && target.dim() == 1 && target.size(0) == logits.size(0),
                 "ConfusionMatrix: expected int64 targets (", logits.size(0), "), got ",
                 target.defined() ? target.shape().str() : std::string("an undefined tensor"));
  autograd::NoGradGuard no_grad;
  const std::vector<int64_t> pred = argmax(logits, 1).to(Device::cpu()).contiguous().to_vector<int64_t>();
  const std::vector<int64_t> truth = target.to(Device::cpu()).contiguous().to_vector<int64_t>();
  for (size_t i = 0; i < truth.size(); ++i)
    MAGMADNN_CHECK(truth[i] >= 0 && truth[i] < classes_, "ConfusionMatrix: target ", truth[i], " of sample ", i,
                   " is out of range for ", classes_, " classes");
  for (size_t i = 0; i < truth.size(); ++i) ++counts_[truth[i] * classes_ + pred[i]];
  total_ += static_cast<int64_t>(truth.size());
}

int64_t ConfusionMatrix::support(int64_t c) const {
  int64_t n = 0;
  for (int64_t p = 0; p < classes_; ++p) n += count(c, p);
  return n;
}

int64_t ConfusionMatrix::predicted(int64_t c) const {
  int64_t n = 0;
  for (int64_t t = 0; t < classes_; ++t) n += count(t, c);
  return n;
}

double ConfusionMatrix::accuracy() const {
  int64_t hits = 0;
  for (int64_t c = 0; c < classes_; ++c) hits += count(c, c);
  return total_ ? static_cast<double>(hits) / static_cast<double>(total_) : kNaN;
}

double ConfusionMatrix::precision(int64_t c) const {
  const int64_t p = predicted(c);
  return p ? static_cast<double>(count(c, c)) / static_cast<double>(p) : kNaN;
}

double ConfusionMatrix::recall(int64_t c) const {
  const int64_t s = support(c);
  return s ? static_cast<double>(count(c, c)) / static_cast<double>(s) : kNaN;
}

double ConfusionMatrix::f1(int64_t c) const {
  const double p = precision(c), r = recall(c);
  if (std::isnan(p) || std::isnan(r)) return kNaN;
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double ConfusionMatrix::macro_precision() const {
  std::vector<double> v;
  for (int64_t c = 0; c < classes_; ++c)
    if (support(c)) v.push_back(precision(c));
  return mean_defined(v);
}

double ConfusionMatrix::macro_recall() const {
  std::vector<double> v;
  for (int64_t c = 0; c < classes_; ++c)
    if (support(c)) v.push_back(recall(c));
  return mean_defined(v);
}

double ConfusionMatrix::macro_f1() const {
  std::vector<double> v;
  for (int64_t c = 0; c < classes_; ++c)
    if (support(c)) v.push_back(f1(c));
  return mean_defined(v);
}

std::string ConfusionMatrix::report(const std::vector<std::string>& names) const {
  MAGMADNN_CHECK(names.empty() || static_cast<int64_t>(names.size()) == classes_, "ConfusionMatrix::report: ",
                 names.size(), " names for ", classes_, " classes");
  auto name = [&](int64_t c) { return names.empty() ? std::to_string(c) : names[c]; };
  size_t w = 9;  // "macro avg"
  for (int64_t c = 0; c < classes_; ++c) w = std::max(w, name(c).size());
  auto num = [](double v) {
    std::ostringstream s;
    if (std::isnan(v))
      s << "n/a";
    else
      s << std::fixed << std::setprecision(4) << v;
    return s.str();
  };
  std::ostringstream os;
  os << std::left << std::setw(static_cast<int>(w) + 2) << "class" << std::right << std::setw(10) << "precision"
     << std::setw(10) << "recall" << std::setw(10) << "f1" << std::setw(10) << "support" << "\n";
  for (int64_t c = 0; c < classes_; ++c)
    os << std::left << std::setw(static_cast<int>(w) + 2) << name(c) << std::right << std::setw(10) << num(precision(c))
       << std::setw(10) << num(recall(c)) << std::setw(10) << num(f1(c)) << std::setw(10) << support(c) << "\n";
  os << std::left << std::setw(static_cast<int>(w) + 2) << "macro avg" << std::right << std::setw(10)
     << num(macro_precision()) << std::setw(10) << num(macro_recall()) << std::setw(10) << num(macro_f1())
     << std::setw(10) << total_ << "\n";
  os << "accuracy " << num(accuracy()) << " (" << total_ << " samples)\n\nconfusion matrix (rows: true class, "
     << "columns: predicted)\n";
  int cw = 6;
  for (int64_t t = 0; t < classes_; ++t)
    for (int64_t p = 0; p < classes_; ++p) cw = std::max<int>(cw, static_cast<int>(std::to_string(count(t, p)).size()) + 1);
  os << std::setw(static_cast<int>(w) + 2) << "";
  for (int64_t p = 0; p < classes_; ++p) os << std::setw(cw) << p;
  os << "\n";
  for (int64_t t = 0; t < classes_; ++t) {
    os << std::left << std::setw(static_cast<int>(w) + 2) << name(t) << std::right;
    for (int64_t p = 0; p < classes_; ++p) os << std::setw(cw) << count(t, p);
    os << "\n";
  }
  return os.str();
}

RegressionMetrics::RegressionMetrics(int64_t num_targets)
    : targets_(num_targets),
      abs_sum_(std::max<int64_t>(num_targets, 0), 0.0),
      sq_sum_(abs_sum_),
      target_sum_(abs_sum_),
      target_sq_sum_(abs_sum_) {
  MAGMADNN_CHECK(num_targets > 0, "RegressionMetrics: num_targets must be positive, got ", num_targets);
}

void RegressionMetrics::add(const Tensor& prediction, const Tensor& target) {
  MAGMADNN_CHECK(prediction.defined() && target.defined() && prediction.dim() == 2 &&
                     prediction.size(1) == targets_ && prediction.shape() == target.shape(),
                 "RegressionMetrics(", targets_, " targets): expected predictions and targets (N, ", targets_,
                 "), got ", prediction.defined() ? prediction.shape().str() : "none", " and ",
                 target.defined() ? target.shape().str() : "none");
  autograd::NoGradGuard no_grad;
  const std::vector<double> p = prediction.to(Device::cpu()).to(kFloat64).contiguous().to_vector<double>();
  const std::vector<double> t = target.to(Device::cpu()).to(kFloat64).contiguous().to_vector<double>();
  for (size_t i = 0; i < p.size(); ++i) {
    const size_t k = i % static_cast<size_t>(targets_);
    const double e = p[i] - t[i];
    abs_sum_[k] += std::abs(e);
    sq_sum_[k] += e * e;
    target_sum_[k] += t[i];
    target_sq_sum_[k] += t[i] * t[i];
  }
  samples_ += prediction.size(0);
}

double RegressionMetrics::mae(int64_t k) const { return samples_ ? abs_sum_.at(k) / samples_ : std::nan(""); }
double RegressionMetrics::rmse(int64_t k) const { return samples_ ? std::sqrt(sq_sum_.at(k) / samples_) : std::nan(""); }
double RegressionMetrics::r2(int64_t k) const {
  const double n = static_cast<double>(samples_);
  const double sst = samples_ ? target_sq_sum_.at(k) - target_sum_.at(k) * target_sum_.at(k) / n : 0.0;
  return sst > 0 ? 1.0 - sq_sum_.at(k) / sst : std::nan("");
}
double RegressionMetrics::mae() const {
  double s = 0;
  for (double v : abs_sum_) s += v;
  return samples_ ? s / (static_cast<double>(samples_) * static_cast<double>(targets_)) : std::nan("");
}
double RegressionMetrics::rmse() const {
  double s = 0;
  for (double v : sq_sum_) s += v;
  return samples_ ? std::sqrt(s / (static_cast<double>(samples_) * static_cast<double>(targets_))) : std::nan("");
}
double RegressionMetrics::r2() const {
  double s = 0;
  for (int64_t k = 0; k < targets_; ++k) s += r2(k);
  return s / static_cast<double>(targets_);
}

std::string RegressionMetrics::report(const std::vector<std::string>& names) const {
  MAGMADNN_CHECK(names.empty() || static_cast<int64_t>(names.size()) == targets_, "RegressionMetrics::report: ",
                 names.size(), " names for ", targets_, " targets");
  auto num = [](double v) {
    std::ostringstream s;
    if (std::isnan(v))
      s << "n/a";
    else
      s << std::setprecision(5) << v;
    return s.str();
  };
  std::ostringstream os;
  os << std::left << std::setw(10) << "target" << std::right << std::setw(12) << "MAE" << std::setw(12) << "RMSE"
     << std::setw(12) << "R^2" << "\n";
  for (int64_t k = 0; k < targets_; ++k)
    os << std::left << std::setw(10) << (names.empty() ? "y" + std::to_string(k) : names[k]) << std::right
       << std::setw(12) << num(mae(k)) << std::setw(12) << num(rmse(k)) << std::setw(12) << num(r2(k)) << "\n";
  if (targets_ > 1)
    os << std::left << std::setw(10) << "all" << std::right << std::setw(12) << num(mae()) << std::setw(12)
       << num(rmse()) << std::setw(12) << num(r2()) << "\n";
  os << "(" << samples_ << " samples)\n";
  return os.str();
}

ConfusionMatrix confusion_matrix(nn::Module& model, data::DataLoader& loader, int64_t num_classes) {
  ConfusionMatrix m(num_classes);
  evaluate(model, loader, cross_entropy_loss(), &m);
  return m;
}

}  // namespace magmadnn::train
