// The magmadnn CLI's subcommands: train, eval, bench, info (predict: predict.cpp).
#include "cli/commands.h"
#include "cli/distributed.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "magmadnn/backend/cuda.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/nn/fusion.h"
#include "magmadnn/train/cuda_graph_step.h"

namespace magmadnn::cli {

namespace {

using nlohmann::json;


// --cuda-graph's conditions that the arguments alone decide (the model and optimizer are checked
// by CudaGraphStep).
void check_cuda_graph_args(const CommonArgs& a, Device device) {
  MAGMADNN_CHECK(device.is_cuda(), "--cuda-graph needs --device cuda, got --device ", a.device);
}

// Waits for the work queued on `device` (nothing to wait for on the CPU): timings end here.
void wait_for(Device device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

// Loader options for batches bound for `device`: page-locked host batches for a CUDA device, so
// their copies to it run asynchronously (data/dataloader.h pin_memory).
data::DataLoaderOptions for_device(data::DataLoaderOptions o, Device device) {
  return o.pin_memory(device.is_cuda());
}



// Peak resident memory of this process in MB (VmHWM), or -1 where /proc is not available.
double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}


// The epoch with the lowest validation loss so far and the epochs since (--save-best,
// --early-stopping), as checkpoint state.
struct BestEpoch {
  double loss = std::numeric_limits<double>::infinity();
  double accuracy = 0;
  int64_t epoch = 0;
  int64_t epochs_since = 0;

