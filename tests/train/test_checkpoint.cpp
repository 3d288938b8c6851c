// Full training checkpoints: the generator's state round trip, the file format and its errors, and
// resume equivalence — K steps uninterrupted against a run that crashes after a checkpoint and
// is resumed by fresh objects, compared exactly (mid-epoch, at an epoch end, before evaluation,
// with dropout, Adam, a per-step OneCycleLR and an epoch StepLR).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/train/checkpoint.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn {
namespace {

using testing::error_of;

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("magmadnn_ckpt_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Generator, StateRoundTrip) {
  Generator g(42);
  g.next_u64();
  const std::string s = g.state();
  std::vector<uint64_t> a;
  for (int i = 0; i < 5; ++i) a.push_back(g.next_u64());
  Generator h(7);
  h.set_state(s);
  EXPECT_EQ(h.initial_seed(), 42u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.next_u64(), a[i]);
  EXPECT_NE(error_of([&] { h.set_state("garbage"); }).find("Generator::set_state"), std::string::npos);
  EXPECT_EQ(h.initial_seed(), 42u);  // unchanged by the failed set_state
}

// One training setup built from scratch, as a fresh process would.
struct TrainingRun {
  std::shared_ptr<nn::Sequential> model;
  std::shared_ptr<optim::Adam> opt;
  std::shared_ptr<optim::OneCycleLR> one_cycle;
  std::shared_ptr<optim::StepLR> step_lr;
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  std::unique_ptr<train::Trainer> trainer;
  std::ostringstream out;

  static constexpr int64_t kEpochs = 3;

  explicit TrainingRun(train::TrainerOptions opts) {
    manual_seed(123);
    Tensor x = randn({100, 8});
    Tensor y = randint(0, 3, {100});
    auto train_set = std::make_shared<data::TensorDataset>(x, y);
    auto test_set = std::make_shared<data::TensorDataset>(randn({40, 8}), randint(0, 3, {40}));
    model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(8, 16),
                                             std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.3),
                                             std::make_shared<nn::Linear>(16, 3));
    opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions(0.01));
    // Seeded from the default generator (no .seed()), so resume must restore the loader's seed.
    train_loader = std::make_unique<data::DataLoader>(train_set, data::DataLoaderOptions(16).shuffle(true));
    test_loader = std::make_unique<data::DataLoader>(test_set, data::DataLoaderOptions(20).shuffle(false));
    one_cycle = std::make_shared<optim::OneCycleLR>(*opt, 0.02, kEpochs * train_loader->num_batches());
    step_lr = std::make_shared<optim::StepLR>(*opt, 1, 0.5);
    opts.epochs = kEpochs;
    opts.progress = train::ProgressMode::None;
    opts.out = &out;
    opts.checkpoint_metadata["batch_size"] = "16";
    trainer = std::make_unique<train::Trainer>(model, opt, opts);
    trainer->track("onecycle", *one_cycle);
    trainer->track("steplr", *step_lr);
    trainer->on_step_end([this](int64_t) { one_cycle->step(); });
    trainer->on_epoch_end([this](const train::EpochMetrics&) {
      step_lr->step();
      return true;
    });
  }
  std::vector<train::EpochMetrics> fit() { return trainer->fit(*train_loader, test_loader.get()); }
};

struct Crash {};

void expect_same_params(nn::Module& a, nn::Module& b) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [k, v] : sa) EXPECT_EQ(v.to_vector<float>(), sb.at(k).to_vector<float>()) << k;
}

void expect_same_epoch(const train::EpochMetrics& a, const train::EpochMetrics& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_DOUBLE_EQ(a.train_loss, b.train_loss);
  EXPECT_DOUBLE_EQ(a.train_accuracy, b.train_accuracy);
  EXPECT_DOUBLE_EQ(a.test_loss, b.test_loss);
  EXPECT_DOUBLE_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_DOUBLE_EQ(a.lr, b.lr);
}

// crash_after: the run writes a checkpoint after every step and crashes in the next one
// (7 batches per epoch: 3 is mid-epoch 1, 7 is the end of epoch 1, 10 is mid-epoch 2).
// crash_in_eval: it crashes instead in epoch 2's evaluation, after the step-14 checkpoint.
void check_resume(int64_t crash_after, bool crash_in_eval) {
  TrainingRun reference{train::TrainerOptions()};
  const auto expected = reference.fit();
  ASSERT_EQ(expected.size(), 3u);

  const std::string path =
      temp_path("resume_" + std::to_string(crash_after) + (crash_in_eval ? "_eval" : ""));
  {
    train::TrainerOptions o;
    o.checkpoint_path = path;
    o.checkpoint_every_steps = 1;
    int evaluations = 0;
    TrainingRun* self = nullptr;
    if (crash_in_eval)
      o.evaluate = [&] {
        if (++evaluations == 2) throw Crash{};
        return train::evaluate(*self->model, *self->test_loader);
      };
    TrainingRun crashing(o);
    self = &crashing;
    if (!crash_in_eval)
      crashing.trainer->on_step_end([&](int64_t step) {
        if (step == crash_after + 1) throw Crash{};
      });
    EXPECT_THROW(crashing.fit(), Crash);
  }
  TrainingRun resumed{train::TrainerOptions()};
  resumed.trainer->resume(path);
  const auto got = resumed.fit();
  expect_same_params(*reference.model, *resumed.model);
  ASSERT_FALSE(got.empty());
  for (const auto& m : got) expect_same_epoch(expected[m.epoch - 1], m);
  EXPECT_EQ(resumed.trainer->global_step(), reference.trainer->global_step());
  std::filesystem::remove(path);
}

