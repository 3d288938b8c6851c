// `magmadnn spacegroup train`, `eval` and `export` (ONNX): ResNet classifiers of diffraction
// layer images (6 channels) into space groups, point groups, Laue classes or crystal systems.
// AdamW with a one-cycle schedule on cross-entropy, on one process or data-parallel under mpirun
// (--distributed ddp, the main CLI's DistributedRun); reports top-1 / top-5 accuracy, the accuracy
// of each crystal system, and the accuracy of the coarser labels implied by the predictions (a
// space-group prediction also names a point group, a Laue class and a crystal system).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cli/validators.h"
#include "cli/commands.h"
#include "cli/distributed.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/models/resnet.h"
#include "magmadnn/nn/fusion.h"
#include "magmadnn/spacegroup/dataset.h"
#include "spacegroup/spacegroup_cli.h"

namespace magmadnn::cli::spacegroup {

using magmadnn::spacegroup::SpaceGroupDataset;
using magmadnn::spacegroup::Target;
using json = nlohmann::json;

namespace {

struct TrainArgs {
  std::string data, test_data, out = "spacegroup-run", target = "space-group", blocks = "2,2,2,2";
  double test_fraction = 0.1;
  int64_t epochs = 10, batch_size = 64, width = 16;
  double lr = 2e-3, weight_decay = 0.05, label_smoothing = 0.0;
  int64_t max_batches = 0;  // per epoch, 0 = all
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  bool bf16 = false;                 // bf16 math in convolutions and matmuls (CPU)
  std::string distributed = "none";  // none or ddp (under mpirun)
  bool sync_batchnorm = false;
  double dist_timeout = 300;
};

struct EvalArgs {
  std::string weights, data, metrics_out;
  int threads = 0;
  std::string device = "cpu";
  bool bf16 = false;
};

struct ExportArgs {
  std::string weights, output;
  bool fuse = false;
};

// Images converted from uint8 batch by batch, so a large set stays 4x smaller in memory.
class ImageDataset : public data::Dataset {
 public:
  ImageDataset(const SpaceGroupDataset& d, Target target) : d_(d), target_(target) {}
  int64_t size() const override { return d_.size(); }
  data::Example get(int64_t index) const override {  // one sample: (6, S, S) and a scalar label
    const data::Example one = get_batch({index});
    return {one.input.reshape({magmadnn::spacegroup::kPatternChannels, d_.image_size, d_.image_size}),
            one.target.reshape({})};
  }
  data::Example get_batch(const std::vector<int64_t>& rows) const override {
    return {d_.images_tensor(rows), d_.labels_tensor(target_, rows)};
  }

