// Training progress output: a live bar on a terminal (epoch, batch, loss, samples/s, ETA),
// plain periodic lines when stdout is a file or pipe, or nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace magmadnn::train {

enum class ProgressMode { Auto, Bar, Lines, None };

// Parses "auto", "bar", "lines", "none"; throws Error otherwise.
ProgressMode parse_progress_mode(const std::string& text);

class ProgressReporter {
 public:
  // Auto picks Bar when `out` is std::cout and stdout is a terminal, Lines otherwise.
  ProgressReporter(ProgressMode mode, std::ostream& out);

  void start_epoch(int64_t epoch, int64_t num_epochs, int64_t num_batches);
  // After each batch: running mean loss and accuracy of the epoch so far (NaN: none, a
  // regression), samples seen.
  void update(int64_t batch, double loss, double accuracy, int64_t samples);
  // The same, but the loss and accuracy are asked of `read` only when something is drawn (a bar
  // at most ~10 times a second, a line 5 times an epoch): reading them may wait for a GPU.
  struct Values {
    double loss = 0, accuracy = 0;
  };
  void update(int64_t batch, int64_t samples, const std::function<Values()>& read);
  // Ends the epoch's bar with a summary line.
  void end_epoch(const std::string& summary);
  ProgressMode mode() const { return mode_; }

 private:
  ProgressMode mode_;
  std::ostream& out_;
  int64_t epoch_ = 0, num_epochs_ = 0, num_batches_ = 0, next_line_batch_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1m05s", "42s", "3h02m".
std::string format_duration(double seconds);

}  // namespace magmadnn::train
