// Trainer metrics without per-step host reads: the epoch loss/accuracy, the progress lines and the
// JSON log of fit() and evaluate() equal a hand-written loop's (bit for bit on the CPU); the
// progress reporter asks for values only when it draws; custom step hooks returning a double still
// work; TrainerOptions::device and the no-GPU errors of --device-like paths and pin_memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "common/error_of.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kSamples = 10, kBatch = 4, kIn = 4, kClasses = 3;

std::shared_ptr<data::TensorDataset> tiny_set(uint64_t seed, int64_t n = kSamples) {
  manual_seed(seed);
  Tensor x = randn({n, kIn});
  Tensor y = randint(0, kClasses, {n});
  return std::make_shared<data::TensorDataset>(x, y);
}

std::shared_ptr<nn::Sequential> tiny_model() {
  manual_seed(7);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(kIn, 5), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(5, kClasses));
}

data::DataLoaderOptions in_order() {
  return data::DataLoaderOptions(kBatch).shuffle(false).prefetch(false);
}

// What fit() reports, computed the obvious way: per batch, loss.item() * n and the hits counted
// on the host, summed in double; the running means after every batch.
struct Reference {
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  std::vector<std::pair<double, double>> running;  // (mean loss, accuracy) after each batch
  train::EvalMetrics test;
};

Reference reference_epoch(const std::shared_ptr<data::TensorDataset>& train_set,
                          const std::shared_ptr<data::TensorDataset>& test_set) {
  auto model = tiny_model();
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.5).momentum(0.9));
  Reference r;
  data::DataLoader loader(train_set, in_order());
  model->train();
  for (const data::Example& b : loader) {
    opt.zero_grad();
    Tensor out = (*model)(b.input);
    Tensor loss = cross_entropy(out, b.target);
    const double value = loss.item<double>();
    loss.backward();
    opt.step();
    const int64_t n = b.input.size(0);
    r.loss_sum += value * n;
    r.correct += train::count_correct(out, b.target);
    r.samples += n;
    r.running.emplace_back(r.loss_sum / r.samples, static_cast<double>(r.correct) / r.samples);
  }
  // Evaluation by hand as well.
  model->eval();
  NoGradGuard no_grad;
  data::DataLoader test_loader(test_set, in_order());
  double loss_sum = 0;
  int64_t correct = 0;
  for (const data::Example& b : test_loader) {
    Tensor out = (*model)(b.input);
    loss_sum += cross_entropy(out, b.target).item<double>() * b.input.size(0);
    correct += train::count_correct(out, b.target);
    r.test.samples += b.input.size(0);
  }
  r.test.loss = loss_sum / r.test.samples;
  r.test.accuracy = static_cast<double>(correct) / r.test.samples;
  return r;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("magmadnn_trainer_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(TrainerMetrics, EpochLossAndAccuracyEqualHandComputedReference) {
  auto train_set = tiny_set(1), test_set = tiny_set(2, 7);
  const Reference ref = reference_epoch(train_set, test_set);
  ASSERT_EQ(ref.samples, kSamples);

  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.5).momentum(0.9));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::Lines;
  o.out = &out;
  o.metrics_log = temp_path("log.jsonl");
  std::filesystem::remove(o.metrics_log);
  train::Trainer trainer(model, opt, o);
  data::DataLoader train_loader(train_set, in_order()), test_loader(test_set, in_order());
  const auto history = trainer.fit(train_loader, &test_loader);
  ASSERT_EQ(history.size(), 1u);
  // Exactly equal: the sums run in float64 in the same order as the host loop.
  EXPECT_EQ(history[0].train_loss, ref.loss_sum / ref.samples);
  EXPECT_EQ(history[0].train_accuracy, static_cast<double>(ref.correct) / ref.samples);
  EXPECT_EQ(history[0].test_loss, ref.test.loss);
  EXPECT_EQ(history[0].test_accuracy, ref.test.accuracy);

  // The JSON line carries the same numbers.
  std::ifstream log(o.metrics_log);
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["train_loss"].get<double>(), history[0].train_loss);
  EXPECT_EQ(j["train_accuracy"].get<double>(), history[0].train_accuracy);
  EXPECT_EQ(j["test_loss"].get<double>(), ref.test.loss);
  std::filesystem::remove(o.metrics_log);

  // Progress lines (3 batches: a line after each) show the running means of the batches so far.
  const std::string text = out.str();
  const std::regex re("batch ([0-9]+)/3 loss ([0-9.]+) acc ([0-9.]+)");
  int lines = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it, ++lines) {
    const size_t b = std::stoul((*it)[1]) - 1;
    ASSERT_LT(b, ref.running.size());
    std::ostringstream want;
    want << std::fixed << std::setprecision(4) << ref.running[b].first << " acc " << std::setprecision(3)
         << ref.running[b].second;
    EXPECT_EQ((*it)[2].str() + " acc " + (*it)[3].str(), want.str()) << "batch " << b + 1;
  }
  EXPECT_EQ(lines, 3) << text;
  std::ostringstream summary;
  summary << std::fixed << "epoch 1/1" << std::setprecision(4) << " train_loss " << ref.loss_sum / ref.samples
          << " train_acc " << static_cast<double>(ref.correct) / ref.samples << " test_loss " << ref.test.loss
          << " test_acc " << ref.test.accuracy;
  EXPECT_THAT(text, HasSubstr(summary.str()));
}

