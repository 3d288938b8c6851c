// Ising data side: lattice construction, exact energies of hand-made configurations, Metropolis
// against exact enumeration of all 2^16 states of 4x4 lattices (mean energy and histogram),
// and data sets in folders and .npz archives with their validation errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/io/numpy.h"
#include "magmadnn/ising/dataset.h"
#include "magmadnn/ising/sampler.h"

using namespace magmadnn;
using namespace magmadnn::ising;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::HasSubstr;

namespace {
std::vector<int8_t> checkerboard(int64_t L) {
  std::vector<int8_t> s(L * L);
  for (int64_t r = 0; r < L; ++r)
    for (int64_t c = 0; c < L; ++c) s[r * L + c] = (r + c) % 2 ? -1 : 1;
  return s;
}
}  // namespace

TEST(IsingLattice, SquareLatticeBondsAndEnergies) {
  for (int64_t L : {2, 3, 4, 8, 16}) {
    SCOPED_TRACE(L);
    const Graph g = square_lattice(L);
    EXPECT_EQ(g.num_nodes, L * L);
    EXPECT_EQ(g.num_edges(), 2 * L * L);
    const NeighbourTable t = neighbour_table(g);
    EXPECT_TRUE(t.regular);
    EXPECT_EQ(t.max_degree, 4);
    std::vector<int8_t> up(L * L, 1);
    EXPECT_EQ(energy(g, up.data()), -2.0 * L * L);
    if (L % 2 == 0) EXPECT_EQ(energy(g, checkerboard(L).data()), 2.0 * L * L);
  }
  // Node 5 of a 4x4 lattice (row 1, col 1): right 6, down 9, left 4, up 1.
  const NeighbourTable t = neighbour_table(square_lattice(4));
  std::vector<int32_t> nb(t.index.begin() + t.offsets[5], t.index.begin() + t.offsets[6]);
  std::sort(nb.begin(), nb.end());
  EXPECT_EQ(nb, (std::vector<int32_t>{1, 4, 6, 9}));
  // One flipped spin in an all-up 8x8 lattice breaks 4 bonds: E = -128 + 8.
  std::vector<int8_t> s(64, 1);
  s[27] = -1;
  EXPECT_EQ(energy(square_lattice(8), s.data()), -120.0);
  EXPECT_EQ(energy(square_lattice(8, 0.5), s.data()), -60.0);
  EXPECT_THAT(error_of([] { square_lattice(1); }), HasSubstr("square_lattice(L=1): the side must be in [2"));
}

TEST(IsingLattice, TriangularLatticeHandMadeConfigurations) {
  for (int64_t L : {3, 4, 6}) {
    SCOPED_TRACE(L);
    const Graph g = triangular_lattice(L);
    EXPECT_EQ(g.num_edges(), 3 * L * L);
    const NeighbourTable t = neighbour_table(g);
    EXPECT_TRUE(t.regular);
    EXPECT_EQ(t.max_degree, 6);
    std::vector<int8_t> s(L * L, 1);
    EXPECT_EQ(energy(g, s.data()), -3.0 * L * L);
    s[0] = -1;  // six broken bonds
    EXPECT_EQ(energy(g, s.data()), -3.0 * L * L + 12.0);
    if (L % 2 == 0) {
      // Rows alternating: horizontal bonds satisfied (-L^2), vertical and diagonal broken (+2L^2).
      for (int64_t r = 0; r < L; ++r)
        for (int64_t c = 0; c < L; ++c) s[r * L + c] = r % 2 ? -1 : 1;
      EXPECT_EQ(energy(g, s.data()), 1.0 * L * L);
    }
  }
}

TEST(IsingLattice, EdgeListGraphs) {
  // Path 0-1-2 with J = 1 and -2, spins (+, +, -): E = -(1)(1)(1) - (-2)(1)(-1) = -3.
  Graph g = from_edges(3, {0, 1, 1, 2}, {1.0, -2.0});
  std::vector<int8_t> s{1, 1, -1};
  EXPECT_DOUBLE_EQ(energy(g, s.data()), -3.0);
  EXPECT_FALSE(neighbour_table(g).regular);
  const auto batch = energies(g, std::vector<int8_t>{1, 1, -1, 1, 1, 1}.data(), 2);
  EXPECT_EQ(batch, (std::vector<double>{-3.0, 1.0}));
  EXPECT_THAT(error_of([] { from_edges(3, {0, 3}); }), HasSubstr("edge 0 (0, 3) names a node outside [0, 3)"));
  EXPECT_THAT(error_of([] { from_edges(3, {1, 1}); }), HasSubstr("edge 0 is a self-loop on node 1"));
  EXPECT_THAT(error_of([] { from_edges(3, {0, 1, 1}); }), HasSubstr("must hold pairs"));
  EXPECT_THAT(error_of([] { from_edges(3, {0, 1}, {1.0, 2.0}); }), HasSubstr("1 edges but 2 couplings"));
  EXPECT_THAT(error_of([&] { energies(g, std::vector<int8_t>{1, 0, 1}.data(), 1); }),
              HasSubstr("energies: spin 1 is 0 (spins must be +1 or -1)"));
}