 private:
  const SpaceGroupDataset& d_;
  Target target_;
};

std::vector<int> parse_blocks(const std::string& text) {
  std::vector<int> blocks;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    MAGMADNN_CHECK(!item.empty() && item.size() <= 2 && std::all_of(item.begin(), item.end(), [](unsigned char c) { return std::isdigit(c); }) &&
                       std::stoi(item) >= 1,
                   "--blocks: expected 1 to 4 positive counts such as 2,2,2,2, got '", text, "'");
    blocks.push_back(std::stoi(item));
  }
  MAGMADNN_CHECK(!blocks.empty() && blocks.size() <= 4, "--blocks: expected 1 to 4 stages, got '", text, "'");
  return blocks;
}

std::shared_ptr<models::ResNet> build_model(const std::vector<int>& blocks, int64_t width, Target target,
                                            int64_t image_size) {
  models::ModelConfig c;
  c.in_channels = magmadnn::spacegroup::kPatternChannels;
  c.height = c.width = image_size;
  c.num_classes = magmadnn::spacegroup::num_classes(target);
  c.base_width = width;
  return std::make_shared<models::ResNet>(blocks, c);
}

// Class scores of every sample (N, classes) on the host; the model runs on `device`.
std::vector<float> predict_scores(nn::Module& model, const SpaceGroupDataset& d, Device device, int64_t batch = 256) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<float> out;
  for (int64_t b = 0; b < d.size(); b += batch) {
    const Tensor logits = model.forward(d.images_tensor(b, std::min(d.size(), b + batch)).to(device));
    const std::vector<float> v = logits.to(Device::cpu()).to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

struct Report {
  json metrics;
  std::string table;
};

// Accuracy figures of the scores against the data's labels under `target`.
Report evaluate(const std::vector<float>& scores, const SpaceGroupDataset& d, Target target) {
  using namespace magmadnn::spacegroup;
  const int64_t classes = num_classes(target), n = d.size();
  // A space group of each class, to map a predicted class to the coarser labels it implies.
  std::vector<int> representative(classes, 0);
  for (int g = 230; g >= 1; --g) representative[label_of(target, g)] = g;
  const std::vector<Target> coarser_all = {Target::SpaceGroup, Target::PointGroup, Target::LaueClass, Target::CrystalSystem};
  std::vector<Target> coarser(std::find(coarser_all.begin(), coarser_all.end(), target) + 1, coarser_all.end());

  int64_t top1 = 0, top5 = 0, class_right = 0, enantio_right = 0;
  std::map<Target, int64_t> implied;
  const bool by_group = target == Target::SpaceGroup && symmetry_available();
  std::map<int, std::map<int, int64_t>> class_counts;  // diffraction class -> group -> samples
  const std::vector<int>* cls = by_group ? &diffraction_classes() : nullptr;
  std::vector<int64_t> system_count(7, 0), system_right(7, 0);
  std::vector<int> order(classes);
  for (int64_t i = 0; i < n; ++i) {
    const float* s = scores.data() + i * classes;
    const int number = static_cast<int>(d.space_groups[i]);
    const int64_t truth = label_of(target, number);
    std::iota(order.begin(), order.end(), 0);
    const int64_t k = std::min<int64_t>(5, classes);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return s[a] > s[b]; });
    const bool right = order[0] == truth;
    top1 += right;
    top5 += std::find(order.begin(), order.begin() + k, truth) != order.begin() + k;
    const int system = static_cast<int>(crystal_system(number));
    ++system_count[system];
    system_right[system] += right;
    for (Target t : coarser) implied[t] += label_of(t, representative[order[0]]) == label_of(t, number);
    if (by_group) {
      class_right += (*cls)[order[0] + 1] == (*cls)[number];
      enantio_right += order[0] + 1 == number || enantiomorph(order[0] + 1) == number;
      ++class_counts[(*cls)[number]][number];
    }
  }
  Report r;
  const double dn = std::max<int64_t>(n, 1);
  r.metrics = {{"target", target_name(target)}, {"samples", n}, {"top1", top1 / dn}, {"top5", top5 / dn}};
  json implied_json = json::object(), per_system = json::object();
  for (Target t : coarser) implied_json[target_name(t)] = implied[t] / dn;
  r.metrics["implied"] = implied_json;
  // A classifier that knows only a sample's diffraction class does best by naming the class's most
  // frequent group.
  int64_t bound = 0;
  for (const auto& [cls, groups] : class_counts) {
    int64_t most = 0;
    for (const auto& [g, count] : groups) most = std::max(most, count);
    bound += most;
  }
  if (by_group) {
    r.metrics["top1_enantiomorphs_merged"] = enantio_right / dn;
    r.metrics["top1_up_to_diffraction_class"] = class_right / dn;
    r.metrics["top1_from_laue_group_and_absences"] = bound / dn;
  }
  std::ostringstream table;
  table << std::fixed << std::setprecision(4);
  table << std::left << std::setw(14) << "crystal system" << std::right << std::setw(9) << "samples" << std::setw(10)
        << "top-1" << "\n";
  for (int s = 0; s < 7; ++s) {
    if (system_count[s] == 0) continue;
    const double acc = static_cast<double>(system_right[s]) / system_count[s];
    const std::string name = crystal_system_name(static_cast<CrystalSystem>(s));
    per_system[name] = {{"samples", system_count[s]}, {"top1", acc}};
    table << std::left << std::setw(14) << name << std::right << std::setw(9) << system_count[s] << std::setw(10) << acc
          << "\n";
  }
  table << std::left << std::setw(14) << "all" << std::right << std::setw(9) << n << std::setw(10) << top1 / dn
        << "   top-5 " << top5 / dn << "\n";
  for (Target t : coarser)
    table << "  implied " << target_name(t) << " accuracy " << implied[t] / dn << "\n";
  if (by_group)
    table << "  top-1 with enantiomorphic pairs merged " << enantio_right / dn << "\n"
          << "  top-1 up to groups of one diffraction class (same Laue group and absences) " << class_right / dn << "\n"
          << "  (a classifier that sees only the Laue group and absences: top-1 " << bound / dn << ")\n";
  r.metrics["per_crystal_system"] = per_system;
  r.table = table.str();
  return r;
}