TEST(TrainerMetrics, WithoutAccuracyARegressionReportsLossesOnly) {
  // Two outputs regressed on the MSE: the same loss sums, but no accuracy anywhere.
  manual_seed(8);
  auto set = std::make_shared<data::TensorDataset>(randn({12, 3}), randn({12, 2}));
  auto model = std::make_shared<nn::Linear>(3, 2);
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::Lines;
  o.out = &out;
  o.loss = [](const Tensor& y, const Tensor& t) { return mse_loss(y, t); };
  o.accuracy = false;
  o.metrics_log = temp_path("regression.jsonl");
  std::filesystem::remove(o.metrics_log);
  // The first step's loss, by hand, on a copy of the initial weights.
  Tensor w = model->weight().detach().clone(), b = model->bias().detach().clone();
  data::DataLoader loader(set, data::DataLoaderOptions(4).shuffle(false));
  const double first = mse_loss(add(matmul(set->inputs().slice(0, 0, 4), w.transpose(0, 1)), b),
                                set->targets().slice(0, 0, 4))
                           .item<double>();
  train::Trainer trainer(model, opt, o);
  const auto history = trainer.fit(loader, &loader);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_TRUE(std::isnan(history[0].train_accuracy));
  EXPECT_TRUE(std::isnan(history[0].test_accuracy));
  EXPECT_GT(history[0].train_loss, 0.0);
  const std::string text = out.str();
  EXPECT_THAT(text, Not(HasSubstr("acc")));
  std::ostringstream want;
  want << "batch 1/3 loss " << std::fixed << std::setprecision(4) << first << " ";
  EXPECT_THAT(text, HasSubstr(want.str()));
  std::ifstream log(o.metrics_log);
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_FALSE(j.contains("train_accuracy"));
  EXPECT_FALSE(j.contains("test_accuracy"));
  EXPECT_EQ(j["train_loss"].get<double>(), history[0].train_loss);
  EXPECT_EQ(j["test_loss"].get<double>(), history[0].test_loss);
  std::filesystem::remove(o.metrics_log);
}

TEST(TrainerMetrics, EvaluateEqualsHandComputedReference) {
  auto test_set = tiny_set(3, 9);
  auto model = tiny_model();
  model->eval();
  double loss_sum = 0;
  int64_t correct = 0;
  {
    NoGradGuard no_grad;
    data::DataLoader loader(test_set, in_order());
    for (const data::Example& b : loader) {
      Tensor out = (*model)(b.input);
      loss_sum += cross_entropy(out, b.target).item<double>() * b.input.size(0);
      correct += train::count_correct(out, b.target);
    }
  }
  model->train();
  data::DataLoader loader(test_set, in_order());
  const train::EvalMetrics m = train::evaluate(*model, loader);
  EXPECT_EQ(m.samples, 9);
  EXPECT_EQ(m.loss, loss_sum / 9);
  EXPECT_EQ(m.accuracy, static_cast<double>(correct) / 9);
  EXPECT_TRUE(model->is_training());  // restored
}

TEST(TrainerMetrics, CountCorrectTensorMatchesHostCount) {
  manual_seed(4);
  Tensor logits = randn({6, 3});
  Tensor target = from_vector<int64_t>({0, 1, 2, 2, 1, 0});
  Tensor c = train::count_correct_tensor(logits, target);
  ASSERT_TRUE(c.defined());
  EXPECT_EQ(c.dtype(), kFloat64);
  EXPECT_EQ(c.device(), Device::cpu());
  EXPECT_EQ(c.item<double>(), static_cast<double>(train::count_correct(logits, target)));
  EXPECT_FALSE(train::count_correct_tensor(logits, randn({6})).defined());  // not class labels
  EXPECT_FALSE(train::count_correct_tensor(randn({6}), target).defined());  // not (N, C)
  EXPECT_EQ(train::count_correct_tensor(logits, target.slice(0, 0, 4)).item<double>(),
            static_cast<double>(train::count_correct(logits, target.slice(0, 0, 4))));
}