TEST(IsingLattice, RandomCouplingsAreSeededAndInRange) {
  Graph a = square_lattice(8), b = square_lattice(8);
  set_random_coupling_uniform(a, 0.5, 1.5, 7);
  set_random_coupling_uniform(b, 0.5, 1.5, 7);
  EXPECT_EQ(a.couplings, b.couplings);
  EXPECT_FALSE(a.uniform_coupling());
  for (double j : a.couplings) EXPECT_TRUE(j >= 0.5 && j < 1.5);
  set_random_coupling_normal(b, 1.0, 0.1, 3);
  double mean = 0;
  for (double j : b.couplings) mean += j / b.num_edges();
  EXPECT_NEAR(mean, 1.0, 0.05);
}

TEST(IsingSampler, UniformSpinsAndTemperatureParsing) {
  const Graph g = square_lattice(8);
  std::vector<int8_t> s(1000 * 64);
  sample_uniform(g, 1000, 5, s.data());
  int64_t up = 0;
  for (int8_t v : s) {
    ASSERT_TRUE(v == 1 || v == -1);
    up += v == 1;
  }
  EXPECT_NEAR(up / 64000.0, 0.5, 0.01);  // 5 sigma = 0.0099
  EXPECT_EQ(parse_temperatures("1.0,2.269,3.5"), (std::vector<double>{1.0, 2.269, 3.5}));
  EXPECT_EQ(parse_temperatures("1:2:0.5"), (std::vector<double>{1.0, 1.5, 2.0}));
  EXPECT_EQ(parse_temperatures("1.0:5.0:0.5").size(), 9u);
  EXPECT_THAT(error_of([] { parse_temperatures("1.0,x"); }), HasSubstr("temperatures '1.0,x': 'x' is not a positive"));
  EXPECT_THAT(error_of([] { parse_temperatures("1:2"); }), HasSubstr("a range is start:stop:step"));
  EXPECT_THAT(error_of([] { parse_temperatures("3:2:0.5"); }), HasSubstr("start 3 is above stop 2"));
}

namespace {
// Exact Boltzmann statistics of a 16-node graph by enumerating all 2^16 states.
struct Exact {
  double mean = 0, var = 0;
  std::map<long long, double> hist;  // energy * 1e6 rounded -> probability
};
Exact enumerate(const Graph& g, double T) {
  const int64_t n = g.num_nodes, states = int64_t(1) << n;
  std::vector<int8_t> s(states * n);
  for (int64_t k = 0; k < states; ++k)
    for (int64_t i = 0; i < n; ++i) s[k * n + i] = (k >> i) & 1 ? 1 : -1;
  const auto e = energies(g, s.data(), states);
  const double emin = *std::min_element(e.begin(), e.end());
  double z = 0, m1 = 0, m2 = 0;
  Exact x;
  for (double v : e) {
    const double w = std::exp(-(v - emin) / T);
    z += w;
    m1 += w * v;
    m2 += w * v * v;
    x.hist[std::llround(v * 1e6)] += w;
  }
  x.mean = m1 / z;
  x.var = m2 / z - x.mean * x.mean;
  for (auto& [k, p] : x.hist) p /= z;
  return x;
}

// Checks Metropolis samples against exact enumeration, with standard errors from 100 batch
// means (which absorb the chains' autocorrelation): mean energy within 5 standard errors, and
// every energy level's probability within 5 standard errors (+1e-3 for rare levels).
void check_against_exact(const Graph& g, double T, bool histogram) {
  SCOPED_TRACE("T = " + std::to_string(T));
  MetropolisOptions o;
  o.temperatures = {T};
  o.num_samples = 200000;
  o.burn_in_sweeps = 500;
  o.sweeps_between = 2;
  o.chains = 4;
  o.seed = 12345;
  const Samples s = sample_metropolis(g, o);
  const Exact x = enumerate(g, T);
  const int64_t batches = 100, per = s.count / batches;
  auto batch_check = [&](auto value, double exact, double slack, const std::string& what) {
    std::vector<double> means(batches, 0.0);
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t i = b * per; i < (b + 1) * per; ++i) means[b] += value(i);
      means[b] /= per;
    }
    double m = 0, v = 0;
    for (double q : means) m += q / batches;
    for (double q : means) v += (q - m) * (q - m) / (batches - 1);
    const double se = std::sqrt(v / batches);
    EXPECT_LE(std::abs(m - exact), 5 * se + slack) << what << ": sampled " << m << ", exact " << exact << ", se " << se;
  };
  batch_check([&](int64_t i) { return s.energies[i]; }, x.mean, 1e-9, "mean energy");
  if (histogram)
    for (const auto& [key, p] : x.hist)
      batch_check([&, key = key](int64_t i) { return std::llround(s.energies[i] * 1e6) == key ? 1.0 : 0.0; }, p,
                  1e-3, "P(E = " + std::to_string(key / 1e6) + ")");
}
}  // namespace

