// Hyperparameter search (train/hpo.h): search spaces, random configurations, successive halving.
#include "magmadnn/train/hpo.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "magmadnn/core/error.h"
#include "magmadnn/core/tensor.h"
#include "magmadnn/dist/process_group.h"

namespace magmadnn::train::hpo {

namespace {

double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }  // [0, 1)

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// The whole of `s` as a finite number, or an Error naming the parameter.
double number(const std::string& s, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  MAGMADNN_CHECK(!s.empty() && end == s.c_str() + s.size() && std::isfinite(v), "hpo: '", text, "': '", s,
                 "' is not a number");
  return v;
}

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

Param Param::parse(const std::string& text) {
  const size_t eq = text.find('=');
  MAGMADNN_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), "hpo: '", text,
                 "': expected name=range (log:LOW:HIGH, LOW:HIGH, int:LOW:HIGH or a|b|c)");
  Param p;
  p.name = text.substr(0, eq);
  for (char c : p.name)
    MAGMADNN_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-', "hpo: '", text,
                   "': a name has letters, digits, '_' and '-' only");
  const std::string spec = text.substr(eq + 1);
  const std::vector<std::string> parts = split(spec, ':');
  if (spec.find(':') == std::string::npos) {  // a|b|c, or one fixed value
    p.kind = Kind::Choice;
    p.choices = split(spec, '|');
    std::set<std::string> seen;
    for (const std::string& c : p.choices) {
      MAGMADNN_CHECK(!c.empty(), "hpo: '", text, "': an empty choice");
      MAGMADNN_CHECK(seen.insert(c).second, "hpo: '", text, "': choice '", c, "' appears twice");
    }
    return p;
  }
  const bool log = parts[0] == "log", integer = parts[0] == "int";
  const size_t first = (log || integer) ? 1 : 0;
  MAGMADNN_CHECK(parts.size() == first + 2, "hpo: '", text,
                 "': expected log:LOW:HIGH, LOW:HIGH or int:LOW:HIGH after the '='");
  p.low = number(parts[first], text);
  p.high = number(parts[first + 1], text);
  if (log) {
    p.kind = Kind::LogUniform;
    MAGMADNN_CHECK(p.low > 0 && p.low < p.high, "hpo: '", text, "': a log range needs 0 < LOW < HIGH");
  } else if (integer) {
    p.kind = Kind::Int;
    MAGMADNN_CHECK(p.low == std::floor(p.low) && p.high == std::floor(p.high) && p.low <= p.high, "hpo: '", text,
                   "': an int range needs whole numbers LOW <= HIGH");
  } else {
    p.kind = Kind::Uniform;
    MAGMADNN_CHECK(p.low < p.high, "hpo: '", text, "': a range needs LOW < HIGH");
  }
  return p;
}

std::string Param::sample(std::mt19937_64& rng) const {
  const double u = unit(rng);
  switch (kind) {
    case Kind::Uniform: return format(low + (high - low) * u);
    case Kind::LogUniform: return format(std::exp(std::log(low) + (std::log(high) - std::log(low)) * u));
    case Kind::Int: return std::to_string(static_cast<int64_t>(low + std::floor(u * (high - low + 1))));
    case Kind::Choice: return choices[static_cast<size_t>(u * static_cast<double>(choices.size()))];
  }
  return "";
}

SearchSpace SearchSpace::parse(const std::string& text) {
  SearchSpace s;
  std::set<std::string> names;
  for (const std::string& item : split(text, ',')) {
    s.params.push_back(Param::parse(item));
    MAGMADNN_CHECK(names.insert(s.params.back().name).second, "hpo: '", s.params.back().name,
                   "' appears twice in the search space");
  }
  return s;
}

Config SearchSpace::sample(std::mt19937_64& rng) const {
  Config c;
  for (const Param& p : params) c[p.name] = p.sample(rng);
  return c;
}

