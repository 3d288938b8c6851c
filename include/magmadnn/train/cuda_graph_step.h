// A training step (zero_grad, forward, loss, backward, optimizer step) captured once into a CUDA
// graph and replayed for every batch of the same shapes: one launch per step instead of one per
// kernel, which is most of the time of a small model on a GPU (`magmadnn train --cuda-graph`).
//
// The first `warmup_steps` steps run eagerly (they create the optimizer's state and the library
// handles); the next one copies its batch into static input tensors and is captured, then every
// step copies its batch there and replays. A batch of other shapes (the last, smaller one) runs
// eagerly with the same parameters and optimizer state. A change of learning rate re-captures.
// Needs an optimizer whose replay_blocker() is empty (SGD, RMSprop, Adagrad without lr_decay).
// Dropout is replayed with fresh masks: each replay draws what the eager step would have drawn,
// so a captured run equals an uncaptured one with the same seed.
#pragma once

#include <cstdint>
#include <vector>

#include "magmadnn/backend/cuda_graph.h"
#include "magmadnn/nn/module.h"
#include "magmadnn/optim/optimizer.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn::train {

class CudaGraphStep {
 public:
  // The model's parameters must be on a CUDA device; the optimizer must update them.
  CudaGraphStep(nn::Module& model, optim::Optimizer& optimizer, LossFn loss = cross_entropy_loss(),
                int64_t warmup_steps = 3);

  struct Result {
    Tensor loss;     // scalar on the device
    Tensor correct;  // float64 scalar on the device: rows whose argmax equals the target
  };
  // One optimizer step on the batch (x, y), on any device. The result tensors are overwritten by
  // the next step: accumulate or read them before.
  Result step(const Tensor& x, const Tensor& y);

  bool captured() const { return graph_.captured(); }
  int64_t replays() const { return replays_; }
  int64_t captures() const { return captures_; }
  int64_t eager_steps() const { return eager_steps_; }

 private:
  Result eager(const Tensor& x, const Tensor& y);
  std::vector<double> learning_rates() const;

  nn::Module& model_;
  optim::Optimizer& optimizer_;
  LossFn loss_;
  int64_t warmup_steps_;
  Device device_;
  cuda::Graph graph_;
  Tensor static_x_, static_y_;  // the graph's inputs
  Result static_result_;        // the graph's outputs
  std::vector<double> captured_lrs_;
  int64_t replays_ = 0, captures_ = 0, eager_steps_ = 0;
};

}  // namespace magmadnn::train
