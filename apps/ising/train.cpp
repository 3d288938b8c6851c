// `magmadnn ising train|eval`: placeholder until the models land (being written now).
#include "ising/ising_cli.h"

#include "magmadnn/core/error.h"

namespace magmadnn::cli::ising {

void add_train_command(CLI::App* ising, std::function<int()>& run) {
  CLI::App* train = ising->add_subcommand("train", "train an energy model (cnn, gcn or graphconv)");
  train->callback([&run] { run = [] () -> int { MAGMADNN_ERROR("ising train: not built yet"); }; });
  CLI::App* eval = ising->add_subcommand("eval", "evaluate a trained energy model");
  eval->callback([&run] { run = [] () -> int { MAGMADNN_ERROR("ising eval: not built yet"); }; });
}

}  // namespace magmadnn::cli::ising
