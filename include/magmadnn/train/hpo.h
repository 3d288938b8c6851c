// Hyperparameter search: random configurations from a search space, evaluated with synchronous
// successive halving (Jamieson & Talwalkar 2016; the rung schedule of Hyperband's brackets): every
// trial runs at the smallest budget, the best 1/eta of them run again at eta times the budget,
// and so on until one is left or the budget cap is reached. Budgets are whatever the objective
// makes of them (epochs for `magmadnn hpo`). A trial is retrained from scratch at each rung, so
// every score is a pure function of (configuration, budget, trial seed): a search is reproducible
// and gives the same result on one process or split over the ranks of a process group.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace magmadnn::dist {
class ProcessGroup;
}

namespace magmadnn::train::hpo {

// One hyperparameter's range, parsed from "name=spec":
//   "lr=log:1e-4:1e-1"      log-uniform on [1e-4, 1e-1]
//   "momentum=0.8:0.99"     uniform on [0.8, 0.99]
//   "width=int:16:128"      an integer, uniform on [16, 128]
//   "optimizer=sgd|adam"    one of the choices, equally likely
struct Param {
  enum class Kind { Uniform, LogUniform, Int, Choice };
  std::string name;
  Kind kind = Kind::Uniform;
  double low = 0, high = 0;          // Uniform, LogUniform, Int (both ends included for Int)
  std::vector<std::string> choices;  // Choice

  // Throws Error naming the text and what is wrong with it.
  static Param parse(const std::string& text);
  // A value drawn from `rng`, as text ("0.0123", "64", "adam").
  std::string sample(std::mt19937_64& rng) const;
};

using Config = std::map<std::string, std::string>;  // name -> value as text

struct SearchSpace {
  std::vector<Param> params;
  // Comma-separated Param specs: "lr=log:1e-4:0.1,optimizer=sgd|adam". Names must be distinct.
  static SearchSpace parse(const std::string& text);
  Config sample(std::mt19937_64& rng) const;
};

struct Trial {
  int64_t id = 0;       // 0-based, in sampling order; also the trial's seed offset
  Config config;
  int64_t rung = 0;     // the last rung it ran in (0: the first)
  int64_t budget = 0;   // that rung's budget
  double score = 0;     // the objective there (higher is better); meaningless when failed
  bool failed = false;  // the objective threw (e.g. the loss diverged)
  std::string error;    // its message, on the rank that ran it (empty elsewhere)
  double seconds = 0;   // wall time over all its rungs
};

struct SearchOptions {
  int64_t trials = 9;
  uint64_t seed = 0;        // configurations are drawn from std::mt19937_64(seed)
  int64_t min_budget = 1;   // rung 0's budget
  int64_t eta = 3;          // keep the best ceil(n / eta) per rung and multiply the budget by eta; 1: no halving
  int64_t max_budget = 0;   // no rung beyond this budget (0: no cap)
  // When set, the trials of each rung are split over its ranks (rank r runs the r-th, (r+N)-th,
  // ... of the rung) and the scores are all-reduced, so every rank returns the same result.
  std::shared_ptr<dist::ProcessGroup> group;
  // Called on every rank after each trial it ran (progress reports).
  std::function<void(const Trial&)> on_trial;
};

// objective(config, budget, trial id) -> score, higher is better; throwing marks the trial failed
// (it drops out of the search). Returns every trial, best first: by rung reached, then score;
// failed trials last.
using Objective = std::function<double(const Config& config, int64_t budget, int64_t trial)>;
std::vector<Trial> search(const SearchSpace& space, const Objective& objective, const SearchOptions& options);

}  // namespace magmadnn::train::hpo