// The main CLI's TrainArgs for DistributedRun (process group, device per rank, sharded loader,
// DDP wrapper), which the space-group run shares with `magmadnn train --distributed ddp`.
cli::TrainArgs distributed_args(const TrainArgs& a) {
  cli::TrainArgs d;
  d.model = "the space-group ResNet";
  d.distributed = a.distributed;
  d.sync_batchnorm = a.sync_batchnorm;
  d.dist_timeout = a.dist_timeout;
  d.device = a.device;
  d.batch_size = a.batch_size;
  d.seed = a.seed;
  return d;
}

int train_on(const TrainArgs& a, DistributedRun& run) {
  using namespace magmadnn::spacegroup;
  const Device device = run.device(parse_device_flag(a.device, MathFlags{/*tf32=*/false, /*cudnn_benchmark=*/false, /*bf16=*/a.bf16}));
  const Target target = parse_target(a.target);
  const std::vector<int> blocks = parse_blocks(a.blocks);
  manual_seed(a.seed);  // every rank builds the same model (DDP also broadcasts rank 0's)
  SpaceGroupDataset all = load_spacegroup_dataset(a.data);
  SpaceGroupDataset train, test;
  if (!a.test_data.empty()) {
    train = std::move(all);
    test = load_spacegroup_dataset(a.test_data);
    MAGMADNN_CHECK(test.image_size == train.image_size, "spacegroup train: --test-data has ", test.image_size,
                   "-pixel images, --data ", train.image_size);
  } else {
    const RowSplit split = split_rows(all.size(), a.test_fraction, a.seed, "spacegroup train");
    test = all.take(split.test);
    train = all.take(split.train);
  }
  const bool root = run.is_root();
  if (root)
    std::cout << "magmadnn " << version() << ": spacegroup train on " << a.data << " (" << train.size() << " train / "
              << test.size() << " test samples, " << kPatternChannels << "x" << train.image_size << "x"
              << train.image_size << " images), target " << target_name(target) << " (" << num_classes(target)
              << " classes), " << (device.is_cpu() ? std::to_string(get_num_threads()) + " threads" : "on " + device.str())
              << run.describe() << std::endl;

  std::shared_ptr<models::ResNet> model = build_model(blocks, a.width, target, train.image_size);
  model->to(device);  // initialised on the CPU, then moved
  if (root) std::cout << model->name() << ": " << model->num_parameters() << " parameters" << std::endl;
  // DDP (and SyncBatchNorm inside the model) under --distributed ddp; the model itself otherwise.
  std::shared_ptr<nn::Module> net = run.wrap(model);
  auto dataset = std::make_shared<ImageDataset>(train, target);
  data::DataLoader loader(dataset, run.train_loader_options().drop_last(true));
  MAGMADNN_CHECK(loader.num_batches() > 0, "spacegroup train: ", train.size(), " training samples are fewer than one batch of ",
                 a.batch_size);
  const int64_t steps = a.max_batches > 0 ? std::min(a.max_batches, loader.num_batches()) : loader.num_batches();
  optim::AdamW opt(run.parameters(*net), optim::AdamWOptions(a.lr).weight_decay(a.weight_decay));
  optim::OneCycleLR schedule(opt, a.lr, a.epochs * steps);
  double seconds = 0;
  json history = json::array();
  for (int64_t epoch = 1; epoch <= a.epochs; ++epoch) {
    net->train();
    loader.set_epoch(epoch - 1);
    const EpochStats e = train_epoch(loader, opt, schedule, device, [&](const data::Example& batch) {
      return cross_entropy(net->forward(batch.input.to(device)), batch.target.to(device), Tensor(), Reduction::Mean,
                           a.label_smoothing);
    }, steps);
    const double mean_loss = e.mean_loss, epoch_seconds = e.seconds;
    const int64_t batches = e.batches;
    seconds += epoch_seconds;
    // Every rank evaluates its replica (identical under DDP) and rank 0 reports: the other ranks
    // would only wait for rank 0 at the next step's all-reduce, and in step they never run into
    // the collectives' deadline however large the test set.
    const Report r = evaluate(predict_scores(*model, test, device), test, target);
    const double samples_per_second = batches * loader.options().batch_size() * run.world_size() / epoch_seconds;
    history.push_back({{"epoch", epoch}, {"train_loss", mean_loss}, {"test_top1", r.metrics["top1"]},
                       {"seconds", epoch_seconds}, {"samples_per_second", samples_per_second}});
    if (root)
      std::cout << "  epoch " << epoch << "/" << a.epochs << "  train loss " << std::fixed << std::setprecision(4)
                << mean_loss << "  test top-1 " << r.metrics["top1"].get<double>() << "  top-5 "
                << r.metrics["top5"].get<double>() << "  (" << std::setprecision(1) << samples_per_second
                << " samples/s, " << seconds << " s)" << std::defaultfloat << std::endl;
  }
  if (root) {  // the final report needs no collective: rank 0 alone
    const Report r = evaluate(predict_scores(*model, test, device), test, target);
    std::cout << "\n" << r.table;
    std::filesystem::create_directories(a.out);
    const std::string weights = (std::filesystem::path(a.out) / "spacegroup.safetensors").string();
    io::save_module(*model, weights,
                    {{"spacegroup_target", target_name(target)}, {"base_width", std::to_string(a.width)},
                     {"blocks", a.blocks}, {"image_size", std::to_string(train.image_size)}});
    json summary = {{"data", a.data}, {"test_data", a.test_data}, {"train_samples", train.size()},
                    {"test_samples", test.size()}, {"target", target_name(target)}, {"epochs", a.epochs},
                    {"batch_size", a.batch_size}, {"lr", a.lr}, {"weight_decay", a.weight_decay},
                    {"label_smoothing", a.label_smoothing}, {"width", a.width}, {"blocks", a.blocks},
                    {"parameters", model->num_parameters()}, {"seed", a.seed}, {"threads", get_num_threads()},
                    {"device", device.str()}, {"bf16", a.bf16}, {"distributed", a.distributed},
                    {"world_size", run.world_size()},
                    {"sync_batchnorm", a.sync_batchnorm}, {"train_seconds", seconds}, {"history", history},
                    {"test", r.metrics}, {"weights", weights}};
    const std::string metrics = (std::filesystem::path(a.out) / "metrics.json").string();
    write_json_atomic(metrics, summary);
    std::cout << "wrote " << weights << " and " << metrics << std::endl;
  }
  run.finish();
  return 0;
}

