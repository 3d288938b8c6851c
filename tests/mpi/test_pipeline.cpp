// Pipeline (GPipe) under mpirun: with one stage per rank, several SGD steps give every stage the
// parameters of single-process training with the same batch (MLP and CNN; 1, 2 and 4
// micro-batches, uneven micro-batches, given split points), the same losses, the same inference
// output; the gathered state dict is the whole model's; bad models and batches fail clearly.
#include <gmock/gmock.h>

#include <cmath>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;
using magmadnn::testing::error_of;

namespace {
dist::ProcessGroup& pg() {
  return *mpi_test::group();
}

std::shared_ptr<nn::Sequential> make_mlp() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(16, 8), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(8, 3));
}
std::shared_ptr<nn::Sequential> make_cnn() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3)),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                                          std::make_shared<nn::Flatten>(),
                                          std::make_shared<nn::Linear>(4 * 3 * 3, 3));
}

struct Run {
  std::map<std::string, Tensor> state;  // the whole model's (single process) or this stage's
  std::map<std::string, Tensor> gathered;
  std::vector<float> losses;
};

// clip > 0: gradients clipped to that total 2-norm before each step (over all stages for a pipeline).
Run train(const std::function<std::shared_ptr<nn::Sequential>()>& make, const Shape& sample, int64_t B,
          int steps, std::optional<dist::PipelineOptions> pipe_options, double clip = 0) {
  manual_seed(100);
  auto model = make();
  std::unique_ptr<dist::Pipeline> pipe;
  if (pipe_options) pipe = std::make_unique<dist::Pipeline>(model, mpi_test::group(), *pipe_options);
  auto params = pipe ? pipe->parameters() : model->parameters();
  std::unique_ptr<optim::SGD> opt;
  if (!params.empty()) opt = std::make_unique<optim::SGD>(params, optim::SGDOptions(0.1).momentum(0.9));
  Run run;
  manual_seed(5);
  for (int s = 0; s < steps; ++s) {
    std::vector<int64_t> dims{B};
    dims.insert(dims.end(), sample.begin(), sample.end());
    Tensor x = randn(Shape(dims));
    Tensor y = randint(0, 3, {B});
    if (opt) opt->zero_grad();
    if (pipe) {
      // Only the first stage needs x and only the last y.
      run.losses.push_back(
          pipe->train_step(pipe->is_first_stage() ? x : Tensor(), pipe->is_last_stage() ? y : Tensor()));
    } else {
      Tensor loss = cross_entropy(model->forward(x), y);
      run.losses.push_back(loss.item<float>());
      loss.backward();
    }
    if (clip > 0) {
      if (pipe)
        nn::utils::clip_grad_norm_(params, clip, 2.0, false,
                                   [](Tensor& partial) { pg().all_reduce(partial, dist::ReduceOp::Sum); });
      else
        nn::utils::clip_grad_norm_(params, clip);
    }
    if (opt) opt->step();
  }
  if (pipe) {
    for (auto& [k, v] : pipe->stage_state_dict()) run.state.emplace(k, v.clone());
    run.gathered = pipe->gather_state_dict(0);
  } else {
    for (auto& [k, v] : model->state_dict()) run.state.emplace(k, v.clone());
  }
  return run;
}

Run single_process_clipped() { return train(make_mlp, {6}, 12, 3, std::nullopt, 0.05); }

void expect_close(const Tensor& a, const Tensor& b, double rel, const std::string& what) {
  auto u = a.contiguous().to(kFloat32).to_vector<float>(), v = b.contiguous().to(kFloat32).to_vector<float>();
  ASSERT_EQ(u.size(), v.size()) << what;
  for (size_t i = 0; i < u.size(); ++i)
    ASSERT_NEAR(u[i], v[i], rel * std::max(1.0f, std::fabs(v[i]))) << what << " element " << i;
}