  train::StateDict state_dict() const {
    return {{"loss", full({}, loss, kFloat64)}, {"accuracy", full({}, accuracy, kFloat64)},
            {"epoch", full({}, static_cast<double>(epoch), kInt64)},
            {"epochs_since", full({}, static_cast<double>(epochs_since), kInt64)}};
  }
  void load(const train::StateDict& s) {
    auto get = [&](const char* key) {
      auto it = s.find(key);
      MAGMADNN_CHECK(it != s.end() && it->second.numel() == 1, "checkpoint state 'best': missing or bad '", key, "'");
      return it->second.to(kFloat64).item<double>();
    };
    *this = BestEpoch{get("loss"), get("accuracy"), static_cast<int64_t>(get("epoch")),
                      static_cast<int64_t>(get("epochs_since"))};
  }
};

int train(const TrainArgs& a, DistributedRun& dist, Device device) {
  MAGMADNN_CHECK(a.val_fraction > 0 || (a.early_stopping == 0 && a.save_best.empty()),
                 "--early-stopping and --save-best choose by the validation loss: they need --val-fraction "
                 "(choosing on the test set would overstate the test accuracy)");
  for (const auto& [flag, file] :
       {std::pair{"--save", a.save}, {"--checkpoint", a.checkpoint}, {"--save-best", a.save_best}}) {
    if (file.empty()) continue;  // fail now, not after hours of training
    const auto parent = std::filesystem::absolute(file).parent_path();
    MAGMADNN_CHECK(std::filesystem::is_directory(parent), flag, " ", file, ": folder ", parent.string(),
                   " does not exist");
  }
  const std::string dir = data_dir(a);
  auto train_set = load_split(a, dir, /*train=*/true);
  auto test_set = load_split(a, dir, /*train=*/false);
  // --val-fraction: the per-epoch evaluation runs on a held-out part of the training set.
  std::shared_ptr<data::TensorDataset> val_set;
  if (a.val_fraction > 0) std::tie(train_set, val_set) = data::random_split(*train_set, a.val_fraction, a.seed, "--val-fraction");
  std::ostream null_out(nullptr);  // ranks other than 0 print nothing
  std::ostream& out = dist.is_root() ? std::cout : null_out;
  out << "magmadnn " << version() << ": training " << a.model << " on " << a.dataset << " (" << train_set->size()
      << " train / " << (val_set ? std::to_string(val_set->size()) + " validation / " : "") << test_set->size()
      << " test samples from " << dir << "), "
      << (device.is_cpu() ? std::to_string(get_num_threads()) + " threads" : "on " + device.str())
      << dist.describe() << std::endl;
  if (const std::string task = describe_task(a.dataset); !task.empty()) out << "task: " << task << std::endl;

  // Built (and seeded) on the CPU whatever the device, then moved: the same initial weights
  // everywhere. The optimizer is created over the moved parameters.
  const models::ModelConfig config = config_for_dataset(a.dataset);
  const bool regression = is_regression(a.dataset);
  auto model = make_model_for(a.model, a.dataset);
  model->to(device);
  auto train_model = dist.wrap(model);
  auto optimizer = make_optimizer(a, dist.parameters(*model));
  const auto augmentation = data::parse_augmentation(a.augment, config.height, config.width);
  if (augmentation) out << "augmenting the training images: " << augmentation->describe() << std::endl;
  if (a.accumulate_grad_batches > 1)
    out << "accumulating the gradients of " << a.accumulate_grad_batches << " batches: steps of "
        << a.accumulate_grad_batches * a.batch_size << " samples" << std::endl;
  data::DataLoader train_loader(train_set, for_device(dist.train_loader_options(), device).augment(augmentation));
  data::DataLoader test_loader(test_set, for_device(data::DataLoaderOptions(1000).shuffle(false), device));
  std::unique_ptr<data::DataLoader> val_loader;
  if (val_set)
    val_loader = std::make_unique<data::DataLoader>(val_set, for_device(data::DataLoaderOptions(1000).shuffle(false), device));
  data::DataLoader& eval_loader = val_loader ? *val_loader : test_loader;  // per epoch

  train::TrainerOptions opts;
  opts.epochs = a.epochs;
  opts.device = device;
  opts.progress = dist.is_root() ? train::parse_progress_mode(a.progress) : train::ProgressMode::None;
  opts.out = &out;
  opts.metrics_log = dist.is_root() ? a.log : "";
  opts.max_batches = a.max_batches;
  opts.clip_grad_norm = a.distributed == "pipeline" ? 0 : a.clip_grad_norm;  // a pipeline step clips itself
  opts.accumulate_steps = a.accumulate_grad_batches;
  if (val_set) opts.eval_name = "val";
  if (auto ddp = std::dynamic_pointer_cast<dist::DistributedDataParallel>(train_model))
    opts.no_sync = [ddp] { return std::make_shared<dist::DistributedDataParallel::NoSyncGuard>(*ddp); };
  opts.checkpoint_path = a.checkpoint;
  opts.checkpoint_every_steps = a.checkpoint_every;
  opts.checkpoint_every_minutes = a.checkpoint_minutes;
  opts.write_checkpoints = dist.is_root();
  opts.checkpoint_module = model;  // the same file with or without the DDP wrapper
  opts.stop_after_steps = a.stop_after_steps;
  // A resumed run must see the same batches and build the same state.
  opts.checkpoint_metadata = {{"model", a.model},         {"dataset", a.dataset},
                              {"batch_size", std::to_string(a.batch_size)}, {"optimizer", a.optimizer},
                              {"scheduler", a.scheduler}, {"distributed", a.distributed},
                              {"world_size", std::to_string(dist.world_size())},
                              {"max_batches", std::to_string(a.max_batches)}};
  if (a.sync_batchnorm) opts.checkpoint_metadata["sync_batchnorm"] = "true";  // absent before the flag existed
  if (augmentation) opts.checkpoint_metadata["augment"] = augmentation->describe();
  if (val_set) {
    std::ostringstream v;
    v << a.val_fraction;
    opts.checkpoint_metadata["val_fraction"] = v.str();
  }
  if (a.accumulate_grad_batches > 1) {
    MAGMADNN_CHECK(a.distributed != "pipeline", "--accumulate-grad-batches does not combine with --distributed ",
                   "pipeline (use more --micro-batches there)");
    MAGMADNN_CHECK(!a.cuda_graph, "--accumulate-grad-batches does not combine with --cuda-graph yet");
    opts.checkpoint_metadata["accumulate_grad_batches"] = std::to_string(a.accumulate_grad_batches);
  }
  if (a.clip_grad_norm > 0) {
    MAGMADNN_CHECK(!a.cuda_graph, "--clip-grad-norm does not combine with --cuda-graph yet");
    std::ostringstream v;
    v << a.clip_grad_norm;
    opts.checkpoint_metadata["clip_grad_norm"] = v.str();
  }
  if (a.scheduler == "onecycle" || a.scheduler == "cosine")  // their shape depends on the run's length
    opts.checkpoint_metadata["epochs"] = std::to_string(a.epochs);
  dist.configure(opts, *optimizer, eval_loader);
  dist.configure_checkpoints(opts, *optimizer);
  opts.loss = loss_for(a.dataset, a.label_smoothing);
  opts.accuracy = !regression;
  std::shared_ptr<train::CudaGraphStep> graphed;
  if (a.cuda_graph) {
    check_cuda_graph_args(a, device);
    MAGMADNN_CHECK(a.distributed == "none", "--cuda-graph does not combine with --distributed yet");
    MAGMADNN_CHECK(a.scheduler != "onecycle", "--cuda-graph with --scheduler onecycle: the learning rate changes ",
                   "every step, so the graph would be captured again every step; use a per-epoch scheduler");
    graphed = std::make_shared<train::CudaGraphStep>(*model, *optimizer, opts.loss, 3);
    opts.device_step = [graphed](const data::Example& batch) {
      const train::CudaGraphStep::Result r = graphed->step(batch.input, batch.target);
      return train::StepOutput{r.loss, r.correct};
    };
  }
  train::Trainer trainer(train_model, optimizer, opts);
  std::shared_ptr<optim::LRScheduler> epoch_schedule;
  std::shared_ptr<optim::ReduceLROnPlateau> plateau;
  if (a.scheduler == "step") epoch_schedule = std::make_shared<optim::StepLR>(*optimizer, a.step_size, a.gamma);
  if (a.scheduler == "cosine") epoch_schedule = std::make_shared<optim::CosineAnnealingLR>(*optimizer, a.epochs);
  std::shared_ptr<optim::OneCycleLR> one_cycle;  // stepped per batch; --lr is its peak
  if (a.scheduler == "onecycle") {
    const int64_t batches_per_epoch =
        a.max_batches > 0 ? std::min(a.max_batches, train_loader.num_batches()) : train_loader.num_batches();
    const int64_t steps_per_epoch = (batches_per_epoch + a.accumulate_grad_batches - 1) / a.accumulate_grad_batches;
    one_cycle = std::make_shared<optim::OneCycleLR>(*optimizer, a.lr, a.epochs * steps_per_epoch);
    trainer.on_step_end([&](int64_t) { one_cycle->step(); });
    trainer.track("onecycle", *one_cycle);
  }
  if (a.scheduler == "plateau") {
    plateau = std::make_shared<optim::ReduceLROnPlateau>(*optimizer, optim::ReduceLROnPlateauOptions().factor(a.gamma));
    trainer.track("plateau", *plateau);
  }
  if (epoch_schedule) trainer.track("schedule", *epoch_schedule);
  trainer.on_epoch_end([&](const train::EpochMetrics& m) {
    if (epoch_schedule) epoch_schedule->step();
    if (plateau) plateau->step(m.test_loss);  // the per-epoch evaluation's: validation with --val-fraction
    return true;
  });
  // With a validation split: the epoch of the lowest validation loss (--save-best keeps its
  // weights) and the epochs since, which --early-stopping bounds; checkpoints carry both.
  BestEpoch best;
  if (val_set) {
    trainer.add_checkpoint_state("best", [&] { return best.state_dict(); }, [&](const train::StateDict& s) { best.load(s); });
    trainer.on_epoch_end([&](const train::EpochMetrics& m) {
      if (m.test_loss < best.loss) {
        best = BestEpoch{m.test_loss, m.test_accuracy, m.epoch, 0};
        if (!a.save_best.empty()) {
          const auto weights = dist.full_state_dict(*model);  // collective for pipeline
          if (dist.is_root()) io::save_safetensors(a.save_best, weights, {{"format", "pt"}});
        }
        return true;
      }
      ++best.epochs_since;
      if (a.early_stopping > 0 && best.epochs_since >= a.early_stopping) {
        out << "early stopping: no lower validation loss for " << best.epochs_since << " epochs (best "
            << std::setprecision(4) << best.loss << " after epoch " << best.epoch << ")" << std::endl;
        return false;
      }
      return true;
    });
  }
  if (!a.resume.empty()) {
    trainer.resume(a.resume);
    out << "resumed from " << a.resume << " after " << trainer.epochs_completed() << " epochs and "
        << trainer.global_step() << " steps" << std::endl;
  }
  const auto history = trainer.fit(train_loader, &eval_loader);
  if (trainer.stopped_early()) {
    dist.finish();
    out << "stopped after " << trainer.global_step() << " steps"
        << (a.checkpoint.empty() ? "" : "; continue with --resume " + a.checkpoint) << std::endl;
    return 0;
  }
  const auto weights = dist.full_state_dict(*model);  // collective for pipeline
  // The test set, once, after a validated run; else the last epoch's evaluation was on it.
  train::EvalMetrics test;
  if (val_set) test = dist.evaluate(*model, test_loader, opts.loss);
  dist.finish();
  if (!dist.is_root()) return 0;

  MAGMADNN_CHECK(!history.empty(), "train: no epoch was run (a resumed run whose checkpoint is already at --epochs?)");
  const train::EpochMetrics& last = history.back();
  if (!val_set) {
    test.loss = last.test_loss;
    test.accuracy = last.test_accuracy;
  }
  double train_seconds = 0;
  int64_t samples = 0;
  json epochs = json::array();
  for (const auto& m : history) {
    train_seconds += m.train_seconds;
    samples += static_cast<int64_t>(std::llround(m.samples_per_second * m.train_seconds));
    json e = {{"epoch", m.epoch}, {"train_loss", m.train_loss}, {opts.eval_name + "_loss", m.test_loss},
              {"train_seconds", m.train_seconds}, {"samples_per_second", m.samples_per_second}};
    if (!regression) {
      e["train_accuracy"] = m.train_accuracy;
      e[opts.eval_name + "_accuracy"] = m.test_accuracy;
    }
    epochs.push_back(e);
  }
  std::cout << std::fixed << std::setprecision(4);
  if (regression)
    std::cout << "test rmse " << std::sqrt(test.loss) << " test loss (mse) " << test.loss;
  else
    std::cout << "test accuracy " << test.accuracy << " test loss " << test.loss;
  std::cout << std::setprecision(0) << " (" << samples / train_seconds << " samples/s training)" << std::endl;
  if (!a.save_best.empty()) {
    std::cout << std::setprecision(4) << "saved the weights of epoch " << best.epoch << " (validation loss "
              << best.loss;
    if (!regression) std::cout << ", accuracy " << best.accuracy;
    std::cout << ") to " << a.save_best << std::endl;
  }
  if (!a.save.empty()) {
    io::save_safetensors(a.save, weights, {{"format", "pt"}});
    std::cout << "saved weights to " << a.save << std::endl;
  }
  if (!a.metrics_out.empty()) {
    json metrics = {{"command", "train"}, {"model", a.model}, {"dataset", a.dataset},
                                      {"epochs", a.epochs}, {"batch_size", a.batch_size},
                                      {"optimizer", a.optimizer}, {"lr", a.lr}, {"scheduler", a.scheduler}, {"seed", a.seed},
                                      {"distributed", a.distributed}, {"world_size", dist.world_size()},
                                      {"samples_per_second_all_ranks",  // ddp ranks each train on their shard
                                       samples / train_seconds * (a.distributed == "ddp" ? dist.world_size() : 1)},
                                      {"threads", get_num_threads()}, {"device", device.str()}, {"bf16", a.bf16},
                                      {"task", regression ? "regression" : "classification"},
                                      {"test_loss", test.loss}, {"train_seconds", train_seconds},
                                      {"samples_per_second", samples / train_seconds}, {"peak_rss_mb", peak_rss_mb()},
                                      {"history", epochs}};
    if (regression)
      metrics["test_rmse"] = std::sqrt(test.loss);
    else
      metrics["test_accuracy"] = test.accuracy;
    if (val_set) {
      metrics["val_fraction"] = a.val_fraction;
      metrics["val_loss"] = last.test_loss;
      metrics["best_epoch"] = best.epoch;
      metrics["best_val_loss"] = best.loss;
      metrics["epochs_run"] = last.epoch;
      if (!regression) {
        metrics["val_accuracy"] = last.test_accuracy;
        metrics["best_val_accuracy"] = best.accuracy;
      }
    }
    write_json_atomic(a.metrics_out, metrics);
  }
  return 0;
}

}  // namespace

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  io::write_file_atomic(path, j.dump(2) + "\n", "metrics");
}

