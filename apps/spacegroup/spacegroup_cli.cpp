// `magmadnn spacegroup`: registers the application's subcommands (see spacegroup_cli.h) and
// parses group lists.
#include "spacegroup/spacegroup_cli.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "magmadnn/core/error.h"
#include "magmadnn/spacegroup/symmetry.h"

namespace magmadnn::cli::spacegroup {

using magmadnn::spacegroup::crystal_system;
using magmadnn::spacegroup::crystal_system_name;
using magmadnn::spacegroup::CrystalSystem;

namespace {

bool parse_int(const std::string& s, int* out) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  *out = std::stoi(s);
  return true;
}

}  // namespace

std::vector<int> parse_groups(const std::string& text) {
  std::set<int> groups;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    if (item == "all") {
      for (int n = 1; n <= 230; ++n) groups.insert(n);
      continue;
    }
    bool system = false;
    for (int s = 0; s <= static_cast<int>(CrystalSystem::Cubic); ++s) {
      if (item != crystal_system_name(static_cast<CrystalSystem>(s))) continue;
      for (int n = 1; n <= 230; ++n)
        if (static_cast<int>(crystal_system(n)) == s) groups.insert(n);
      system = true;
    }
    if (system) continue;
    const size_t dash = item.find('-');
    int lo = 0, hi = 0;
    const bool ok = dash == std::string::npos ? parse_int(item, &lo) && parse_int(item, &hi)
                                              : parse_int(item.substr(0, dash), &lo) && parse_int(item.substr(dash + 1), &hi);
    MAGMADNN_CHECK(ok && 1 <= lo && lo <= hi && hi <= 230, "--groups: bad item '", item,
                   "': expected all, a number or range in 1..230 (e.g. 1-74), or a crystal system (triclinic, "
                   "monoclinic, orthorhombic, tetragonal, trigonal, hexagonal, cubic)");
    for (int n = lo; n <= hi; ++n) groups.insert(n);
  }
  MAGMADNN_CHECK(!groups.empty(), "--groups: '", text, "' names no space group");
  return {groups.begin(), groups.end()};
}

void add_spacegroup_commands(CLI::App& app, std::function<int()>& run) {
  CLI::App* sg = app.add_subcommand(
      "spacegroup", "crystallographic space groups: generate diffraction patterns, train and evaluate ResNet classifiers");
  sg->require_subcommand(1);
  add_generate_command(sg, run);
  add_train_command(sg, run);
}

}  // namespace magmadnn::cli::spacegroup
