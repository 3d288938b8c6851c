// `magmadnn ising`: registers the application's subcommands (see ising_cli.h).
#include "ising/ising_cli.h"

namespace magmadnn::cli::ising {

void add_ising_commands(CLI::App& app, std::function<int()>& run) {
  CLI::App* ising = app.add_subcommand("ising", "Ising-model energies: generate lattices, train and evaluate CNN/GNN models");
  ising->require_subcommand(1);
  add_generate_command(ising, run);
  add_train_command(ising, run);
}

}  // namespace magmadnn::cli::ising