TEST(IsingSampler, MetropolisMatchesExactEnumerationSquare4x4) {
  const Graph g = square_lattice(4);
  for (double T : {1.5, 2.269, 4.0}) check_against_exact(g, T, /*histogram=*/true);
}

TEST(IsingSampler, MetropolisMatchesExactEnumerationTriangularAndRandomCouplings) {
  check_against_exact(triangular_lattice(4), 3.0, true);  // table kernel of degree 6
  Graph g = square_lattice(4);
  set_random_coupling_uniform(g, 0.5, 1.5, 99);  // general kernel (real-valued fields)
  check_against_exact(g, 2.269, false);           // (nearly every state has its own energy level)
}

TEST(IsingSampler, MetropolisIsDeterministicAndCoversTemperatures) {
  const Graph g = square_lattice(8);
  MetropolisOptions o;
  o.temperatures = {1.0, 2.269, 5.0};
  o.num_samples = 301;
  o.burn_in_sweeps = 200;
  o.seed = 3;
  const Samples a = sample_metropolis(g, o);
  o.threads = 3;
  const Samples b = sample_metropolis(g, o);
  EXPECT_EQ(a.spins, b.spins);
  EXPECT_EQ(a.energies, b.energies);
  EXPECT_EQ(a.count, 301);
  EXPECT_EQ(std::count(a.temperatures.begin(), a.temperatures.end(), 1.0), 101);
  EXPECT_EQ(std::count(a.temperatures.begin(), a.temperatures.end(), 5.0), 100);
  EXPECT_EQ(energies(g, a.spins.data(), a.count), a.energies);
  double cold = 0, hot = 0;
  for (int64_t i = 0; i < 100; ++i) {
    cold += a.energies[i] / 100;
    hot += a.energies[201 + i] / 100;
  }
  EXPECT_LT(cold, -120);  // nearly ordered at T = 1 (exact mean per bond ~ -0.997)
  EXPECT_GT(hot, -60);    // disordered at T = 5
  o.sweeps_between = 0;
  EXPECT_THAT(error_of([&] { sample_metropolis(g, o); }), HasSubstr("sweeps_between >= 1"));
  o.sweeps_between = 1;
  o.temperatures = {0.0};
  EXPECT_THAT(error_of([&] { sample_metropolis(g, o); }), HasSubstr("temperatures must be finite and > 0, got 0"));
}

