// `magmadnn ising ...`: the Ising-model application's subcommands (generate, train, eval).
// main.cpp calls add_ising_commands once; after parsing, `run` holds the chosen subcommand.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace magmadnn::cli::ising {

// Registers `ising` and its subcommands on `app`. When one of them is parsed, `run` is set to
// a function that executes it and returns the exit code (errors thrown as magmadnn::Error).
void add_ising_commands(CLI::App& app, std::function<int()>& run);

// One registration function per subcommand, each in its own file.
void add_generate_command(CLI::App* ising, std::function<int()>& run);  // generate.cpp
void add_train_command(CLI::App* ising, std::function<int()>& run);     // train.cpp (train and eval)

}  // namespace magmadnn::cli::ising
