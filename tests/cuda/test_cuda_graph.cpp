// CUDA graphs: cuda::Graph (capture, replay, private memory, random fills that draw fresh numbers
// at each replay, clear errors for host work inside a capture) and train::CudaGraphStep (a
// captured training step, dropout included, gives the same parameters as the eager steps; other
// batch shapes and learning-rate changes are handled). GPU tests skip with a
// message without a device; the error tests run everywhere.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "cuda/cuda_test_util.h"
#include "magmadnn/backend/cuda_graph.h"
#include "magmadnn/train/cuda_graph_step.h"

using namespace magmadnn;
using namespace cudatest;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {


std::shared_ptr<nn::Sequential> small_mlp() {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(12, 16), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(16, 4)});
}

void expect_same_parameters(nn::Module& a, nn::Module& b, double rtol) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) {
    const std::vector<double> x = t.to_vector<double>(), y = sb.at(name).to_vector<double>();
    ASSERT_EQ(x.size(), y.size()) << name;
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(x[i], y[i], rtol * (1 + std::abs(y[i]))) << name << "[" << i << "]";
  }
}

}  // namespace

TEST(CudaGraph, ErrorsWithoutAGpuOrWithAnUnreplayableOptimizer) {
  auto model = small_mlp();
  optim::Adam adam(model->parameters(), optim::AdamOptions(1e-3));
  EXPECT_THAT(error_of([&] { train::CudaGraphStep step(*model, adam); }),
              HasSubstr("CUDA graph training: Adam's bias correction changes with every step"));
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.1));
  EXPECT_THAT(error_of([&] { train::CudaGraphStep step(*model, sgd); }),
              HasSubstr("CUDA graphs need it on a CUDA device"));
  if (cuda::device_count() == 0) EXPECT_THAT(error_of([] { cuda::Graph g(0); }), HasSubstr("no CUDA device"));
}

TEST(CudaGraph, ReplayRecomputesFromTheStaticInputs) {
  SKIP_WITHOUT_GPU();
  Tensor x = from_vector<float>({1, 2, 3, 4}, {4}).to(kGpu);
  Tensor y;
  cuda::Graph graph(0);
  graph.capture([&] { y = sum(x * 2.0 + 1.0); });
  EXPECT_TRUE(graph.captured());
  graph.replay();
  EXPECT_FLOAT_EQ(y.item<float>(), 24.0f);
  // Eager work in between must not disturb the graph's private memory.
  for (int i = 0; i < 20; ++i) (void)sum(randn({1000}).to(kGpu) * 3.0).item<float>();
  x.copy_(from_vector<float>({0, 0, 0, 20}, {4}));
  graph.replay();
  EXPECT_FLOAT_EQ(y.item<float>(), 44.0f);
  EXPECT_EQ(graph.replays(), 2);
  graph.reset();
  EXPECT_FALSE(graph.captured());
  EXPECT_THAT(error_of([&] { graph.replay(); }), HasSubstr("nothing captured"));
}

// Large reductions are one launch whose last block combines the partials, using per-device
// arrival counters made on first use; a capture that comes first takes two launches instead.
// This test is the process's first large reduction (keep it before the training tests), so the
// capture takes the two-launch form and the eager calls after it the one-launch form: both must
// agree with each other, with the CPU, and over repeated replays (the counters are left zero).
TEST(CudaGraph, LargeReductionsReplayInsideAndOutsideACapture) {
  SKIP_WITHOUT_GPU();
  manual_seed(9);
  Tensor x = randn({1 << 22}).to(kGpu), m = randn({4096, 256}).to(kGpu);
  Tensor total, cols, peak;
  cuda::Graph graph(0);
  graph.capture([&] {
    total = sum(x);           // long rows: segments over the whole GPU
    cols = sum(m, {0});       // columns: 256 outputs, the rows split into segments
    peak = max(m, {0});
  });
  for (int round = 0; round < 3; ++round) {
    x.copy_(randn({1 << 22}).to(kGpu));
    m.copy_(randn({4096, 256}).to(kGpu));
    graph.replay();
    const Tensor xc = x.to(Device::cpu()), mc = m.to(Device::cpu());
    expect_close(total, sum(xc), 1e-5, 1e-3, "graphed sum, round " + std::to_string(round));
    expect_close(cols, sum(mc, {0}), 1e-5, 1e-4, "graphed column sums, round " + std::to_string(round));
    expect_close(peak, max(mc, {0}), 0, 0, "graphed column maxima, round " + std::to_string(round));
    expect_close(sum(x), sum(xc), 1e-5, 1e-3, "eager sum, round " + std::to_string(round));
    expect_close(sum(m, {0}), sum(mc, {0}), 1e-5, 1e-4, "eager column sums, round " + std::to_string(round));
  }
}