TEST(TrainerMetrics, StepHookReturningDoubleStillWorks) {
  auto train_set = tiny_set(5);
  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::Lines;
  o.out = &out;
  int calls = 0;
  o.step = [&](const data::Example& b, int64_t* correct) {
    ++calls;
    EXPECT_EQ(b.input.device(), Device::cpu());
    if (correct) *correct = 1;
    return 0.25 * calls;  // 0.25, 0.5, 0.75 for batches of 4, 4, 2
  };
  train::Trainer trainer(model, opt, o);
  data::DataLoader loader(train_set, in_order());
  const auto h = trainer.fit(loader);
  EXPECT_EQ(calls, 3);
  EXPECT_DOUBLE_EQ(h[0].train_loss, (0.25 * 4 + 0.5 * 4 + 0.75 * 2) / 10);
  EXPECT_DOUBLE_EQ(h[0].train_accuracy, 3.0 / 10);
}

TEST(TrainerMetrics, DeviceStepHookIsSummedWithoutHostValues) {
  auto train_set = tiny_set(5);
  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.out = &out;
  int calls = 0;
  o.device_step = [&](const data::Example& b) {
    ++calls;
    // int64 hit counts are accepted as well as float64 ones.
    return train::StepOutput{scalar_tensor(0.25 * calls), from_vector<int64_t>({2}).reshape({})};
  };
  train::Trainer trainer(model, opt, o);
  data::DataLoader loader(train_set, in_order());
  const auto h = trainer.fit(loader);
  EXPECT_EQ(calls, 3);
  EXPECT_DOUBLE_EQ(h[0].train_loss, (0.25 * 4 + 0.5 * 4 + 0.75 * 2) / 10);
  EXPECT_DOUBLE_EQ(h[0].train_accuracy, 6.0 / 10);
  o.step = [](const data::Example&, int64_t*) { return 0.0; };
  EXPECT_THAT(error_of([&] { train::Trainer(model, opt, o); }), HasSubstr("not both"));
}

TEST(TrainerMetrics, CheckpointCarriesTheSumsOfTheUnfinishedEpoch) {
  // Stop after 2 of 3 steps: the checkpoint's sums are those of the first two batches.
  auto train_set = tiny_set(1), test_set = tiny_set(2, 7);
  const Reference ref = reference_epoch(train_set, test_set);
  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.5).momentum(0.9));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.out = &out;
  o.stop_after_steps = 2;
  train::Trainer trainer(model, opt, o);
  data::DataLoader loader(train_set, in_order());
  trainer.fit(loader);
  ASSERT_TRUE(trainer.stopped_early());
  const train::TrainingCheckpoint c = trainer.checkpoint(loader);
  EXPECT_EQ(c.epoch_samples, 8);
  EXPECT_EQ(c.epoch_loss_sum, ref.running[1].first * 8);
  EXPECT_EQ(c.epoch_correct, static_cast<int64_t>(std::llround(ref.running[1].second * 8)));
  // Going on finishes the epoch with the reference's figures.
  o.stop_after_steps = 0;
  train::Trainer resumed(model, opt, o);
  resumed.resume(c);
  data::DataLoader loader2(train_set, in_order());
  const auto h = resumed.fit(loader2);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].train_loss, ref.loss_sum / ref.samples);
  EXPECT_EQ(h[0].train_accuracy, static_cast<double>(ref.correct) / ref.samples);
}

TEST(TrainerMetrics, DivergenceIsAnErrorOnTheCpu) {
  auto train_set = tiny_set(6);
  train_set->set_inputs(full({kSamples, kIn}, std::numeric_limits<double>::quiet_NaN()));
  auto model = std::make_shared<nn::Linear>(kIn, kClasses);  // (a ReLU would turn NaN into 0)
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.out = &out;
  train::Trainer trainer(model, opt, o);
  data::DataLoader loader(train_set, in_order());
  const Tensor before = model->parameters()[0].clone();
  EXPECT_THAT(error_of([&] { trainer.fit(loader); }), HasSubstr("training diverged: loss is nan"));
  EXPECT_TRUE(allclose(model->parameters()[0], before));  // stopped before the first update
}