void check_equivalence(const std::function<std::shared_ptr<nn::Sequential>()>& make, const Shape& sample,
                       int64_t B, const dist::PipelineOptions& options, double clip = 0) {
  const int steps = 3;
  Run ref = train(make, sample, B, steps, std::nullopt, clip);
  Run got = train(make, sample, B, steps, options, clip);
  ASSERT_EQ(got.losses.size(), ref.losses.size());
  for (size_t s = 0; s < ref.losses.size(); ++s)
    EXPECT_NEAR(got.losses[s], ref.losses[s], 1e-5) << "step " << s;
  for (auto& [k, v] : got.state) {
    ASSERT_TRUE(ref.state.count(k)) << k;
    expect_close(v, ref.state.at(k), 1e-5, "stage " + std::to_string(pg().rank()) + " " + k);
  }
  if (pg().rank() == 0) {
    ASSERT_EQ(got.gathered.size(), ref.state.size());
    for (auto& [k, v] : ref.state) {
      ASSERT_TRUE(got.gathered.count(k)) << k;
      expect_close(got.gathered.at(k), v, 1e-5, "gathered " + k);
    }
  } else {
    EXPECT_TRUE(got.gathered.empty());
  }
}
}  // namespace

TEST(Pipeline, MlpMatchesSingleProcessForSeveralMicroBatchCounts) {
  for (int64_t mb : {1, 2, 4}) {
    SCOPED_TRACE("micro-batches " + std::to_string(mb));
    check_equivalence(make_mlp, {6}, 12, dist::PipelineOptions().micro_batches(mb));
  }
}

TEST(Pipeline, ClippingOverAllStagesMatchesSingleProcess) {
  // A bound far below the gradients' norm: every step is clipped, by the norm of the whole model.
  check_equivalence(make_mlp, {6}, 12, dist::PipelineOptions().micro_batches(3), /*clip=*/0.05);
  // Without the stages' sums combined, a stage would clip by its own norm: the weights differ.
  if (pg().size() > 1) {
    const auto ref = single_process_clipped();
    manual_seed(100);
    auto model = make_mlp();
    dist::Pipeline pipe(model, mpi_test::group(), dist::PipelineOptions().micro_batches(3));
    auto params = pipe.parameters();
    double differs = 0;
    if (!params.empty()) {
      optim::SGD opt(params, optim::SGDOptions(0.1).momentum(0.9));
      manual_seed(5);
      for (int s = 0; s < 3; ++s) {
        Tensor x = randn({12, 6}), y = randint(0, 3, {12});
        opt.zero_grad();
        pipe.train_step(pipe.is_first_stage() ? x : Tensor(), pipe.is_last_stage() ? y : Tensor());
        nn::utils::clip_grad_norm_(params, 0.05);  // local norm only
        opt.step();
      }
      for (auto& [k, v] : pipe.stage_state_dict())
        differs = std::max(differs, magmadnn::max(abs(sub(v, ref.state.at(k)))).item<double>());
      EXPECT_GT(differs, 1e-4) << "stage " << pg().rank();
    }
  }
}

TEST(Pipeline, CnnMatchesSingleProcessForSeveralMicroBatchCounts) {
  for (int64_t mb : {1, 2, 4}) {
    SCOPED_TRACE("micro-batches " + std::to_string(mb));
    check_equivalence(make_cnn, {1, 8, 8}, 8, dist::PipelineOptions().micro_batches(mb));
  }
}

TEST(Pipeline, UnevenMicroBatchesAndGivenSplitPoints) {
  check_equivalence(make_mlp, {6}, 10, dist::PipelineOptions().micro_batches(4));  // 3, 3, 2, 2
  std::vector<size_t> splits = pg().size() == 2 ? std::vector<size_t>{3} : std::vector<size_t>{1, 4};
  if (pg().size() <= 3)
    check_equivalence(make_cnn, {1, 8, 8}, 6, dist::PipelineOptions().micro_batches(2).split_points(splits));
}

