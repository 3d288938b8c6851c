// CUDA graphs: the work a piece of code enqueues on a device, recorded once and replayed with
// one launch. For training steps whose shapes do not change (see train/cuda_graph_step.h), this
// removes the per-kernel launch cost that dominates small models on a GPU. No vendor headers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace magmadnn::cuda {

class Graph {
 public:
  // A graph of device `device` (cuda:N); nothing is recorded yet.
  explicit Graph(int device = 0);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Runs `body` with the device's stream in capture mode: its kernels and copies are recorded,
  // not executed. Memory allocated inside comes from a pool private to this graph and stays
  // reserved for the replays, so tensors created by `body` that the caller keeps (e.g. the loss)
  // are where every replay writes. Random fills (rand, randn, dropout masks) are recorded with
  // their place in the generator's sequence: each replay draws fresh numbers, the ones the same
  // code run uncaptured would draw then (the generator, one per capture, must outlive the graph).
  // Anything that needs the host (reading a tensor back, synchronising) fails with a clear
  // Error, and so does body's own Error: then nothing stays recorded. A second capture replaces
  // the first.
  void capture(const std::function<void()>& body);
  // Enqueues the recorded work on the device's stream (asynchronous, like a kernel), after taking
  // the captured random fills' offsets from their generator.
  void replay();
  bool captured() const;
  int64_t replays() const;
  // Drops the recording and gives its memory back to the device's cache.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace magmadnn::cuda