TEST(TrainingCheckpoint, ResumeMidEpochOne) {
  check_resume(3, false);
}
TEST(TrainingCheckpoint, ResumeAtEpochEnd) {
  check_resume(7, false);
}
TEST(TrainingCheckpoint, ResumeMidEpochTwo) {
  check_resume(10, false);
}
TEST(TrainingCheckpoint, ResumeBeforeEvaluation) {
  check_resume(0, true);
}

// Time-based checkpoints (a tiny interval: after every step) and stop_after_steps, which writes
// a checkpoint at the stop and leaves the epoch unfinished.
TEST(TrainingCheckpoint, EveryMinutesAndStopAfterSteps) {
  const std::string path = temp_path("minutes");
  train::TrainerOptions o;
  o.checkpoint_path = path;
  o.checkpoint_every_minutes = 1e-12;
  o.checkpoint_at_epoch_end = false;
  o.stop_after_steps = 5;
  TrainingRun run(o);
  int64_t files = 0;
  run.trainer->on_step_end([&](int64_t) { files += std::filesystem::exists(path); });
  EXPECT_TRUE(run.fit().empty());  // stopped inside epoch 1
  EXPECT_TRUE(run.trainer->stopped_early());
  EXPECT_EQ(files, 4);  // written after steps 1..4 (seen at steps 2..5)
  const auto c = train::load_training_checkpoint(path);
  EXPECT_EQ(c.global_step, 5);
  EXPECT_EQ(c.epochs_completed, 0);
  EXPECT_EQ(c.batches_in_epoch, 5);
  std::filesystem::remove(path);
}

TEST(TrainingCheckpoint, FileRoundTripAndErrors) {
  train::TrainingCheckpoint c;
  c.model["w"] = from_vector<float>({1, 2, 3});
  c.optimizer["group.0.lr"] = from_vector<double>({0.1});
  c.states["sched"]["last_epoch"] = from_vector<double>({2});
  c.loader["epoch"] = from_vector<int64_t>({1});
  c.epochs_completed = 1;
  c.batches_in_epoch = 4;
  c.global_step = 11;
  c.epoch_loss_sum = 2.5;
  c.rng_state = default_generator().state();
  c.metadata["model"] = "mlp";
  const std::string path = temp_path("roundtrip");
  train::save_training_checkpoint(path, c);
  const auto d = train::load_training_checkpoint(path);
  EXPECT_EQ(d.model.at("w").to_vector<float>(), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(d.states.at("sched").at("last_epoch").to_vector<double>()[0], 2);
  EXPECT_EQ(d.loader.at("epoch").to_vector<int64_t>()[0], 1);
  EXPECT_EQ(d.global_step, 11);
  EXPECT_EQ(d.batches_in_epoch, 4);
  EXPECT_DOUBLE_EQ(d.epoch_loss_sum, 2.5);
  EXPECT_EQ(d.rng_state, c.rng_state);
  EXPECT_EQ(d.metadata.at("model"), "mlp");

  // Weights only (not a training checkpoint), truncated file: one clear error each.
  const std::string weights = temp_path("weights");
  io::save_safetensors(weights, {{"w", from_vector<float>({1})}});
  EXPECT_NE(
      error_of([&] { train::load_training_checkpoint(weights); }).find("not a MagmaDNN training checkpoint"),
      std::string::npos);
  const std::string bytes = read_bytes(path);
  const std::string truncated = temp_path("truncated");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_NE(error_of([&] { train::load_training_checkpoint(truncated); }).find(truncated), std::string::npos);

  // A failed save (bad state name) leaves the existing file as it was.
  c.states["bad.name"] = {};
  EXPECT_NE(error_of([&] { train::save_training_checkpoint(path, c); }).find("bad.name"), std::string::npos);
  EXPECT_EQ(read_bytes(path), bytes);
  for (const auto& p : {path, weights, truncated}) std::filesystem::remove(p);
}

TEST(TrainingCheckpoint, ResumeRejectsMismatches) {
  const std::string path = temp_path("mismatch");
  {
    train::TrainerOptions o;
    o.checkpoint_path = path;
    o.checkpoint_every_steps = 2;
    TrainingRun run(o);
    run.trainer->on_step_end([](int64_t step) {
      if (step == 3) throw Crash{};
    });
    EXPECT_THROW(run.fit(), Crash);
  }
  // Another batch size recorded: refused, and the model is left untouched.
  train::TrainerOptions o;
  TrainingRun other(o);
  other.trainer.reset();
  o.epochs = TrainingRun::kEpochs;
  o.checkpoint_metadata["batch_size"] = "32";
  train::Trainer t(other.model, other.opt, o);
  t.track("onecycle", *other.one_cycle);
  t.track("steplr", *other.step_lr);
  const auto before = other.model->state_dict().at("0.weight").to_vector<float>();
  const std::string e = error_of([&] { t.resume(path); });
  EXPECT_NE(e.find("batch_size 16 (this run: 32)"), std::string::npos) << e;
  EXPECT_EQ(other.model->state_dict().at("0.weight").to_vector<float>(), before);

  // Another model: the mismatching names are listed; an untracked scheduler is reported.
  auto bigger = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(8, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 3));
  auto opt = std::make_shared<optim::SGD>(bigger->parameters(), optim::SGDOptions(0.1));
  train::TrainerOptions o2;
  o2.epochs = 3;
  train::Trainer t2(bigger, opt, o2);
  const std::string e2 = error_of([&] { t2.resume(path); });
  EXPECT_NE(e2.find("model: "), std::string::npos) << e2;
  EXPECT_NE(e2.find("state 'onecycle' that this run does not use"), std::string::npos) << e2;
  // A key recorded in the checkpoint that this run does not set (an optional flag left out).
  EXPECT_NE(e2.find("batch_size 16 (this run: none)"), std::string::npos) << e2;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace magmadnn