TEST(CudaGraph, HostWorkInsideACaptureIsAClearError) {
  SKIP_WITHOUT_GPU();
  const Tensor x = ones({8}).to(kGpu);
  cuda::Graph graph(0);
  EXPECT_THAT(error_of([&] { graph.capture([&] { (void)sum(x).item<float>(); }); }),
              HasSubstr("not allowed while a CUDA graph is being captured"));
  EXPECT_FALSE(graph.captured());
  // Random fills are captured (see below), but from one generator per capture.
  Generator other(1);
  EXPECT_THAT(error_of([&] {
                graph.capture([&] {
                  (void)rand({4}, kFloat32, kGpu);
                  Tensor t = Tensor::empty({4}, kFloat32, kGpu);
                  gpu().uniform(t, 0, 1, other);
                });
              }),
              HasSubstr("uniform: a captured CUDA graph draws from one generator"));
  EXPECT_FALSE(graph.captured());
  // The device works normally afterwards.
  EXPECT_FLOAT_EQ(sum(x).item<float>(), 8.0f);
}

// A captured random fill draws fresh numbers at every replay: the ones that the same fills, run
// uncaptured at that point of the generator's sequence, would draw (on the CPU too). Eager draws
// between replays continue the same sequence.
TEST(CudaGraph, RandomFillsReplayTheGeneratorsSequence) {
  SKIP_WITHOUT_GPU();
  manual_seed(21);
  Tensor u, z, mask;
  const Tensor x = ones({300}).to(kGpu);
  cuda::Graph graph(0);
  graph.capture([&] {
    u = rand({1001}, kFloat32, kGpu);
    z = randn({257}, kFloat64, kGpu);
    mask = dropout(x, 0.25, true);
  });
  EXPECT_EQ(default_generator().philox_offset(), 0u);  // nothing taken by the capture itself
  Generator reference(21);  // the same sequence, drawn on the CPU
  Tensor ru = Tensor::empty({1001}, kFloat32), rz = Tensor::empty({257}, kFloat64), rm = Tensor::empty({300});
  std::vector<float> previous;
  for (int round = 0; round < 4; ++round) {
    graph.replay();
    const std::string r = "round " + std::to_string(round);
    cpu().uniform(ru, 0, 1, reference);
    cpu().normal(rz, 0, 1, reference);
    cpu().bernoulli(rm, 0.75, reference);
    expect_close(u, ru, 0, 0, "captured rand, " + r);
    expect_close(z, rz, 1e-12, 1e-12, "captured randn, " + r);
    expect_close(mask, rm * (1 / 0.75), 1e-7, 0, "captured dropout, " + r);
    const std::vector<float> now = u.to_vector<float>();
    EXPECT_NE(now, previous) << r;
    previous = now;
    // An eager draw in between takes the next offset on both sides.
    expect_close(rand({33}, kFloat32, kGpu), [&] {
      Tensor t = Tensor::empty({33});
      cpu().uniform(t, 0, 1, reference);
      return t;
    }(), 0, 0, "eager rand after " + r);
  }
  EXPECT_EQ(default_generator().philox_offset(), 4u * 4u);
}

