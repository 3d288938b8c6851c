// `magmadnn hpo`: hyperparameter search for a zoo model (train/hpo.h). Trials train on the
// training set minus a held-out validation part and are scored by their validation accuracy (by
// their validation RMSE, lower is better, for a regression); the test set is never looked at. Under mpirun the trials of each rung are split over the ranks.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"

namespace magmadnn::cli {

namespace {

using nlohmann::json;

// The training arguments of one trial: the command's flags, with the trial's values on top.
TrainArgs with_config(const HpoArgs& base, const train::hpo::Config& config) {
  TrainArgs t = base;
  const auto real = [](const std::string& name, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    MAGMADNN_CHECK(end == v.c_str() + v.size() && std::isfinite(x), "hpo: ", name, "=", v, " is not a number");
    return x;
  };
  for (const auto& [name, value] : config) {
    if (name == "lr") t.lr = real(name, value);
    else if (name == "momentum") t.momentum = real(name, value);
    else if (name == "weight_decay") t.weight_decay = real(name, value);
    else if (name == "label_smoothing") t.label_smoothing = real(name, value);
    else if (name == "batch_size") t.batch_size = static_cast<int64_t>(real(name, value));
    else if (name == "optimizer") t.optimizer = value;
  }
  MAGMADNN_CHECK(t.lr > 0 && t.momentum >= 0 && t.momentum < 1 && t.weight_decay >= 0 && t.label_smoothing >= 0 &&
                     t.label_smoothing < 1 && t.batch_size >= 1,
                 "hpo: a configuration outside the flags' ranges (lr > 0, momentum and label_smoothing in [0, 1), "
                 "weight_decay >= 0, batch_size >= 1): lr=",
                 t.lr, " momentum=", t.momentum, " weight_decay=", t.weight_decay, " label_smoothing=",
                 t.label_smoothing, " batch_size=", t.batch_size);
  return t;
}

// The searchable names, checked before anything runs.
void check_space(const train::hpo::SearchSpace& space) {
  static const std::set<std::string> known = {"lr", "momentum", "weight_decay", "label_smoothing", "batch_size",
                                              "optimizer"};
  static const std::set<std::string> optimizers = {"sgd", "adam", "adamw", "adagrad", "rmsprop"};
  for (const auto& p : space.params) {
    MAGMADNN_CHECK(known.count(p.name), "hpo: cannot search '", p.name,
                   "'; the names are lr, momentum, weight_decay, label_smoothing, batch_size and optimizer");
    if (p.name == "optimizer") {
      MAGMADNN_CHECK(p.kind == train::hpo::Param::Kind::Choice, "hpo: optimizer takes choices, e.g. optimizer=sgd|adam");
      for (const auto& c : p.choices)
        MAGMADNN_CHECK(optimizers.count(c), "hpo: unknown optimizer '", c, "' (sgd, adam, adamw, adagrad, rmsprop)");
    }
    // Numeric names take ranges or choices of numbers (batch_size=32|64|128); with_config checks them.
  }
}

std::string config_text(const train::hpo::Config& c) {
  std::string s;
  for (const auto& [k, v] : c) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

}  // namespace

int run_hpo(const HpoArgs& a) {
  const Device device = setup(a);
  const train::hpo::SearchSpace space = train::hpo::SearchSpace::parse(a.space);
  check_space(space);
  std::shared_ptr<dist::ProcessGroup> group = dist::init_process_group("auto");  // mpi under mpirun
  const bool root = group->rank() == 0;
  std::ostream null_out(nullptr);
  std::ostream& out = root ? std::cout : null_out;

  auto [train_set, val_set] = data::random_split(*load_split(a, data_dir(a), /*train=*/true), a.val_fraction, a.seed,
                                              "hpo: --val-fraction");
  const models::ModelConfig config = config_for_dataset(a.dataset);
  out << "magmadnn " << version() << ": hyperparameter search for " << a.model << " on " << a.dataset << " ("
      << train_set->size() << " training / " << val_set->size() << " validation samples), " << a.trials
      << " trials, eta " << a.eta << ", " << a.min_epochs << " epoch(s) first"
      << (group->size() > 1 ? ", over " + std::to_string(group->size()) + " ranks" : std::string()) << std::endl;

  const auto augmentation = data::parse_augmentation(a.augment, config.height, config.width);
  if (augmentation) out << "augmenting the training images: " << augmentation->describe() << std::endl;

  const bool regression = is_regression(a.dataset);
  const train::hpo::Objective objective = [&](const train::hpo::Config& c, int64_t epochs, int64_t trial) {
    const TrainArgs t = with_config(a, c);
    manual_seed(a.seed + static_cast<uint64_t>(trial));  // a trial's weights: a function of its id alone
    auto model = make_model_for(t.model, t.dataset);
    model->to(device);
    auto optimizer = make_optimizer(t, model->parameters());
    data::DataLoader loader(train_set, data::DataLoaderOptions(t.batch_size).shuffle(true).seed(a.seed + trial)
                                           .augment(augmentation).pin_memory(device.is_cuda()));
    data::DataLoader val_loader(val_set, data::DataLoaderOptions(1000).pin_memory(device.is_cuda()));
    train::TrainerOptions opts;
    opts.epochs = epochs;
    opts.max_batches = t.max_batches;
    opts.progress = train::ProgressMode::None;
    opts.device = device;
    opts.loss = loss_for(t.dataset, t.label_smoothing);
    opts.accuracy = !is_regression(t.dataset);
    opts.clip_grad_norm = t.clip_grad_norm;
    train::Trainer trainer(model, optimizer, opts);
    trainer.fit(loader);  // a diverging run throws: the trial fails
    const train::EvalMetrics m = train::evaluate(*model, val_loader, opts.loss);
    return regression ? -std::sqrt(m.loss) : m.accuracy;  // higher is better
  };
  // The figure a score stands for: the accuracy, or the RMSE of a regression.
  const char* metric = regression ? "val_rmse" : "val_acc";
  auto shown = [regression](double score) { return regression ? -score : score; };
  train::hpo::SearchOptions o;
  o.trials = a.trials, o.seed = a.seed, o.eta = a.eta, o.min_budget = a.min_epochs, o.max_budget = a.max_epochs;
  if (group->size() > 1) o.group = group;
  o.on_trial = [&](const train::hpo::Trial& t) {
    std::cout << "  trial " << t.id << " (rank " << group->rank() << ") rung " << t.rung << ", " << t.budget
              << " epoch(s): "
              << (t.failed ? "failed: " + t.error : metric + (" " + std::to_string(shown(t.score)).substr(0, 6)))
              << "  "
              << config_text(t.config) << std::endl;
  };
  const std::vector<train::hpo::Trial> trials = train::hpo::search(space, objective, o);

  out << std::fixed;
  out << "\n    #  trial  rung  epochs " << std::setw(8) << metric << "  seconds  configuration\n";
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto& t = trials[i];
    out << std::setw(5) << i + 1 << std::setw(7) << t.id << std::setw(6) << t.rung << std::setw(8) << t.budget
        << std::setw(9) << std::setprecision(4);
    if (t.failed) out << "failed"; else out << shown(t.score);
    out << std::setw(9) << std::setprecision(1) << t.seconds << "  " << config_text(t.config) << "\n";
  }
  const train::hpo::Trial& best = trials.front();
  MAGMADNN_CHECK(!best.failed, "hpo: every trial failed (", trials.front().error.empty() ? "see the trial lines above"
                                                                                         : trials.front().error,
                 ")");
  const TrainArgs b = with_config(a, best.config);
  std::ostringstream cmd;
  cmd << "magmadnn train --model " << b.model << " --dataset " << b.dataset << table_flags_text(b.dataset);
  if (!a.data_dir.empty()) cmd << " --data-dir " << a.data_dir;
  cmd << " --optimizer " << b.optimizer
      << " --lr " << b.lr << " --momentum " << b.momentum << " --weight-decay " << b.weight_decay << " --batch-size "
      << b.batch_size << " --label-smoothing " << b.label_smoothing << " --epochs " << best.budget
      << " --seed " << a.seed + static_cast<uint64_t>(best.id);
  if (a.max_batches > 0) cmd << " --max-batches " << a.max_batches;
  if (augmentation) cmd << " --augment " << a.augment;
  if (a.clip_grad_norm > 0) cmd << " --clip-grad-norm " << a.clip_grad_norm;
  out << "\nbest: trial " << best.id << (regression ? ", validation RMSE " : ", validation accuracy ")
      << std::setprecision(4) << shown(best.score) << " after "
      << best.budget << " epoch(s)\n  " << cmd.str() << std::endl;

  if (root && !a.out.empty()) {
    std::string lines;
    for (const auto& t : trials)
      lines += json{{"trial", t.id}, {"rung", t.rung}, {"epochs", t.budget}, {"failed", t.failed},
                    {regression ? "val_rmse" : "val_accuracy", t.failed ? json(nullptr) : json(shown(t.score))},
                    {"seconds", t.seconds},
                    {"config", t.config}}
                   .dump() +
               "\n";
    io::write_file_atomic(a.out, lines, "trials");
  }
  if (root && !a.metrics_out.empty()) {
    write_json_atomic(a.metrics_out,
                      {{"command", "hpo"}, {"model", a.model}, {"dataset", a.dataset}, {"trials", a.trials},
                       {"ranks", group->size()}, {"best_trial", best.id},
                       {regression ? "best_val_rmse" : "best_val_accuracy", shown(best.score)},
                       {"best_epochs", best.budget}, {"best_config", best.config}, {"train_command", cmd.str()}});
  }
  group.reset();
  dist::finalize();
  return 0;
}

}  // namespace magmadnn::cli
