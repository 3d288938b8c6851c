// `magmadnn spacegroup ...`: the space-group application's subcommands (generate, train, eval).
// main.cpp calls add_spacegroup_commands once; after parsing, `run` holds the chosen subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace magmadnn::cli::spacegroup {

// Registers `spacegroup` and its subcommands on `app`. When one of them is parsed, `run` is set
// to a function that executes it and returns the exit code (errors thrown as magmadnn::Error).
void add_spacegroup_commands(CLI::App& app, std::function<int()>& run);

// One registration function per subcommand file.
void add_generate_command(CLI::App* parent, std::function<int()>& run);  // generate.cpp
void add_train_command(CLI::App* parent, std::function<int()>& run);     // train.cpp (train and eval)

// "all", or comma-separated numbers and ranges ("1-74,143,225-230"), or crystal-system names
// ("cubic,hexagonal"): the space-group numbers, ascending, without repeats. Throws Error naming
// the bad item.
std::vector<int> parse_groups(const std::string& text);

}  // namespace magmadnn::cli::spacegroup
