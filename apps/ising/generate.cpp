// `magmadnn ising generate`: samples spin configurations on a lattice or an edge-list graph
// (uniform random spins or Metropolis over a list of temperatures), computes exact energies and
// writes a NumPy data set (folder or .npz) that `ising train --data` and Python tools read.
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/validators.h"
#include "ising/ising_cli.h"
#include "magmadnn/core/error.h"
#include "magmadnn/io/numpy.h"
#include "magmadnn/ising/dataset.h"
#include "magmadnn/ising/sampler.h"

namespace magmadnn::cli::ising {

namespace {

struct GenerateArgs {
  std::string lattice = "square";
  int64_t size = 8;
  std::string edges;
  int64_t nodes = 0;
  std::string coupling = "uniform";
  double j = 1.0;
  double j_min = 0.5, j_max = 1.5;
  std::string sampler = "uniform";
  std::string temperatures = "1.0:5.0:0.5";
  int64_t burn_in = 1000;
  int64_t sweeps_between = 10;
  int64_t chains = 4;
  int64_t samples = 10000;
  uint64_t seed = 0;
  int threads = 1;
  std::string out;
  bool compress = false;
};

magmadnn::ising::Graph build_graph(const GenerateArgs& a) {
  using namespace magmadnn::ising;
  Graph g;
  if (!a.edges.empty()) {
    const io::NpyArray e = io::load_npy(a.edges);
    MAGMADNN_CHECK((e.dtype == "i8" || e.dtype == "i4") && e.shape.size() == 2 && e.shape[1] == 2,
                   "ising generate: --edges ", a.edges, ": expected an int64 or int32 array of shape (E, 2), got ",
                   e.dtype, " with ", e.shape.size(), " dimensions");
    std::vector<int64_t> list(e.numel());
    if (e.dtype == "i8") list = e.to_vector<int64_t>();
    else
      for (int64_t i = 0; i < e.numel(); ++i) list[i] = e.data<int32_t>()[i];
    try {
      g = from_edges(a.nodes, std::move(list), {}, a.j);
    } catch (const Error& err) {
      MAGMADNN_ERROR("ising generate: --edges ", a.edges, ": ", err.what());
    }
  } else if (a.lattice == "square") {
    g = square_lattice(a.size, a.j);
  } else {
    g = triangular_lattice(a.size, a.j);
  }
  if (a.coupling == "random") {
    MAGMADNN_CHECK(a.j_min <= a.j_max, "ising generate: --j-min ", a.j_min, " is above --j-max ", a.j_max);
    set_random_coupling_uniform(g, a.j_min, a.j_max, a.seed ^ 0x5DEECE66Dull);
  }
  return g;
}

int run_generate(const GenerateArgs& a) {
  using namespace magmadnn::ising;
  MAGMADNN_CHECK(!a.compress || (a.out.size() > 4 && a.out.compare(a.out.size() - 4, 4, ".npz") == 0),
                 "ising generate: --compress applies to a .npz output, not the folder ", a.out);
  const Graph g = build_graph(a);
  std::vector<double> temps;
  if (a.sampler == "metropolis") temps = parse_temperatures(a.temperatures);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int8_t> spins;
  std::vector<double> energy, temperature;
  if (a.sampler == "uniform") {
    spins.resize(static_cast<size_t>(a.samples * g.num_nodes));
    sample_uniform(g, a.samples, a.seed, spins.data());
    energy = energies(g, spins.data(), a.samples);
  } else {
    MetropolisOptions o;
    o.temperatures = temps;
    o.num_samples = a.samples;
    o.burn_in_sweeps = a.burn_in;
    o.sweeps_between = a.sweeps_between;
    o.chains = a.chains;
    o.seed = a.seed;
    o.threads = a.threads;
    Samples s = sample_metropolis(g, o);
    spins = std::move(s.spins);
    energy = std::move(s.energies);
    temperature = std::move(s.temperatures);
  }
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const IsingDataset d = make_ising_dataset(g, std::move(spins), std::move(energy), std::move(temperature));
  save_ising_dataset(a.out, d, a.compress);

  std::cout << "ising generate: " << d.size() << " " << a.sampler << " samples on a "
            << (a.edges.empty() ? std::to_string(a.size) + "x" + std::to_string(a.size) + " " + a.lattice + " lattice"
                                : std::to_string(g.num_nodes) + "-node graph")
            << " (" << g.num_edges() << " bonds, " << (a.coupling == "random" ? "random" : "uniform") << " J)";
  if (!temps.empty()) std::cout << " at " << temps.size() << " temperatures";
  std::cout << " in " << sec << " s (" << static_cast<int64_t>(sec > 0 ? d.size() / sec : 0) << " samples/s)\n"
            << "ising generate: wrote " << a.out << std::endl;
  return 0;
}

}  // namespace

void add_generate_command(CLI::App* ising, std::function<int()>& run) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = ising->add_subcommand("generate", "sample spin configurations and their exact energies");
  auto* lattice = cmd->add_option("--lattice", args->lattice, "square or triangular (periodic L x L)")
                      ->check(CLI::IsMember({"square", "triangular"}))
                      ->capture_default_str();
  auto* size = cmd->add_option("--size", args->size, "lattice side L (>= 2)")->check(CLI::Range(2, 46340))->capture_default_str();
  auto* edges = cmd->add_option("--edges", args->edges, "a general graph: int64 (E, 2) edge list as .npy (needs --nodes)")
                    ->check(CLI::ExistingFile)
                    ->excludes(lattice)
                    ->excludes(size);
  auto* nodes = cmd->add_option("--nodes", args->nodes, "number of nodes of the --edges graph")->check(magmadnn::cli::Positive);
  edges->needs(nodes);
  nodes->needs(edges);
  cmd->add_option("--coupling", args->coupling, "uniform (J = --j) or random (uniform in [--j-min, --j-max])")
      ->check(CLI::IsMember({"uniform", "random"}))
      ->capture_default_str();
  cmd->add_option("--j", args->j, "coupling J of every bond (--coupling uniform)")->capture_default_str();
  cmd->add_option("--j-min", args->j_min, "lowest random coupling")->capture_default_str();
  cmd->add_option("--j-max", args->j_max, "highest random coupling")->capture_default_str();
  cmd->add_option("--sampler", args->sampler, "uniform (independent random spins) or metropolis")
      ->check(CLI::IsMember({"uniform", "metropolis"}))
      ->capture_default_str();
  cmd->add_option("--temperatures", args->temperatures,
                  "Metropolis temperatures: a list \"1.0,2.269,3.5\" or a range \"start:stop:step\"")
      ->capture_default_str();
  cmd->add_option("--burn-in", args->burn_in, "Metropolis sweeps before the first sample")
      ->check(magmadnn::cli::NonNegative)->capture_default_str();
  cmd->add_option("--sweeps-between", args->sweeps_between, "Metropolis sweeps between samples")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  cmd->add_option("--chains", args->chains, "independent Metropolis chains per temperature")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  cmd->add_option("--samples", args->samples, "number of configurations (split evenly over temperatures)")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed (spins and random couplings)")->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads (temperatures run in parallel)")->check(magmadnn::cli::Positive)->capture_default_str();
  cmd->add_option("--out", args->out, "output: a folder of .npy files, or a .npz archive")->required();
  cmd->add_flag("--compress", args->compress, "deflate-compress the .npz archive");
  cmd->callback([&run, args] { run = [args]() -> int { return run_generate(*args); }; });
}

}  // namespace magmadnn::cli::ising