int run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const cli::TrainArgs dist_args = distributed_args(a);  // outlives `run`, which keeps a reference
  DistributedRun run(dist_args);
  if (!run.enabled()) return train_on(a, run);
  try {
    return train_on(a, run);
  } catch (const std::exception& e) {
    // After a failed collective MPI cannot be finalised cleanly: report and leave at once.
    run.fail("rank " + std::to_string(run.rank()) + ": " + e.what());
  }
}

// The architecture metadata `spacegroup train` writes beside the weights; `command` names the
// subcommand in errors.
std::map<std::string, std::string> weights_metadata(const std::string& weights, const std::string& command) {
  std::map<std::string, std::string> meta;
  io::load_safetensors(weights, &meta);
  for (const char* key : {"spacegroup_target", "base_width", "blocks", "image_size"})
    MAGMADNN_CHECK(meta.count(key), "spacegroup ", command, ": ", weights, " lacks the '", key,
                   "' metadata written by `magmadnn spacegroup train`");
  return meta;
}

int run_export(const ExportArgs& a) {
  using namespace magmadnn::spacegroup;
  std::map<std::string, std::string> meta = weights_metadata(a.weights, "export");
  const Target target = parse_target(meta["spacegroup_target"]);
  const int64_t size = std::stoll(meta["image_size"]);
  auto model = build_model(parse_blocks(meta["blocks"]), std::stoll(meta["base_width"]), target, size);
  io::load_module(*model, a.weights);
  if (a.fuse) nn::fuse_for_inference(*model);
  onnx::ExportOptions o;
  o.graph_name = "spacegroup_" + meta["spacegroup_target"];
  o.metadata["magmadnn.task"] = "classification";
  o.metadata["magmadnn.input"] = "six reciprocal-lattice layer images (hk0, hk1, h0l, h1l, 0kl, 1kl), uint8 / 255";
  json names = json::array();
  for (int64_t c = 0; c < num_classes(target); ++c) names.push_back(class_name(target, c));
  o.metadata["magmadnn.class_names"] = names.dump();
  onnx::export_onnx(*model, Shape({1, 6, size, size}), a.output, o);
  std::cout << "exported the space-group ResNet (" << model->num_parameters() << " parameters"
            << (a.fuse ? ", fused" : "") << ") to " << a.output << ": input (N, 6, " << size << ", " << size
            << ") float32 layer images in [0, 1] (uint8 / 255), output (N, " << num_classes(target) << ") logits of "
            << target_name(target) << " classes" << std::endl;
  return 0;
}