TEST(Pipeline, StagesCoverTheModelInOrder) {
  manual_seed(1);
  auto model = make_mlp();
  dist::Pipeline pipe(model, mpi_test::group());
  EXPECT_EQ(pipe.num_stages(), pg().size());
  EXPECT_EQ(pipe.stage_index(), pg().rank());
  size_t next = 0;
  for (int s = 0; s < pipe.num_stages(); ++s) {
    auto [b, e] = pipe.stage_range(s);
    EXPECT_EQ(b, next);
    EXPECT_LT(b, e);
    next = e;
  }
  EXPECT_EQ(next, model->size());
  // Balanced by parameters: 112 | 136 | 27 (+ parameterless ReLUs) has no better split than the largest
  // alone.
  auto splits = dist::Pipeline::balance_by_parameters(*model, 3);
  EXPECT_EQ(splits, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(dist::Pipeline::balance_by_parameters(*model, 1), std::vector<size_t>{});
}

TEST(Pipeline, InferenceMatchesTheWholeModel) {
  manual_seed(100);
  auto reference = make_cnn();
  manual_seed(100);
  auto model = make_cnn();
  dist::Pipeline pipe(model, mpi_test::group(), dist::PipelineOptions().micro_batches(3));
  manual_seed(9);
  Tensor x = randn({7, 1, 8, 8});
  Tensor out = pipe.forward(pipe.is_first_stage() ? x : Tensor());
  if (pipe.is_last_stage()) {
    NoGradGuard g;
    expect_close(out, reference->forward(x), 1e-6, "inference output");
  } else {
    EXPECT_FALSE(out.defined());
  }
}

TEST(Pipeline, GatheredStateDictLoadsIntoAFreshPipelineAndTheWholeModel) {
  manual_seed(100);
  dist::Pipeline pipe(make_cnn(), mpi_test::group(), dist::PipelineOptions().micro_batches(2));
  std::unique_ptr<optim::SGD> opt;
  if (!pipe.parameters().empty())
    opt = std::make_unique<optim::SGD>(pipe.parameters(), optim::SGDOptions(0.1));
  manual_seed(6);
  Tensor x = randn({4, 1, 8, 8}), y = randint(0, 3, {4});
  pipe.train_step(x, y);
  if (opt) opt->step();
  // Rank 0 gathers (as for a checkpoint) and hands the whole state dict to everyone, as if every
  // rank read the checkpoint file.
  auto gathered = pipe.gather_state_dict(0);
  manual_seed(200);  // a different initialisation, overwritten by the load
  auto whole = make_cnn();
  if (pg().rank() == 0) whole->load_state_dict(gathered);
  for (auto& [k, v] : whole->state_dict()) {
    Tensor t = v.contiguous().clone();
    pg().broadcast(t, 0);
    NoGradGuard g;
    v.copy_(t);
  }
  manual_seed(300);
  dist::Pipeline fresh(make_cnn(), mpi_test::group(), dist::PipelineOptions().micro_batches(2));
  fresh.load_state_dict(whole->state_dict());
  auto a = pipe.stage_state_dict(), b = fresh.stage_state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (auto& [k, v] : a) expect_close(b.at(k), v, 0, k);
  std::map<std::string, Tensor> missing = whole->state_dict();
  missing.erase(std::to_string(pipe.stage_range(pg().rank()).first) + ".weight");
  const bool has_weight = !(*pipe.stage())[0]->named_parameters().empty();
  if (has_weight) EXPECT_THROW(fresh.load_state_dict(missing), Error);
}

TEST(Pipeline, ClearErrors) {
  const int S = pg().size();
  auto tiny = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 2));
  EXPECT_EQ(
      error_of([&] { dist::Pipeline(tiny, mpi_test::group()); }),
      "Pipeline: the model has 1 modules, fewer than the " + std::to_string(S) + " stages (one per rank)");
  manual_seed(1);
  dist::Pipeline pipe(make_mlp(), mpi_test::group(), dist::PipelineOptions().micro_batches(4));
  Tensor x = randn({3, 6}), y = randint(0, 3, {3});
  // Every rank reports the same error (no rank is left waiting).
  EXPECT_EQ(error_of([&] { pipe.train_step(x, y); }),
            "Pipeline::train_step: a batch of 3 samples cannot be cut into 4 micro-batches");
  EXPECT_EQ(error_of([&] {
              pipe.train_step(randn({8, 6}), randint(0, 3, {6}));
            }),
            "Pipeline::train_step: the input batch has 8 samples but the targets have 6");
  EXPECT_EQ(error_of([&] {
              dist::Pipeline(make_mlp(), mpi_test::group(), dist::PipelineOptions().split_points({9}));
            }),
            S == 2 ? "Pipeline: split points must be strictly increasing in (0, 5), got 9 after 0"
                   : "Pipeline: " + std::to_string(S) + " stages need " + std::to_string(S - 1) +
                         " split points, got 1");
  // The pipeline still works after the errors.
  float loss = pipe.train_step(randn({8, 6}), randint(0, 3, {8}));
  EXPECT_TRUE(std::isfinite(loss));
}

MPI_TEST_MAIN