TEST(IsingDataset, RoundTripFolderAndNpz) {
  TempDir dir;
  const Graph sq = square_lattice(4);
  std::vector<int8_t> spins(5 * 16);
  sample_uniform(sq, 5, 1, spins.data());
  const IsingDataset d = make_ising_dataset(sq, spins, {}, {1, 2, 3, 4, 5});
  EXPECT_EQ(d.energies, energies(sq, spins.data(), 5));
  Graph tri = triangular_lattice(3);
  set_random_coupling_uniform(tri, 0.5, 1.5, 4);
  std::vector<int8_t> tspins(7 * 9);
  sample_uniform(tri, 7, 2, tspins.data());
  const IsingDataset t = make_ising_dataset(tri, tspins, {});
  for (const std::string name : {"sq", "sq.npz", "tri", "tri.npz"}) {
    SCOPED_TRACE(name);
    const IsingDataset& src = name.rfind("sq", 0) == 0 ? d : t;
    const std::string p = dir.file(name);
    save_ising_dataset(p, src, name == "tri.npz");
    const IsingDataset back = load_ising_dataset(p, /*verify=*/true);
    EXPECT_EQ(back.spins, src.spins);
    EXPECT_EQ(back.energies, src.energies);
    EXPECT_EQ(back.temperatures, src.temperatures);
    EXPECT_EQ(back.sample_shape, src.sample_shape);
    EXPECT_EQ(back.graph.edges, src.graph.edges);
    EXPECT_EQ(back.graph.couplings, src.graph.couplings);
  }
  // The default square lattice is implicit: no edges file; the layout is what NumPy users expect.
  EXPECT_FALSE(std::filesystem::exists(dir.file("sq/edges.npy")));
  EXPECT_EQ(io::load_npy(dir.file("sq/spins.npy")).shape, (std::vector<int64_t>{5, 4, 4}));
  EXPECT_EQ(io::load_npy(dir.file("tri/spins.npy")).shape, (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(io::load_npy(dir.file("tri/edges.npy")).shape, (std::vector<int64_t>{27, 2}));
  EXPECT_EQ(load_ising_dataset(dir.file("sq")).graph.kind, LatticeKind::Square);

  const Tensor x = load_ising_dataset(dir.file("sq.npz")).spins_tensor();
  EXPECT_EQ(x.shape(), Shape({5, 1, 4, 4}));
  EXPECT_EQ(x.to_vector<float>()[3], static_cast<float>(spins[3]));
  EXPECT_EQ(t.spins_tensor().shape(), Shape({7, 9, 1}));
  EXPECT_EQ(t.energies_tensor().to_vector<float>()[0], static_cast<float>(t.energies[0]));
}

TEST(IsingDataset, ValidationErrors) {
  TempDir dir;
  const Graph sq = square_lattice(2);
  const IsingDataset d = make_ising_dataset(sq, {1, 1, 1, 1, 1, -1, -1, 1}, {});
  save_ising_dataset(dir.file("ok"), d);
  auto with = [&](const std::string& name, const std::map<std::string, io::NpyArray>& replace) {
    std::map<std::string, io::NpyArray> m = io::load_npz([&] {
      save_ising_dataset(dir.file("base.npz"), d);
      return dir.file("base.npz");
    }());
    for (const auto& [k, v] : replace) m[k] = v;
    const std::string p = dir.file(name + ".npz");
    io::save_npz(p, m);
    return error_of([&] { load_ising_dataset(p, true); });
  };
  EXPECT_THAT(with("bad_spin", {{"spins", io::NpyArray::from_vector<int8_t>({1, 1, 1, 1, 1, 0, -1, 1}, {2, 2, 2})}}),
              HasSubstr("spins must be +1 or -1; configuration 1 node 1 holds 0"));
  EXPECT_THAT(with("float_spins", {{"spins", io::NpyArray::from_vector<float>(std::vector<float>(8, 1.f), {2, 2, 2})}}),
              HasSubstr("spins must be int8 (i1), got f4"));
  EXPECT_THAT(with("count", {{"energies", io::NpyArray::from_vector<double>({1, 2, 3}, {3})}}),
              HasSubstr("2 spin configurations but 3 energies"));
  EXPECT_THAT(with("energy", {{"energies", io::NpyArray::from_vector<double>({-8, 1}, {2})}}),
              HasSubstr("stored energy of configuration 1 is 1, the spins give 8"));
  EXPECT_THAT(with("edges", {{"edges", io::NpyArray::from_vector<int64_t>({0, 4}, {1, 2})},
                             {"couplings", io::NpyArray::from_vector<double>({1.0}, {1})}}),
              HasSubstr("edge 0 (0, 4) names a node outside [0, 4)"));
  EXPECT_THAT(with("lonely", {{"edges", io::NpyArray::from_vector<int64_t>({0, 1}, {1, 2})}}),
              HasSubstr("'edges.npy' present without 'couplings.npy'"));
  EXPECT_THAT(with("flat", {{"spins", io::NpyArray::from_vector<int8_t>(std::vector<int8_t>(8, 1), {2, 4})}}),
              HasSubstr("need 'edges.npy' and 'couplings.npy'"));
  std::filesystem::remove(dir.file("ok/energies.npy"));
  EXPECT_THAT(error_of([&] { load_ising_dataset(dir.file("ok")); }),
              HasSubstr(dir.file("ok") + ": missing 'energies.npy' in the folder"));
  EXPECT_THAT(error_of([&] { load_ising_dataset(dir.file("nothing")); }), HasSubstr("no such folder or .npz file"));
  EXPECT_THAT(error_of([&] { load_ising_dataset(dir.file("ok/spins.npy")); }),
              HasSubstr("expected a folder of .npy files or a .npz archive"));
}