int run_eval(const EvalArgs& a) {
  using namespace magmadnn::spacegroup;
  if (a.threads > 0) set_num_threads(a.threads);
  const Device device = parse_device_flag(a.device, MathFlags{/*tf32=*/false, /*cudnn_benchmark=*/false, /*bf16=*/a.bf16});
  std::map<std::string, std::string> meta = weights_metadata(a.weights, "eval");
  const Target target = parse_target(meta["spacegroup_target"]);
  const SpaceGroupDataset d = load_spacegroup_dataset(a.data);
  MAGMADNN_CHECK(std::to_string(d.image_size) == meta["image_size"], "spacegroup eval: ", a.data, " has ",
                 d.image_size, "-pixel images, the model was trained on ", meta["image_size"]);
  auto model = build_model(parse_blocks(meta["blocks"]), std::stoll(meta["base_width"]), target, d.image_size);
  io::load_module(*model, a.weights);
  model->to(device);
  const Report r = evaluate(predict_scores(*model, d, device), d, target);
  std::cout << "spacegroup eval: " << a.weights << " on " << a.data << " (" << d.size() << " samples, target "
            << target_name(target) << ")\n" << r.table << std::flush;
  if (!a.metrics_out.empty()) {
    json j = r.metrics;
    j["weights"] = a.weights;
    j["data"] = a.data;
    write_json_atomic(a.metrics_out, j);
  }
  return 0;
}

}  // namespace

