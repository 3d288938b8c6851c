// `magmadnn spacegroup generate`: random crystals of the chosen space groups, their six
// diffraction layers as images (spacegroup/diffraction.h), written as a NumPy data set (folder
// or .npz) that `spacegroup train --data` and Python tools read.
#include <chrono>
#include <iostream>
#include <memory>
#include <utility>

#include "cli/validators.h"
#include "magmadnn/core/error.h"
#include "magmadnn/magmadnn.h"
#include "magmadnn/spacegroup/dataset.h"
#include "spacegroup/spacegroup_cli.h"

namespace magmadnn::cli::spacegroup {

namespace {

struct GenerateArgs {
  std::string out, groups = "all";
  int64_t samples_per_group = 100;
  int64_t size = 32;
  int max_index = 4;
  int min_sites = 2, max_sites = 3;
  double min_length = 4, max_length = 8;
  double special_positions = 0;
  bool random_settings = false;
  uint64_t seed = 0;
  int threads = 0;
  bool compress = false;
};

int run_generate(const GenerateArgs& a) {
  using namespace magmadnn::spacegroup;
  if (a.threads > 0) set_num_threads(a.threads);
  GenerateOptions o;
  o.groups = parse_groups(a.groups);
  o.samples_per_group = a.samples_per_group;
  o.seed = a.seed;
  o.pattern.size = a.size;
  o.pattern.max_index = a.max_index;
  o.crystal.min_sites = a.min_sites;
  o.crystal.max_sites = a.max_sites;
  o.crystal.min_length = a.min_length;
  o.crystal.max_length = a.max_length;
  o.crystal.special_probability = a.special_positions;
  o.random_settings = a.random_settings;
  MAGMADNN_CHECK(a.min_sites <= a.max_sites, "spacegroup generate: --min-sites ", a.min_sites, " exceeds --max-sites ",
                 a.max_sites);
  MAGMADNN_CHECK(a.min_length <= a.max_length, "spacegroup generate: --min-length ", a.min_length,
                 " exceeds --max-length ", a.max_length);
  const auto t0 = std::chrono::steady_clock::now();
  SpaceGroupDataset d = generate_spacegroup_dataset(o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t samples = d.size();
  save_spacegroup_dataset(a.out, std::move(d), a.compress);  // the images are written, not copied
  std::cout << "wrote " << samples << " samples (" << o.groups.size() << " space groups x " << a.samples_per_group
            << ", images " << kPatternChannels << "x" << a.size << "x" << a.size << ") to " << a.out << " in "
            << seconds << " s (" << static_cast<int64_t>(samples / std::max(seconds, 1e-9)) << " samples/s, "
            << get_num_threads() << " threads)" << std::endl;
  return 0;
}

}  // namespace

void add_generate_command(CLI::App* parent, std::function<int()>& run) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = parent->add_subcommand("generate", "random crystals' diffraction layers (hk0, hk1, h0l, h1l, 0kl, 1kl) "
                                                     "as images, with their space groups");
  cmd->add_option("--out", a->out, "output: a folder of .npy files, or a path ending in .npz")->required();
  cmd->add_option("--groups", a->groups, "all, numbers and ranges (1-74,225), or crystal systems (cubic,hexagonal)")
      ->capture_default_str();
  cmd->add_option("--samples-per-group", a->samples_per_group, "crystals of each space group")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))->capture_default_str();
  cmd->add_option("--size", a->size, "pixels per side of each layer's image")->check(CLI::Range(8, 256))->capture_default_str();
  cmd->add_option("--max-index", a->max_index, "reflection index at the image's edge along the longest reciprocal axis")
      ->check(CLI::Range(1, 16))->capture_default_str();
  cmd->add_option("--min-sites", a->min_sites, "fewest independent atomic sites")->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--max-sites", a->max_sites, "most independent atomic sites")->check(CLI::Range(1, 8))->capture_default_str();
  cmd->add_option("--min-length", a->min_length, "shortest cell edge (angstrom)")->check(CLI::Range(1.0, 100.0))->capture_default_str();
  cmd->add_option("--max-length", a->max_length, "longest cell edge (angstrom)")->check(CLI::Range(1.0, 100.0))->capture_default_str();
  cmd->add_option("--special-positions", a->special_positions,
                  "probability that a site after the first lies on a special position (a mirror, rotation axis "
                  "or inversion centre; fewer atoms in its orbit); 0: general positions only")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("--random-settings", a->random_settings,
                "describe each triclinic, monoclinic and orthorhombic crystal in a random one of its six axis "
                "settings (Pnma as Pbnm, ...); the standard setting otherwise");
  cmd->add_option("--seed", a->seed, "random seed (the same set for any thread count)")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  cmd->add_flag("--compress", a->compress, "deflate-compress an .npz archive");
  cmd->callback([&run, a] { run = [a] { return run_generate(*a); }; });
}

}  // namespace magmadnn::cli::spacegroup