// A model with dropout trained with captured steps equals the same model trained eagerly from the
// same seed: each replay's masks are the eager step's.
TEST(CudaGraph, GraphedDropoutTrainingEqualsEager) {
  SKIP_WITHOUT_GPU();
  manual_seed(8);
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < 9; ++i) xs.push_back(randn({16, 12})), ys.push_back(randint(0, 4, {16}));
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Linear>(12, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
        std::make_shared<nn::Linear>(32, 4)});
  };
  auto graphed = make(), eager = make();
  eager->load_state_dict(graphed->state_dict());
  graphed->to(kGpu);
  eager->to(kGpu);
  auto run = [&](nn::Module& model, int64_t warmup) {
    optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
    train::CudaGraphStep step(model, sgd, train::cross_entropy_loss(), warmup);
    manual_seed(100);
    std::vector<float> losses;
    for (size_t i = 0; i < xs.size(); ++i) losses.push_back(step.step(xs[i], ys[i]).loss.item<float>());
    return std::make_pair(losses, step.replays());
  };
  const auto [graphed_losses, replays] = run(*graphed, 2);
  const auto [eager_losses, no_replays] = run(*eager, 1000000);
  EXPECT_EQ(replays, 9 - 2 - 1);
  EXPECT_EQ(no_replays, 0);
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(graphed_losses[i], eager_losses[i], 1e-5) << "step " << i;
  expect_same_parameters(*graphed, *eager, 1e-5);
}

// N graphed SGD-with-momentum steps equal N eager steps of an identical model; the last, smaller
// batch runs eagerly; a learning-rate change re-captures.
TEST(CudaGraph, GraphedTrainingStepsEqualEagerSteps) {
  SKIP_WITHOUT_GPU();
  manual_seed(3);
  auto graphed = small_mlp(), eager = small_mlp();
  eager->load_state_dict(graphed->state_dict());
  graphed->to(kGpu);
  eager->to(kGpu);
  optim::SGD opt_g(graphed->parameters(), optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));
  optim::SGD opt_e(eager->parameters(), optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-4));
  train::CudaGraphStep step(*graphed, opt_g, train::cross_entropy_loss(), /*warmup_steps=*/2);
  train::CudaGraphStep eager_ref(*eager, opt_e, train::cross_entropy_loss(), /*warmup_steps=*/1000000);
  for (int i = 0; i < 12; ++i) {
    const int64_t batch = i == 11 ? 3 : 8;  // the last batch is smaller
    const Tensor x = randn({batch, 3, 4}), y = randint(0, 4, {batch});
    if (i == 8) {
      opt_g.set_lr(0.02);
      opt_e.set_lr(0.02);
    }
    const auto rg = step.step(x, y);
    const auto re = eager_ref.step(x, y);
    EXPECT_NEAR(rg.loss.item<float>(), re.loss.item<float>(), 1e-5) << "step " << i;
    EXPECT_EQ(rg.correct.item<double>(), re.correct.item<double>()) << "step " << i;
  }
  expect_same_parameters(*graphed, *eager, 1e-5);
  EXPECT_EQ(step.captures(), 2);  // once, then again after the lr change
  EXPECT_EQ(step.eager_steps(), 3);
  EXPECT_EQ(step.replays(), 12 - 3 - 2);
  EXPECT_EQ(opt_g.step_count(0, 0), 12);
}

// BatchNorm counts its batches on the device, so a conv + batch-norm model can be captured.
TEST(CudaGraph, ConvBatchNormModelCanBeCaptured) {
  SKIP_WITHOUT_GPU();
  manual_seed(4);
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions(2, 4, 3).padding(Size2(1))), std::make_shared<nn::BatchNorm2d>(4),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::AdaptiveAvgPool2d>(Size2(1)),
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4, 3)});
  };
  auto graphed = make(), eager = make();
  eager->load_state_dict(graphed->state_dict());
  graphed->to(kGpu);
  eager->to(kGpu);
  optim::SGD opt_g(graphed->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  optim::SGD opt_e(eager->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train::CudaGraphStep step(*graphed, opt_g, train::cross_entropy_loss(), 1);
  train::CudaGraphStep eager_ref(*eager, opt_e, train::cross_entropy_loss(), 1000000);
  for (int i = 0; i < 6; ++i) {
    const Tensor x = randn({5, 2, 6, 6}), y = randint(0, 3, {5});
    step.step(x, y);
    eager_ref.step(x, y);
  }
  expect_same_parameters(*graphed, *eager, 1e-5);  // running statistics and num_batches_tracked too
  EXPECT_EQ(step.replays(), 4);
}