void add_train_command(CLI::App* parent, std::function<int()>& run) {
  auto ta = std::make_shared<TrainArgs>();
  CLI::App* train = parent->add_subcommand("train", "train a ResNet on diffraction layer images and report accuracy");
  train->add_option("--data", ta->data, "data set from `spacegroup generate`: a folder or an .npz archive")->required();
  train->add_option("--test-data", ta->test_data, "separate test set (default: hold out --test-fraction of --data)");
  train->add_option("--test-fraction", ta->test_fraction, "fraction of --data held out for testing")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  train->add_option("--target", ta->target, "what to predict")
      ->check(CLI::IsMember({"space-group", "point-group", "laue-class", "crystal-system"}))->capture_default_str();
  train->add_option("--epochs", ta->epochs, "passes over the training set")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--batch-size", ta->batch_size, "samples per step")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--lr", ta->lr, "peak learning rate (AdamW, one-cycle)")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--weight-decay", ta->weight_decay, "AdamW's decoupled weight decay")
      ->check(magmadnn::cli::NonNegative)->capture_default_str();
  train->add_option("--label-smoothing", ta->label_smoothing, "cross-entropy label smoothing")
      ->check(CLI::Range(0.0, 0.99))->capture_default_str();
  train->add_option("--width", ta->width, "ResNet channels of the first stage (doubled per stage)")
      ->check(CLI::Range(int64_t{1}, int64_t{512}))->capture_default_str();
  train->add_option("--blocks", ta->blocks, "basic blocks per stage (2,2,2,2 is ResNet-18's layout)")->capture_default_str();
  train->add_option("--seed", ta->seed, "random seed")->capture_default_str();
  train->add_option("--threads", ta->threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  train->add_option("--out", ta->out, "folder for spacegroup.safetensors and metrics.json")->capture_default_str();
  train->add_option("--device", ta->device, "cpu, cuda or cuda:N")->capture_default_str();
  train->add_flag("--bf16", ta->bf16, kBf16Help);
  train->add_option("--max-batches", ta->max_batches, "training steps per epoch (0: all)")
      ->check(magmadnn::cli::NonNegative)->capture_default_str();
  train->add_option("--distributed", ta->distributed, "ddp: data-parallel over the ranks of mpirun (--batch-size is global)")
      ->check(CLI::IsMember({"none", "ddp"}))->capture_default_str();
  train->add_flag("--sync-batchnorm", ta->sync_batchnorm, "ddp: batch-norm statistics over all ranks");
  train->add_option("--dist-timeout", ta->dist_timeout, "seconds a collective may take before the run stops")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  train->callback([&run, ta] {
    try {
      parse_blocks(ta->blocks);  // inside CLI11's parse: report a bad value as a validation error
    } catch (const Error& e) {
      throw CLI::ValidationError("--blocks", e.what());
    }
    run = [ta] { return run_train(*ta); };
  });

  auto ea = std::make_shared<EvalArgs>();
  CLI::App* eval = parent->add_subcommand("eval", "evaluate trained weights on a data set");
  eval->add_option("--weights", ea->weights, "weights written by `magmadnn spacegroup train`")->required();
  eval->add_option("--data", ea->data, "data set: a folder or an .npz archive")->required();
  eval->add_option("--metrics-out", ea->metrics_out, "write the metrics as JSON");
  eval->add_option("--threads", ea->threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  eval->add_option("--device", ea->device, "cpu, cuda or cuda:N")->capture_default_str();
  eval->add_flag("--bf16", ea->bf16, kBf16Help);
  eval->callback([&run, ea] { run = [ea] { return run_eval(*ea); }; });

  auto xa = std::make_shared<ExportArgs>();
  CLI::App* exp = parent->add_subcommand("export", "trained weights as an ONNX model (opset 13) for inference runtimes");
  exp->add_option("--weights", xa->weights, "weights written by `magmadnn spacegroup train`")->required();
  exp->add_option("--output", xa->output, "the .onnx file (written atomically)")->required();
  exp->add_flag("--fuse", xa->fuse, "fold each BatchNorm into the convolution before it first");
  exp->callback([&run, xa] { run = [xa] { return run_export(*xa); }; });
}

}  // namespace magmadnn::cli::spacegroup
