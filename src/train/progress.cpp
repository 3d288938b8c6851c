// Progress reporting for the training loop; see train/progress.h.
#include "magmadnn/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "magmadnn/core/error.h"

namespace magmadnn::train {

ProgressMode parse_progress_mode(const std::string& text) {
  if (text == "auto") return ProgressMode::Auto;
  if (text == "bar") return ProgressMode::Bar;
  if (text == "lines") return ProgressMode::Lines;
  if (text == "none") return ProgressMode::None;
  MAGMADNN_ERROR("unknown progress mode '", text, "': expected auto, bar, lines or none");
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s % 3600) / 60 << "m";
  else if (s >= 60) os << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else os << s << "s";
  return os.str();
}

ProgressReporter::ProgressReporter(ProgressMode mode, std::ostream& out) : mode_(mode), out_(out) {
  if (mode_ == ProgressMode::Auto)
    mode_ = (&out == &std::cout && ::isatty(STDOUT_FILENO)) ? ProgressMode::Bar : ProgressMode::Lines;
}

void ProgressReporter::start_epoch(int64_t epoch, int64_t num_epochs, int64_t num_batches) {
  epoch_ = epoch;
  num_epochs_ = num_epochs;
  num_batches_ = num_batches;
  next_line_batch_ = std::max<int64_t>(1, num_batches / 5);
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressReporter::update(int64_t batch, double loss, double accuracy, int64_t samples) {
  update(batch, samples, [&] { return Values{loss, accuracy}; });
}

void ProgressReporter::update(int64_t batch, int64_t samples, const std::function<Values()>& read) {
  if (mode_ == ProgressMode::None) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = batch == num_batches_;
  if (mode_ == ProgressMode::Bar) {
    // Redraw at most ~10 times a second: terminals are slow.
    if (!last && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
  } else if (batch < next_line_batch_ && !last) {
    return;
  }
  const auto [loss, accuracy] = read();
  // After the read, which may have waited for queued GPU work that belongs to these batches.
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? samples / elapsed : 0;
  const double eta = batch > 0 ? elapsed * (num_batches_ - batch) / batch : 0;
  std::ostringstream line;
  line << "epoch " << epoch_ << "/" << num_epochs_ << " ";
  if (mode_ == ProgressMode::Bar) {
    const int width = 24;
    const int filled = num_batches_ > 0 ? static_cast<int>(width * batch / num_batches_) : width;
    line << "[" << std::string(filled, '=') << (filled < width ? ">" : "") << std::string(std::max(0, width - filled - 1), ' ')
         << "] ";
  }
  line << "batch " << batch << "/" << num_batches_ << std::fixed << std::setprecision(4) << " loss " << loss;
  if (!std::isnan(accuracy)) line << std::setprecision(3) << " acc " << accuracy;
  line << std::setprecision(0) << " " << rate << " samples/s ETA " << format_duration(eta);
  if (mode_ == ProgressMode::Bar) {
    out_ << "\r" << line.str() << "\033[K" << std::flush;
  } else {
    out_ << line.str() << "\n" << std::flush;
    while (next_line_batch_ <= batch) next_line_batch_ += std::max<int64_t>(1, num_batches_ / 5);
  }
}

void ProgressReporter::end_epoch(const std::string& summary) {
  if (mode_ == ProgressMode::None) return;
  if (mode_ == ProgressMode::Bar) out_ << "\r\033[K";
  out_ << summary << "\n" << std::flush;
}

}  // namespace magmadnn::train
