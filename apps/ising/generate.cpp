// `magmadnn ising generate`: placeholder until the sampler lands (being written now).
#include "ising/ising_cli.h"

#include "magmadnn/core/error.h"

namespace magmadnn::cli::ising {

void add_generate_command(CLI::App* ising, std::function<int()>& run) {
  CLI::App* cmd = ising->add_subcommand("generate", "sample spin configurations and their exact energies");
  cmd->callback([&run] { run = [] () -> int { MAGMADNN_ERROR("ising generate: not built yet"); }; });
}

}  // namespace magmadnn::cli::ising