TEST(TrainerClipGradNorm, StepEqualsAHandWrittenClippedStep) {
  // Large inputs make the first gradient's norm far above the bound, so clipping decides the step.
  auto train_set = tiny_set(8);
  train_set->set_inputs(mul(train_set->inputs(), 50.0));
  const data::Example batch = train_set->get_batch({0, 1, 2, 3});
  const double bound = 0.25;

  auto reference = tiny_model();
  optim::SGD ref_opt(reference->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  ref_opt.zero_grad();
  cross_entropy((*reference)(batch.input), batch.target).backward();
  const double unclipped = nn::utils::clip_grad_norm_(reference->parameters(), bound).item<double>();
  ASSERT_GT(unclipped, 4 * bound);
  ref_opt.step();

  auto model = tiny_model();
  const std::vector<Tensor> before = [&] {
    std::vector<Tensor> v;
    for (const Tensor& p : model->parameters()) v.push_back(p.clone());
    return v;
  }();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.clip_grad_norm = bound;
  train::Trainer trainer(model, opt, o);
  trainer.train_step(batch);
  double step_norm_sq = 0;
  for (size_t k = 0; k < before.size(); ++k) {
    EXPECT_EQ(model->parameters()[k].to_vector<float>(), reference->parameters()[k].to_vector<float>()) << k;
    step_norm_sq += sum(square(sub(model->parameters()[k], before[k]))).item<double>();
  }
  // The first SGD step moves the weights by lr * (clipped gradient): a norm of 0.1 * bound.
  EXPECT_NEAR(std::sqrt(step_norm_sq), 0.1 * bound, 1e-6);

  o.clip_grad_norm = -1;
  EXPECT_THAT(error_of([&] { train::Trainer(model, opt, o); }),
              HasSubstr("Trainer: clip_grad_norm must be finite and >= 0 (0: off), got -1"));
  o.clip_grad_norm = 1;
  o.step = [](const data::Example&, int64_t*) { return 0.0; };
  EXPECT_THAT(error_of([&] { train::Trainer(model, opt, o); }), HasSubstr("a custom step or device_step must clip"));
}

TEST(TrainerAccumulation, GroupsOfBatchesStepLikeTheirConcatenation) {
  // 10 samples in batches of 2 (in order), accumulate 3: groups {0-5}, {6-9} (a short group of
  // two batches, rescaled to its own mean) -> two optimizer steps, like plain steps on the
  // concatenated batches of 6 and 4 samples. Float64 and no dropout, so they agree to rounding.
  auto train_set = tiny_set(12);
  train_set->set_inputs(train_set->inputs().to(kFloat64));
  auto make = [] {
    auto m = tiny_model();
    m->to(kFloat64);
    return m;
  };
  auto reference = make();
  optim::SGD ref_opt(reference->parameters(), optim::SGDOptions(0.2).momentum(0.9));
  for (auto rows : {std::vector<int64_t>{0, 1, 2, 3, 4, 5}, std::vector<int64_t>{6, 7, 8, 9}}) {
    const data::Example b = train_set->get_batch(rows);
    ref_opt.zero_grad();
    cross_entropy((*reference)(b.input), b.target).backward();
    ref_opt.step();
  }

  auto model = make();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.2).momentum(0.9));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.out = &out;
  o.accumulate_steps = 3;
  train::Trainer trainer(model, opt, o);
  std::vector<int64_t> steps_seen;
  trainer.on_step_end([&](int64_t step) { steps_seen.push_back(step); });
  data::DataLoader loader(train_set, data::DataLoaderOptions(2).shuffle(false).prefetch(false));
  const auto history = trainer.fit(loader);
  EXPECT_EQ(trainer.global_step(), 2);
  EXPECT_EQ(steps_seen, (std::vector<int64_t>{1, 2}));
  for (size_t k = 0; k < model->parameters().size(); ++k) {
    const auto got = model->parameters()[k].to_vector<double>(), want = reference->parameters()[k].to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "parameter " << k << "[" << i << "]";
  }
  // The reported epoch loss is the mean of the unscaled batch losses.
  EXPECT_GT(history[0].train_loss, 0.5);

  o.accumulate_steps = 0;
  EXPECT_THAT(error_of([&] { train::Trainer(model, opt, o); }), HasSubstr("accumulate_steps must be at least 1, got 0"));
  o.accumulate_steps = 2;
  o.device_step = [](const data::Example&) { return train::StepOutput{}; };
  EXPECT_THAT(error_of([&] { train::Trainer(model, opt, o); }), HasSubstr("a custom step or device_step must accumulate"));
}