std::vector<Trial> search(const SearchSpace& space, const Objective& objective, const SearchOptions& o) {
  MAGMADNN_CHECK(o.trials >= 1, "hpo: trials must be at least 1, got ", o.trials);
  MAGMADNN_CHECK(o.min_budget >= 1, "hpo: the smallest budget must be at least 1, got ", o.min_budget);
  MAGMADNN_CHECK(o.eta >= 1, "hpo: eta must be at least 1, got ", o.eta);
  MAGMADNN_CHECK(o.max_budget == 0 || o.max_budget >= o.min_budget, "hpo: the budget cap ", o.max_budget,
                 " is below the smallest budget ", o.min_budget);
  std::mt19937_64 rng(o.seed);
  std::vector<Trial> trials(static_cast<size_t>(o.trials));
  for (int64_t i = 0; i < o.trials; ++i) {
    trials[i].id = i;
    trials[i].config = space.sample(rng);
  }
  const int ranks = o.group ? o.group->size() : 1, rank = o.group ? o.group->rank() : 0;
  std::vector<int64_t> active(static_cast<size_t>(o.trials));
  for (int64_t i = 0; i < o.trials; ++i) active[i] = i;
  int64_t budget = o.min_budget;
  for (int64_t rung = 0;; ++rung) {
    // This rank's share of the rung; the others' results arrive through the all-reduce.
    const int64_t n = static_cast<int64_t>(active.size());
    std::vector<double> score(n, 0.0), failed(n, 0.0), seconds(n, 0.0);
    for (int64_t k = rank; k < n; k += ranks) {
      Trial& t = trials[active[k]];
      const auto t0 = std::chrono::steady_clock::now();
      try {
        score[k] = objective(t.config, budget, t.id);
        if (!std::isfinite(score[k])) throw Error("the objective is " + format(score[k]));
      } catch (const std::exception& e) {
        failed[k] = 1;
        t.error = e.what();
      }
      seconds[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (o.on_trial) {
        Trial report = t;
        report.rung = rung, report.budget = budget, report.score = score[k], report.failed = failed[k] != 0;
        report.seconds += seconds[k];
        o.on_trial(report);
      }
    }
    if (ranks > 1) {
      std::vector<double> packed(score);  // [score | failed | seconds], one all-reduce
      packed.insert(packed.end(), failed.begin(), failed.end());
      packed.insert(packed.end(), seconds.begin(), seconds.end());
      Tensor t = from_vector<double>(packed, {3 * n});
      o.group->all_reduce(t);
      const std::vector<double> sum = t.to_vector<double>();
      for (int64_t k = 0; k < n; ++k) score[k] = sum[k], failed[k] = sum[n + k], seconds[k] = sum[2 * n + k];
    }
    std::vector<int64_t> survivors;
    for (int64_t k = 0; k < n; ++k) {
      Trial& t = trials[active[k]];
      t.rung = rung, t.budget = budget, t.score = score[k], t.failed = failed[k] != 0;
      t.seconds += seconds[k];
      if (!t.failed) survivors.push_back(t.id);
    }
    std::stable_sort(survivors.begin(), survivors.end(),
                     [&](int64_t a, int64_t b) { return trials[a].score > trials[b].score; });
    const int64_t keep = o.eta == 1 ? 0 : (static_cast<int64_t>(survivors.size()) + o.eta - 1) / o.eta;
    const int64_t next_budget = budget * o.eta;
    if (n <= 1 || keep == 0 || (o.max_budget > 0 && next_budget > o.max_budget)) break;
    survivors.resize(static_cast<size_t>(keep));
    std::sort(survivors.begin(), survivors.end());  // run in id order: the same split on every rank
    active = survivors;
    budget = next_budget;
  }
  std::stable_sort(trials.begin(), trials.end(), [](const Trial& a, const Trial& b) {
    if (a.failed != b.failed) return !a.failed;
    if (a.rung != b.rung) return a.rung > b.rung;
    return a.score > b.score;
  });
  return trials;
}

}  // namespace magmadnn::train::hpo
