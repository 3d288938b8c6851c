// CudaGraphStep (train/cuda_graph_step.h): eager warm-up, capture, replay.
#include "magmadnn/train/cuda_graph_step.h"

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::train {

namespace {
Device device_of(nn::Module& model) {
  const std::vector<Tensor> params = model.parameters();
  MAGMADNN_CHECK(!params.empty(), "CudaGraphStep: the model has no parameters");
  const Device d = params.front().device();
  MAGMADNN_CHECK(d.is_cuda(), "CudaGraphStep: the model is on ", d, "; CUDA graphs need it on a CUDA device (",
                 "call model.to(Device::cuda(N)) first)");
  return d;
}
// Checked before the device, so the reason comes first.
int64_t check_replayable(const optim::Optimizer& optimizer, int64_t warmup_steps) {
  const std::string blocker = optimizer.replay_blocker();
  MAGMADNN_CHECK(blocker.empty(), "CUDA graph training: ", blocker,
                 ", so a captured step cannot be replayed; use SGD or RMSprop, or train without a CUDA graph");
  MAGMADNN_CHECK(warmup_steps >= 1, "CudaGraphStep: warmup_steps must be at least 1, got ", warmup_steps);
  return warmup_steps;
}
}  // namespace

CudaGraphStep::CudaGraphStep(nn::Module& model, optim::Optimizer& optimizer, LossFn loss, int64_t warmup_steps)
    : model_(model),
      optimizer_(optimizer),
      loss_(loss ? std::move(loss) : cross_entropy_loss()),
      warmup_steps_(check_replayable(optimizer, warmup_steps)),
      device_(device_of(model)),
      graph_(device_.index) {}

std::vector<double> CudaGraphStep::learning_rates() const {
  std::vector<double> lrs;
  for (size_t g = 0; g < optimizer_.num_groups(); ++g) lrs.push_back(optimizer_.lr(g));
  return lrs;
}

CudaGraphStep::Result CudaGraphStep::eager(const Tensor& x, const Tensor& y) {
  optimizer_.zero_grad();
  const Tensor output = model_.forward(x);
  Tensor loss = loss_(output, y);
  loss.backward();
  optimizer_.step();
  NoGradGuard no_grad;
  return {loss.detach(), count_correct_tensor(output.detach(), y)};
}

CudaGraphStep::Result CudaGraphStep::step(const Tensor& x, const Tensor& y) {
  const bool same_shapes = static_x_.defined() && x.shape() == static_x_.shape() && y.shape() == static_y_.shape() &&
                           x.dtype() == static_x_.dtype() && y.dtype() == static_y_.dtype();
  if (eager_steps_ < warmup_steps_ || (static_x_.defined() && !same_shapes)) {
    ++eager_steps_;
    return eager(x.device() == device_ ? x : x.to(device_), y.device() == device_ ? y : y.to(device_));
  }
  if (graph_.captured() && learning_rates() != captured_lrs_) graph_.reset();  // the lr is baked in
  // One copy straight into the static inputs, from wherever the batch is (host or device).
  const auto load_inputs = [&] {  // copies, not part of any autograd graph
    NoGradGuard no_grad;
    static_x_.copy_(x);
    static_y_.copy_(y);
  };
  if (!graph_.captured()) {
    if (!same_shapes) {
      static_x_ = Tensor::empty(x.shape(), x.dtype(), device_);
      static_y_ = Tensor::empty(y.shape(), y.dtype(), device_);
    }
    load_inputs();
    captured_lrs_ = learning_rates();
    graph_.capture([&] { static_result_ = eager(static_x_, static_y_); });  // recorded, not run
    ++captures_;
    graph_.replay();  // runs the captured step (its host bookkeeping was done during capture)
    return static_result_;
  }
  load_inputs();
  graph_.replay();
  optimizer_.count_replayed_step();
  ++replays_;
  return static_result_;
}

}  // namespace magmadnn::train