TEST(TrainerAccumulation, NoSyncGuardHeldForAllButTheLastBatchOfAGroup) {
  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  std::ostringstream out;
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  o.out = &out;
  o.accumulate_steps = 2;
  std::vector<int> calls;  // 1 per guard made
  o.no_sync = [&] {
    calls.push_back(1);
    return std::shared_ptr<void>();
  };
  train::Trainer trainer(model, opt, o);
  data::DataLoader loader(tiny_set(3), in_order());  // 10 samples in batches of 4: 3 batches, groups {2, 1}
  trainer.fit(loader);
  EXPECT_EQ(calls.size(), 1u);  // only the first batch of the first group
  EXPECT_EQ(trainer.global_step(), 2);
}

TEST(TrainerDevice, DefaultsToTheModelsDeviceAndRejectsAMissingGpu) {
  auto model = tiny_model();
  auto opt = std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions(0.1));
  train::TrainerOptions o;
  o.progress = train::ProgressMode::None;
  EXPECT_EQ(train::Trainer(model, opt, o).device(), Device::cpu());
  EXPECT_EQ(train::module_device(nn::ReLU()), Device::cpu());  // no tensors at all
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  std::ostringstream out;
  o.out = &out;
  o.device = Device::cuda(0);
  train::Trainer trainer(model, opt, o);
  EXPECT_EQ(trainer.device(), Device::cuda(0));
  data::DataLoader loader(tiny_set(1), in_order());
  EXPECT_THAT(error_of([&] { trainer.fit(loader); }), HasSubstr("no CUDA device: "));
}

TEST(TrainerDevice, ToDeviceKeepsTensorsAlreadyThere) {
  data::Example e{ones({2, 3}), from_vector<int64_t>({1, 0})};
  const data::Example moved = train::to_device(e, Device::cpu());
  EXPECT_TRUE(moved.input.shares_storage(e.input));
  EXPECT_TRUE(moved.target.shares_storage(e.target));
  EXPECT_FALSE(train::to_device(data::Example{ones({1}), Tensor()}, Device::cpu()).target.defined());
}

TEST(ProgressReporter, ReadsValuesOnlyWhenItDraws) {
  std::ostringstream out;
  train::ProgressReporter lines(train::ProgressMode::Lines, out);
  lines.start_epoch(1, 1, 10);
  int reads = 0;
  for (int64_t b = 1; b <= 10; ++b)
    lines.update(b, b * 4, [&] {
      ++reads;
      return train::ProgressReporter::Values{1.0 / b, 0.5};
    });
  EXPECT_EQ(reads, 5);  // batches 2, 4, 6, 8, 10
  EXPECT_THAT(out.str(), HasSubstr("batch 10/10 loss 0.1000 acc 0.500"));

  train::ProgressReporter none(train::ProgressMode::None, out);
  none.start_epoch(1, 1, 10);
  reads = 0;
  for (int64_t b = 1; b <= 10; ++b)
    none.update(b, b, [&] {
      ++reads;
      return train::ProgressReporter::Values{};
    });
  EXPECT_EQ(reads, 0);

  // A bar redraws at most ~10 times a second, and always at the last batch.
  std::ostringstream bar_out;
  train::ProgressReporter bar(train::ProgressMode::Bar, bar_out);
  bar.start_epoch(1, 1, 1000);
  reads = 0;
  for (int64_t b = 1; b <= 1000; ++b)
    bar.update(b, b, [&] {
      ++reads;
      return train::ProgressReporter::Values{};
    });
  EXPECT_GE(reads, 1);
  EXPECT_LT(reads, 50);
}

TEST(PinMemory, WithoutAGpuIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  auto ds = tiny_set(1);
  const std::string e = error_of([&] { data::DataLoader(ds, data::DataLoaderOptions(4).pin_memory(true)); });
  EXPECT_THAT(e, HasSubstr("DataLoader: pin_memory(true) needs a CUDA device: no CUDA device: "));
  if (!cuda::is_built()) EXPECT_THAT(e, HasSubstr("this build of MagmaDNN has no CUDA backend"));
  EXPECT_THAT(error_of([] { cuda::pinned_host_allocator(); }), HasSubstr("no CUDA device: "));
}

TEST(PinMemory, OffByDefaultAndBatchesUnchanged) {
  auto ds = tiny_set(1);
  EXPECT_FALSE(data::DataLoaderOptions().pin_memory());
  data::DataLoader a(ds, data::DataLoaderOptions(4).shuffle(false));
  data::DataLoader b(ds, data::DataLoaderOptions(4).shuffle(false).pin_memory(false));
  auto ia = a.begin();
  auto ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    EXPECT_TRUE(allclose(ia->input, ib->input));
    EXPECT_EQ(ia->target.to_vector<int64_t>(), ib->target.to_vector<int64_t>());
  }
}

}  // namespace
}  // namespace magmadnn