RowSplit split_rows(int64_t n, double test_fraction, uint64_t seed, const std::string& op) {
  std::vector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  Generator gen(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(rows[i], rows[gen.next_u64() % (i + 1)]);
  const int64_t n_test = static_cast<int64_t>(std::llround(test_fraction * n));
  MAGMADNN_CHECK(n_test > 0 && n_test < n, op, ": --test-fraction ", test_fraction, " of ", n,
                 " samples leaves no train or no test samples");
  return {std::vector<int64_t>(rows.begin() + n_test, rows.end()), std::vector<int64_t>(rows.begin(), rows.begin() + n_test)};
}

EpochStats train_epoch(data::DataLoader& loader, optim::Optimizer& optimizer, optim::LRScheduler& schedule,
                       Device device, const std::function<Tensor(const data::Example&)>& loss_fn,
                       int64_t max_batches) {
  const auto t0 = std::chrono::steady_clock::now();
  Tensor loss_sum = zeros({}, kFloat64, device);
  EpochStats stats;
  for (const data::Example& batch : loader) {
    if (max_batches > 0 && stats.batches == max_batches) break;
    Tensor loss = loss_fn(batch);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    schedule.step();
    {
      NoGradGuard no_grad;
      loss_sum = loss_sum + loss.detach().to(kFloat64);
    }
    ++stats.batches;
  }
  stats.mean_loss = stats.batches ? loss_sum.item<double>() / static_cast<double>(stats.batches) : 0.0;  // waits
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

Device setup(const CommonArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.seed);
  return parse_device_flag(a.device, MathFlags{a.tf32, a.cudnn_benchmark, a.bf16});
}

std::shared_ptr<optim::Optimizer> make_optimizer(const TrainArgs& a, const std::vector<Tensor>& params) {
  if (a.optimizer == "sgd")
    return std::make_shared<optim::SGD>(params, optim::SGDOptions(a.lr).momentum(a.momentum).weight_decay(a.weight_decay));
  if (a.optimizer == "adam")
    return std::make_shared<optim::Adam>(params, optim::AdamOptions(a.lr).weight_decay(a.weight_decay));
  if (a.optimizer == "adamw") {
    optim::AdamOptions o(a.lr);
    o.weight_decay(a.weight_decay > 0 ? a.weight_decay : 1e-2);
    return std::make_shared<optim::AdamW>(params, o);
  }
  if (a.optimizer == "adagrad")
    return std::make_shared<optim::Adagrad>(params, optim::AdagradOptions(a.lr).weight_decay(a.weight_decay));
  if (a.optimizer == "rmsprop")
    return std::make_shared<optim::RMSprop>(
        params, optim::RMSpropOptions(a.lr).momentum(a.momentum).weight_decay(a.weight_decay));
  MAGMADNN_ERROR("unknown optimizer '", a.optimizer, "'");
}

const char* const kBf16Help =
    "CPU: round the inputs of convolutions and matmuls to bfloat16 and accumulate in float32 (about 2x "
    "their float32 speed; needs AVX512_BF16 or AMX); parameters, activations and gradients stay float32";

const char* const kAugmentHelp =
    "random augmentation of the training images, a comma-separated list of crop:P (pad by P pixels, crop "
    "back to the image size at a random position), flip (left-right, p = 0.5), vflip (top-bottom), "
    "transpose (swap the axes of square images), sign (negate the sample); e.g. "
    "crop:4,flip. Each sample's choices depend only on --seed, the epoch and the sample";

const char* const kClipGradNormHelp =
    "after each backward pass, rescale all gradients together so their total 2-norm is at most this "
    "(torch.nn.utils.clip_grad_norm_; 0: off)";

const char* const kAccumulateHelp =
    "sum the gradients of this many consecutive batches before each optimizer step (each loss divided by "
    "it): steps of --batch-size times this many samples in the memory of one batch";

Device parse_device_flag(const std::string& text, const MathFlags& math) {
  const bool tf32 = math.tf32, cudnn_benchmark = math.cudnn_benchmark, bf16 = math.bf16;
  const Device device = Device::parse(text);
  MAGMADNN_CHECK(!tf32 || device.is_cuda(), "--tf32 needs --device cuda (it selects GPU math), got --device ", text);
  MAGMADNN_CHECK(!cudnn_benchmark || device.is_cuda(),
                 "--cudnn-benchmark needs --device cuda (it times cuDNN's algorithms), got --device ", text);
  MAGMADNN_CHECK(!bf16 || device.is_cpu(), "--bf16 selects CPU math (oneDNN); on --device ", text,
                 " use --tf32 for reduced-precision GPU math");
  MAGMADNN_CHECK(!bf16 || cpu_has_bf16(),
                 "--bf16: this CPU has no bf16 dot-product instructions (AVX512_BF16 or AMX-BF16) that oneDNN "
                 "may use; bf16 would be emulated, slower than float32");
  set_allow_bf16(bf16);
  if (device.is_cpu()) return device;
  MAGMADNN_CHECK(cuda::is_built(), "--device ", text, ": this build of MagmaDNN has no CUDA backend");
  const int n = cuda::device_count();
  MAGMADNN_CHECK(n > 0, "--device ", text, ": no CUDA device: ", cuda::unavailable_reason());
  MAGMADNN_CHECK(device.index < n, "--device ", text, ": no such device (this machine has ", n, " CUDA device",
                 n == 1 ? "" : "s", ", cuda:0 to cuda:", n - 1, ")");
  cuda::set_allow_tf32(tf32);
  cuda::set_cudnn_benchmark(cudnn_benchmark);
  return device;
}

int run_train(const TrainArgs& a) {
  const Device requested = setup(a);
  DistributedRun dist(a);  // rank 0 of 1 without --distributed
  try {
    return train(a, dist, dist.device(requested));
  } catch (const std::exception& e) {
    if (!dist.enabled()) throw;
    dist.fail(e.what());  // a peer may be dead: exit without finalising MPI
  }
}

int run_eval(const EvalArgs& a) {
  const Device device = setup(a);
  const std::string dir = data_dir(a);
  auto test_set = load_split(a, dir, /*train=*/false);
  auto model = make_model_for(a.model, a.dataset);
  const bool regression = is_regression(a.dataset);
  MAGMADNN_CHECK(!(regression && a.report), "eval --report counts classes; ", a.dataset, " holds regression targets");
  io::load_module(*model, a.weights);  // weights from any device's run (saved from the CPU side)
  data::DataLoader loader(test_set, for_device(data::DataLoaderOptions(1000).shuffle(false), device));
  const auto t0 = std::chrono::steady_clock::now();
  if (a.fuse) nn::fuse_for_inference(*model);
  model->to(device);
  const std::vector<std::string> names = class_names(a.dataset);
  // In the same pass: --report's confusion matrix, a regression's MAE / RMSE / R^2 per target.
  train::ConfusionMatrix cm(std::max<int64_t>(1, static_cast<int64_t>(names.size())));
  train::RegressionMetrics rm(config_for_dataset(a.dataset).num_classes);
  train::BatchMetric* extra = regression ? static_cast<train::BatchMetric*>(&rm) : a.report ? &cm : nullptr;
  const train::EvalMetrics m = train::evaluate(*model, loader, loss_for(a.dataset), extra);  // on the model's device
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << std::fixed << std::setprecision(4);
  if (regression)
    std::cout << "test rmse " << std::sqrt(m.loss) << " test loss (mse) " << m.loss;
  else
    std::cout << "test accuracy " << m.accuracy << " test loss " << m.loss;
  std::cout << " (" << m.samples << " samples, " << std::setprecision(2) << seconds << "s)" << std::endl;
  json metrics = {{"command", "eval"}, {"model", a.model}, {"weights", a.weights}, {"device", device.str()},
                  {"test_loss", m.loss}, {"fused", a.fuse}, {"samples", m.samples}, {"eval_seconds", seconds}};
  auto num = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
  if (regression) {
    const std::vector<std::string> targets_named = target_names(a.dataset);
    std::cout << "\n" << rm.report(targets_named);
    metrics["test_rmse"] = std::sqrt(m.loss);
    metrics["test_mae"] = num(rm.mae());
    metrics["test_r2"] = num(rm.r2());
    json targets = json::array();
    for (int64_t k = 0; k < rm.num_targets(); ++k)
      targets.push_back({{"name", targets_named.empty() ? "y" + std::to_string(k) : targets_named[k]},
                         {"mae", num(rm.mae(k))}, {"rmse", num(rm.rmse(k))}, {"r2", num(rm.r2(k))}});
    metrics["per_target"] = targets;
  } else {
    metrics["test_accuracy"] = m.accuracy;
  }
  if (a.report) {
    std::cout << "\n" << cm.report(names);
    json classes = json::array(), matrix = json::array();
    for (int64_t c = 0; c < cm.num_classes(); ++c) {
      classes.push_back({{"name", names[c]}, {"precision", num(cm.precision(c))}, {"recall", num(cm.recall(c))},
                         {"f1", num(cm.f1(c))}, {"support", cm.support(c)}});
      json row = json::array();
      for (int64_t p = 0; p < cm.num_classes(); ++p) row.push_back(cm.count(c, p));
      matrix.push_back(row);
    }
    metrics["per_class"] = classes;
    metrics["macro_f1"] = num(cm.macro_f1());
    metrics["confusion_matrix"] = matrix;
  }
  if (!a.metrics_out.empty()) write_json_atomic(a.metrics_out, metrics);
  return 0;
}

int run_bench(const BenchArgs& a) {
  const Device device = setup(a);
  const models::ModelConfig config = config_for_dataset(a.dataset);  // the data set's input shape
  auto model = make_model_for(a.model, a.dataset);
  model->to(device);
  optim::SGD opt(model->parameters(), optim::SGDOptions(a.lr).momentum(a.momentum));
  Tensor x = rand({a.batch_size, config.in_channels, config.height, config.width}).to(device);
  const bool regression = is_regression(a.dataset);
  Tensor y = (regression ? randn({a.batch_size, config.num_classes}) : randint(0, config.num_classes, {a.batch_size}))
                 .to(device);
  const train::LossFn loss_fn = loss_for(a.dataset);
  Allocator& memory = backend_for(device).allocator();
  std::unique_ptr<train::CudaGraphStep> graphed;  // --cuda-graph: 3 eager steps, then replays
  if (a.cuda_graph) {
    check_cuda_graph_args(a, device);
    graphed = std::make_unique<train::CudaGraphStep>(*model, opt, loss_fn, 3);
  }
  auto step = [&] {
    if (graphed) return graphed->step(x, y).loss;
    opt.zero_grad();
    Tensor loss = loss_fn((*model)(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  model->train();
  // With a graph, warm-up includes its capture, so the timed steps are all replays.
  for (int64_t i = 0; i < (graphed ? std::max<int64_t>(a.warmup, 4) : a.warmup); ++i) step();
  wait_for(device);
  memory.reset_peak();
  const auto t0 = std::chrono::steady_clock::now();
  Tensor last;  // read once after the loop: no host synchronisation between the timed steps
  for (int64_t i = 0; i < a.batches; ++i) last = step();
  const double last_loss = last.item<double>();
  wait_for(device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = a.batches * a.batch_size / seconds;
  std::cout << std::fixed << "bench " << a.model << (graphed ? " (CUDA graph)" : "") << (a.tf32 ? " (TF32)" : "") << (a.bf16 ? " (bf16)" : "")
            << (a.cudnn_benchmark ? " (cuDNN benchmark)" : "") << " batch " << a.batch_size << " batches " << a.batches
            << (device.is_cpu() ? " threads " + std::to_string(get_num_threads()) : " on " + device.str()) << ": " << std::setprecision(0) << rate << " samples/s, " << std::setprecision(3)
            << seconds * 1e3 / a.batches << " ms/step, loss " << std::setprecision(4) << last_loss << std::endl;
  if (!a.metrics_out.empty()) {
    write_json_atomic(a.metrics_out, {{"command", "bench"}, {"model", a.model}, {"batch_size", a.batch_size},
                                      {"batches", a.batches}, {"threads", get_num_threads()},
                                      {"device", device.str()}, {"cuda_graph", a.cuda_graph}, {"tf32", a.tf32}, {"bf16", a.bf16},
                                      {"cudnn_benchmark", a.cudnn_benchmark},
                                      {"seconds", seconds}, {"samples_per_second", rate},
                                      {"peak_tensor_bytes", memory.stats().peak_bytes_in_use},
                                      {"peak_rss_mb", peak_rss_mb()}});
  }
  return 0;
}

int run_summary(const SummaryArgs& a) {
  const models::ModelConfig config = config_for_dataset(a.dataset);
  auto model = make_model_for(a.model, a.dataset);
  const nn::ModelSummary s = nn::summarize(*model, {a.batch_size, config.in_channels, config.height, config.width});
  std::cout << a.model << " for " << a.dataset << "\n" << s.table();
  if (!a.metrics_out.empty()) {
    json layers = json::array();
    for (const auto& l : s.layers)
      layers.push_back({{"name", l.name}, {"type", l.type}, {"output", l.output.vec()}, {"parameters", l.parameters},
                        {"macs", l.macs}});
    write_json_atomic(a.metrics_out, {{"command", "summary"}, {"model", a.model}, {"dataset", a.dataset},
                                      {"input", s.input.vec()}, {"parameters", s.parameters},
                                      {"trainable_parameters", s.trainable_parameters}, {"macs", s.macs},
                                      {"parameter_bytes", s.parameter_bytes}, {"layers", layers}});
  }
  return 0;
}

int run_info() {
  std::cout << "magmadnn " << version() << "\n";
  std::cout << "backends:\n";
  std::cout << "  " << backend_for(Device::cpu()).describe() << "\n";
  // GPUs (name, memory, compute capability) and CUDA library versions, or why there are none.
  for (const std::string& line : cuda::describe_lines()) std::cout << "  " << line << "\n";
  std::cout << "threads: " << get_num_threads() << "\n";
  std::cout << "models: ";
  for (const auto& n : models::model_names()) std::cout << n << " ";
  std::cout << "mlp:W1,W2,... (hidden widths)" << std::endl;
  return 0;
}

}  // namespace magmadnn::cli
