// `magmadnn ising train` and `magmadnn ising eval`: fit energy models (cnn, gcn, graphconv) to an
// Ising data set with Adam and a one-cycle schedule on the per-site energy (MSE), then report the
// original MagmaDNN table (train/test MAE and RMSE per model) plus the fraction of test
// configurations whose prediction, rounded to the energy grid, is exact; write weights, a parity
// plot and the metrics as JSON.
#include <algorithm>
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
#include "ising/ising_cli.h"
#include "ising/parity_plot.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/ising/dataset.h"
#include "magmadnn/ising/models.h"

namespace magmadnn::cli::ising {

using magmadnn::ising::EnergyModel;
using magmadnn::ising::IsingDataset;
using json = nlohmann::json;

namespace {

struct TrainArgs {
  std::string data, test_data, out = "ising-run";
  std::vector<std::string> models{"cnn"};
  double test_fraction = 0.1;
  int64_t max_train = 0;  // 0: all
  int64_t epochs = 20, batch_size = 128, hidden = 32, layers = 2;
  double lr = 3e-3;
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "cpu";
  std::string augment = "none";  // none, spin-flip, symmetries
};

struct EvalArgs {
  std::string model, weights, data, metrics_out;
  int threads = 0;
  std::string device = "cpu";
};

struct Metrics {
  double mae = 0, rmse = 0, mae_per_site = 0;
  double exact = NAN;  // fraction on the energy grid; NaN where energies have no grid (random J)
  int64_t count = 0;
};

// Rows of a data set (copies), e.g. a shuffled train/test split.
IsingDataset take_rows(const IsingDataset& d, const std::vector<int64_t>& rows) {
  IsingDataset out;
  out.graph = d.graph;
  out.sample_shape = d.sample_shape;
  const int64_t n = d.num_nodes();
  out.spins.resize(rows.size() * n);
  out.energies.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(d.spins.begin() + rows[i] * n, n, out.spins.begin() + i * n);
    out.energies[i] = d.energies[rows[i]];
    if (!d.temperatures.empty()) out.temperatures.push_back(d.temperatures[rows[i]]);
  }
  return out;
}

// Energies of a uniform-coupling graph lie on a grid: -J * (bonds - 2u) for u unsatisfied bonds,
// and u is even on periodic square lattices (domain walls close). Returns false for random J.
bool energy_grid(const magmadnn::ising::Graph& g, double* step, double* offset) {
  double j = 0;
  if (!g.uniform_coupling(&j)) return false;
  *step = std::abs(j) * (g.kind == magmadnn::ising::LatticeKind::Square ? 4 : 2);
  *offset = -j * static_cast<double>(g.num_edges());
  return *step > 0;
}

// Predicted energies of every configuration, computed on `device` (the model's).
std::vector<double> predict(EnergyModel& model, const IsingDataset& d, Device device, int64_t batch = 2048) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<double> out;
  out.reserve(d.size());
  for (int64_t b = 0; b < d.size(); b += batch) {
    const Tensor x = model.input(d, b, std::min(d.size(), b + batch)).to(device);
    const std::vector<float> v = model.forward(x).to(Device::cpu()).to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

Metrics metrics_of(const IsingDataset& d, const std::vector<double>& pred) {
  Metrics m;
  m.count = d.size();
  double step = 0, offset = 0;
  const bool grid = energy_grid(d.graph, &step, &offset);
  double abs_sum = 0, sq_sum = 0;
  int64_t exact = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const double e = pred[i] - d.energies[i];
    abs_sum += std::abs(e);
    sq_sum += e * e;
    if (grid && std::abs(offset + step * std::round((pred[i] - offset) / step) - d.energies[i]) < 1e-6 * step) ++exact;
  }
  if (m.count > 0) {
    m.mae = abs_sum / m.count;
    m.rmse = std::sqrt(sq_sum / m.count);
    m.mae_per_site = m.mae / d.num_nodes();
    if (grid) m.exact = static_cast<double>(exact) / m.count;
  }
  return m;
}

json to_json(const Metrics& m) {
  return {{"mae", m.mae}, {"rmse", m.rmse}, {"mae_per_site", m.mae_per_site},
          {"exact_fraction", std::isnan(m.exact) ? json(nullptr) : json(m.exact)}, {"count", m.count}};
}

std::string fmt(double v, int precision = 4) {
  if (std::isnan(v)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << v;
  return s.str();
}

std::shared_ptr<EnergyModel> build_model(const std::string& kind, int64_t hidden, int64_t layers,
                                         const magmadnn::ising::Graph& graph) {
  magmadnn::ising::EnergyModelConfig c;
  c.kind = kind;
  c.hidden = hidden;
  c.layers = layers;
  auto model = magmadnn::ising::make_energy_model(c);
  model->set_lattice(graph);
  return model;
}

// --augment for a model's inputs: "spin-flip" negates configurations (H(-s) = H(s) for any
// couplings, no field); "symmetries" adds, for square-image inputs (the CNN) of a uniformly coupled
// periodic square lattice, the eight symmetries of the square (flips and transpose; translations
// the circular CNN already respects). Graph models are invariant to lattice symmetries by
// construction, so they get the spin flip alone.
std::shared_ptr<const data::Augmentation> ising_augmentation(const std::string& spec, const IsingDataset& train,
                                                             const Tensor& inputs) {
  if (spec == "none") return nullptr;
  std::vector<std::shared_ptr<const data::Augmentation>> steps{std::make_shared<data::RandomSignFlip>()};
  if (spec == "symmetries") {
    MAGMADNN_CHECK(train.graph.kind == magmadnn::ising::LatticeKind::Square && train.graph.uniform_coupling(),
                   "ising train --augment symmetries: the lattice symmetries hold for a square lattice with one "
                   "coupling J, not for this ", magmadnn::ising::lattice_name(train.graph.kind),
                   train.graph.uniform_coupling() ? "" : " with varying couplings", " (use --augment spin-flip)");
    if (inputs.dim() == 4) {
      steps.push_back(std::make_shared<data::RandomHorizontalFlip>());
      steps.push_back(std::make_shared<data::RandomVerticalFlip>());
      steps.push_back(std::make_shared<data::RandomTranspose>());
    }
  }
  return std::make_shared<data::Compose>(std::move(steps));
}

// One model: Adam + one-cycle on MSE of the energy per site, on `device`; returns train seconds.
// The epoch's loss is summed on the device and read once per epoch (no host sync per step).
double fit(EnergyModel& model, const IsingDataset& train, const IsingDataset& test, const TrainArgs& a,
           Device device) {
  const double sites = static_cast<double>(train.num_nodes());
  auto dataset = std::make_shared<data::TensorDataset>(model.input(train, 0, train.size()),
                                                       div(train.energies_tensor(kFloat32), sites));
  const auto augmentation = ising_augmentation(a.augment, train, dataset->inputs());
  if (augmentation) std::cout << "  augmenting: " << augmentation->describe() << std::endl;
  data::DataLoader loader(
      dataset, data::DataLoaderOptions(a.batch_size).shuffle(true).seed(a.seed).drop_last(true).augment(augmentation));
  MAGMADNN_CHECK(loader.num_batches() > 0, "ising train: ", train.size(), " training samples are fewer than one batch of ",
                 a.batch_size);
  optim::Adam opt(model.parameters(), optim::AdamOptions(a.lr));
  optim::OneCycleLR schedule(opt, a.lr, a.epochs * loader.num_batches());
  double seconds = 0;
  for (int64_t epoch = 1; epoch <= a.epochs; ++epoch) {
    model.train();
    loader.set_epoch(epoch - 1);
    const EpochStats e = train_epoch(loader, opt, schedule, device, [&](const data::Example& batch) {
      return mse_loss(div(model.forward(batch.input.to(device)), sites), batch.target.to(device));
    });
    const double mean_loss = e.mean_loss;
    seconds += e.seconds;
    const Metrics m = metrics_of(test, predict(model, test, device));
    std::cout << "  epoch " << epoch << "/" << a.epochs << "  train loss/site^2 " << std::scientific
              << std::setprecision(3) << mean_loss << std::defaultfloat << "  test MAE " << fmt(m.mae)
              << "  (" << std::fixed << std::setprecision(1) << seconds << " s)" << std::defaultfloat << std::endl;
  }
  return seconds;
}

int run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const Device device = parse_device_flag(a.device);
  manual_seed(a.seed);
  IsingDataset all = magmadnn::ising::load_ising_dataset(a.data);
  IsingDataset train, test;
  if (!a.test_data.empty()) {
    train = all;
    test = magmadnn::ising::load_ising_dataset(a.test_data);
  } else {
    const RowSplit split = split_rows(all.size(), a.test_fraction, a.seed, "ising train");
    test = take_rows(all, split.test);
    train = take_rows(all, split.train);
  }
  if (a.max_train > 0 && train.size() > a.max_train) {
    std::vector<int64_t> rows(a.max_train);
    std::iota(rows.begin(), rows.end(), 0);
    train = take_rows(train, rows);
  }
  std::cout << "magmadnn " << version() << ": ising train on " << a.data << " (" << train.size() << " train / "
            << test.size() << " test configurations, " << train.num_nodes() << " sites, "
            << magmadnn::ising::lattice_name(train.graph.kind) << "), "
            << (device.is_cpu() ? std::to_string(get_num_threads()) + " threads" : "on " + device.str()) << std::endl;
  std::filesystem::create_directories(a.out);

  std::vector<ParitySeries> plots;
  json results = json::object();
  std::ostringstream table;
  table << std::left << std::setw(11) << "model" << std::right << std::setw(11) << "train MAE" << std::setw(12)
        << "train RMSE" << std::setw(11) << "test MAE" << std::setw(12) << "test RMSE" << std::setw(10) << "exact"
        << std::setw(10) << "seconds" << "\n";
  for (const std::string& kind : a.models) {
    manual_seed(a.seed);
    auto model = build_model(kind, a.hidden, a.layers, train.graph);  // initialised on the CPU, then moved
    model->to(device);
    std::cout << kind << ": " << model->num_parameters() << " parameters" << std::endl;
    const double seconds = fit(*model, train, test, a, device);
    const std::vector<double> test_pred = predict(*model, test, device);
    const Metrics tr = metrics_of(train, predict(*model, train, device)), te_m = metrics_of(test, test_pred);
    const std::string weights = (std::filesystem::path(a.out) / (kind + ".safetensors")).string();
    io::save_module(*model, weights,
                    {{"ising_model", kind}, {"hidden", std::to_string(a.hidden)}, {"layers", std::to_string(a.layers)}});
    table << std::left << std::setw(11) << kind << std::right << std::setw(11) << fmt(tr.mae) << std::setw(12)
          << fmt(tr.rmse) << std::setw(11) << fmt(te_m.mae) << std::setw(12) << fmt(te_m.rmse) << std::setw(10)
          << (std::isnan(te_m.exact) ? "n/a" : fmt(100 * te_m.exact, 2) + "%") << std::setw(10) << fmt(seconds, 1)
          << "\n";
    results[kind] = {{"train", to_json(tr)}, {"test", to_json(te_m)}, {"train_seconds", seconds},
                     {"parameters", model->num_parameters()}, {"weights", weights}};
    plots.push_back({kind, test.energies, test_pred});
  }
  std::cout << "\n" << table.str();
  const std::string svg = (std::filesystem::path(a.out) / "parity.svg").string();
  write_parity_svg(svg, plots, "Ising energies: predicted vs true (test set, " + std::to_string(test.size()) + " configurations)");
  json summary = {{"data", a.data}, {"test_data", a.test_data}, {"train_samples", train.size()},
                  {"test_samples", test.size()}, {"sites", train.num_nodes()}, {"epochs", a.epochs},
                  {"batch_size", a.batch_size}, {"lr", a.lr}, {"hidden", a.hidden}, {"layers", a.layers},
                  {"seed", a.seed}, {"threads", get_num_threads()}, {"device", device.str()}, {"augment", a.augment},
                  {"models", results}};
  const std::string metrics = (std::filesystem::path(a.out) / "metrics.json").string();
  io::write_file_atomic(metrics, summary.dump(2) + "\n", "ising train");
  std::cout << "wrote " << svg << ", " << metrics << " and the weights in " << a.out << std::endl;
  return 0;
}

int run_eval(const EvalArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const Device device = parse_device_flag(a.device);
  std::map<std::string, std::string> meta;
  // Read the architecture from the weights' metadata, then load them into that model.
  io::load_safetensors(a.weights, &meta);
  const std::string kind = meta.count("ising_model") ? meta["ising_model"] : a.model;
  MAGMADNN_CHECK(kind == a.model, "ising eval: ", a.weights, " holds a '", kind, "' model, not '", a.model, "'");
  MAGMADNN_CHECK(meta.count("hidden") && meta.count("layers"), "ising eval: ", a.weights,
                 " lacks the hidden/layers metadata written by `magmadnn ising train`");
  IsingDataset d = magmadnn::ising::load_ising_dataset(a.data);
  auto model = build_model(kind, std::stoll(meta["hidden"]), std::stoll(meta["layers"]), d.graph);
  io::load_module(*model, a.weights);
  model->to(device);
  const std::vector<double> pred = predict(*model, d, device);
  const Metrics m = metrics_of(d, pred);
  json per_temperature = json::array();
  if (!d.temperatures.empty()) {  // Metropolis data: the error at each sampling temperature
    std::map<double, std::vector<int64_t>> rows;
    for (int64_t i = 0; i < d.size(); ++i) rows[d.temperatures[i]].push_back(i);
    std::cout << std::setw(8) << "T" << std::setw(8) << "count" << std::setw(10) << "MAE" << std::setw(10) << "RMSE"
              << std::setw(10) << "exact" << "\n";
    for (const auto& [t, r] : rows) {
      std::vector<double> p;
      for (int64_t i : r) p.push_back(pred[i]);
      const Metrics mt = metrics_of(take_rows(d, r), p);
      std::cout << std::setw(8) << fmt(t, 3) << std::setw(8) << mt.count << std::setw(10) << fmt(mt.mae)
                << std::setw(10) << fmt(mt.rmse) << std::setw(10)
                << (std::isnan(mt.exact) ? "n/a" : fmt(100 * mt.exact, 2) + "%") << "\n";
      json j = to_json(mt);
      j["temperature"] = t;
      per_temperature.push_back(j);
    }
  }
  std::cout << kind << " on " << a.data << " (" << d.size() << " configurations, " << d.num_nodes()
            << " sites): MAE " << fmt(m.mae) << "  RMSE " << fmt(m.rmse) << "  MAE/site " << fmt(m.mae_per_site, 6)
            << "  exact " << (std::isnan(m.exact) ? "n/a" : fmt(100 * m.exact, 2) + "%") << std::endl;
  if (!a.metrics_out.empty()) {
    json j = to_json(m);
    j["model"] = kind;
    j["data"] = a.data;
    if (!per_temperature.empty()) j["per_temperature"] = per_temperature;
    io::write_file_atomic(a.metrics_out, j.dump(2) + "\n", "ising eval");
  }
  return 0;
}

}  // namespace

void add_train_command(CLI::App* ising, std::function<int()>& run) {
  auto ta = std::make_shared<TrainArgs>();
  auto models = std::make_shared<std::string>("cnn");
  CLI::App* train = ising->add_subcommand("train", "train energy models (cnn, gcn, graphconv) and report MAE/RMSE");
  train->add_option("--data", ta->data, "data set: a folder of .npy files or an .npz archive")->required();
  train->add_option("--test-data", ta->test_data, "separate test set (default: hold out --test-fraction of --data)");
  train->add_option("--test-fraction", ta->test_fraction, "fraction of --data held out for testing")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  train->add_option("--model", *models, "comma-separated: cnn, gcn, graphconv")->capture_default_str();
  train->add_option("--max-train", ta->max_train, "use at most this many training samples (0: all)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--epochs", ta->epochs, "passes over the training set")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--batch-size", ta->batch_size, "samples per step")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--lr", ta->lr, "peak learning rate (Adam, one-cycle)")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--hidden", ta->hidden, "channels / features per site")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--layers", ta->layers, "convolution or graph layers")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--seed", ta->seed, "random seed")->capture_default_str();
  train->add_option("--threads", ta->threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  train->add_option("--out", ta->out, "folder for weights, parity.svg and metrics.json")->capture_default_str();
  train->add_option("--device", ta->device, "cpu, cuda or cuda:N")->capture_default_str();
  train->add_option("--augment", ta->augment,
                    "symmetries of the energy applied at random to training configurations: none, spin-flip "
                    "(s -> -s), symmetries (spin flip and, for the cnn on a square lattice with one coupling, the "
                    "eight symmetries of the square)")
      ->check(CLI::IsMember({"none", "spin-flip", "symmetries"}))->capture_default_str();
  train->callback([&run, ta, models] {
    // Runs inside CLI11's parse: report bad values as CLI11 validation errors.
    ta->models = split_list(*models);
    if (ta->models.empty()) throw CLI::ValidationError("--model", "is empty");
    const auto kinds = magmadnn::ising::energy_model_kinds();
    for (const auto& m : ta->models)
      if (std::find(kinds.begin(), kinds.end(), m) == kinds.end())
        throw CLI::ValidationError("--model", "unknown model '" + m + "': expected cnn, gcn or graphconv");
    run = [ta] { return run_train(*ta); };
  });

  auto ea = std::make_shared<EvalArgs>();
  CLI::App* eval = ising->add_subcommand("eval", "evaluate trained weights on a data set (any lattice size)");
  eval->add_option("--model", ea->model, "cnn, gcn or graphconv")
      ->check(CLI::IsMember(magmadnn::ising::energy_model_kinds()))->required();
  eval->add_option("--weights", ea->weights, "weights written by `magmadnn ising train`")->required();
  eval->add_option("--data", ea->data, "data set: a folder of .npy files or an .npz archive")->required();
  eval->add_option("--metrics-out", ea->metrics_out, "write the metrics as JSON");
  eval->add_option("--threads", ea->threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  eval->add_option("--device", ea->device, "cpu, cuda or cuda:N")->capture_default_str();
  eval->callback([&run, ea] { run = [ea] { return run_eval(*ea); }; });
}

}  // namespace magmadnn::cli::ising
