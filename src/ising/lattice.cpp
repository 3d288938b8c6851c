// Ising lattices, couplings, neighbour tables and exact energies (see ising/lattice.h).
#include "magmadnn/ising/lattice.h"

#include <cmath>
#include <limits>

#include "magmadnn/core/error.h"
#include "magmadnn/ising/sampler.h"

namespace magmadnn::ising {

bool Graph::uniform_coupling(double* j) const {
  if (couplings.empty()) return false;
  for (double c : couplings)
    if (c != couplings[0]) return false;
  if (j) *j = couplings[0];
  return true;
}

bool Graph::is_default_square() const {
  double j = 0;
  return kind == LatticeKind::Square && uniform_coupling(&j) && j == 1.0;
}

const char* lattice_name(LatticeKind k) {
  switch (k) {
    case LatticeKind::Square: return "square";
    case LatticeKind::Triangular: return "triangular";
    default: return "graph";
  }
}

namespace {
Graph periodic_lattice(const char* name, LatticeKind kind, int64_t L, double j,
                       const std::vector<std::pair<int, int>>& offsets) {
  MAGMADNN_CHECK(L >= 2 && L <= 46340, name, "(L=", L, "): the side must be in [2, 46340]");
  Graph g;
  g.kind = kind;
  g.side = L;
  g.num_nodes = L * L;
  g.edges.reserve(2 * offsets.size() * g.num_nodes);
  for (int64_t r = 0; r < L; ++r)
    for (int64_t c = 0; c < L; ++c)
      for (const auto& [dr, dc] : offsets) {
        g.edges.push_back(r * L + c);
        g.edges.push_back(((r + dr) % L) * L + (c + dc) % L);
      }
  g.couplings.assign(g.edges.size() / 2, j);
  return g;
}
}  // namespace

Graph square_lattice(int64_t L, double j) {
  return periodic_lattice("square_lattice", LatticeKind::Square, L, j, {{0, 1}, {1, 0}});
}

Graph triangular_lattice(int64_t L, double j) {
  return periodic_lattice("triangular_lattice", LatticeKind::Triangular, L, j, {{0, 1}, {1, 0}, {1, 1}});
}

Graph from_edges(int64_t num_nodes, std::vector<int64_t> edges, std::vector<double> couplings, double j) {
  MAGMADNN_CHECK(num_nodes >= 1 && num_nodes <= std::numeric_limits<int32_t>::max(),
                 "from_edges: num_nodes must be in [1, 2^31), got ", num_nodes);
  MAGMADNN_CHECK(edges.size() % 2 == 0, "from_edges: the edge list must hold pairs (E, 2), got ", edges.size(),
                 " values");
  const int64_t E = static_cast<int64_t>(edges.size() / 2);
  if (couplings.empty()) couplings.assign(E, j);
  MAGMADNN_CHECK(static_cast<int64_t>(couplings.size()) == E, "from_edges: ", E, " edges but ", couplings.size(),
                 " couplings");
  for (int64_t e = 0; e < E; ++e) {
    const int64_t a = edges[2 * e], b = edges[2 * e + 1];
    MAGMADNN_CHECK(a >= 0 && a < num_nodes && b >= 0 && b < num_nodes, "from_edges: edge ", e, " (", a, ", ", b,
                   ") names a node outside [0, ", num_nodes, ")");
    MAGMADNN_CHECK(a != b, "from_edges: edge ", e, " is a self-loop on node ", a);
    MAGMADNN_CHECK(std::isfinite(couplings[e]), "from_edges: coupling ", e, " is not finite");
  }
  Graph g;
  g.num_nodes = num_nodes;
  g.edges = std::move(edges);
  g.couplings = std::move(couplings);
  return g;
}

void set_uniform_coupling(Graph& g, double j) {
  MAGMADNN_CHECK(std::isfinite(j), "set_uniform_coupling: J must be finite, got ", j);
  g.couplings.assign(g.edges.size() / 2, j);
}

void set_random_coupling_uniform(Graph& g, double low, double high, uint64_t seed) {
  MAGMADNN_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
                 "set_random_coupling_uniform: expected finite low <= high, got [", low, ", ", high, "]");
  Xoshiro256 rng(seed);
  for (double& c : g.couplings) c = low + (high - low) * rng.uniform();
}

void set_random_coupling_normal(Graph& g, double mean, double stddev, uint64_t seed) {
  MAGMADNN_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0,
                 "set_random_coupling_normal: expected finite mean and stddev >= 0, got ", mean, ", ", stddev);
  Xoshiro256 rng(seed);
  for (size_t e = 0; e < g.couplings.size(); e += 2) {
    // Box-Muller: two normals per pair of uniforms.
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    g.couplings[e] = mean + stddev * r * std::cos(2 * M_PI * u2);
    if (e + 1 < g.couplings.size()) g.couplings[e + 1] = mean + stddev * r * std::sin(2 * M_PI * u2);
  }
}

NeighbourTable neighbour_table(const Graph& g) {
  NeighbourTable t;
  const int64_t n = g.num_nodes, E = g.num_edges();
  std::vector<int64_t> degree(n, 0);
  for (int64_t e = 0; e < E; ++e) {
    ++degree[g.edges[2 * e]];
    ++degree[g.edges[2 * e + 1]];
  }
  t.offsets.assign(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    t.offsets[i + 1] = t.offsets[i] + degree[i];
    t.max_degree = std::max(t.max_degree, degree[i]);
  }
  t.regular = true;
  for (int64_t i = 0; i < n; ++i) t.regular = t.regular && degree[i] == t.max_degree;
  t.index.resize(2 * E);
  t.coupling.resize(2 * E);
  std::vector<int64_t> fill(t.offsets.begin(), t.offsets.end() - 1);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t a = g.edges[2 * e], b = g.edges[2 * e + 1];
    t.index[fill[a]] = static_cast<int32_t>(b);
    t.coupling[fill[a]++] = g.couplings[e];
    t.index[fill[b]] = static_cast<int32_t>(a);
    t.coupling[fill[b]++] = g.couplings[e];
  }
  return t;
}

void check_spins(const int8_t* spins, int64_t count, const std::string& what) {
  for (int64_t i = 0; i < count; ++i)
    MAGMADNN_CHECK(spins[i] == 1 || spins[i] == -1, what, ": spin ", i, " is ", int(spins[i]),
                   " (spins must be +1 or -1)");
}

namespace {
// Uniform couplings: an integer bond sum, then one multiply (exact on every lattice size).
double energy_of(const Graph& g, const int8_t* s, bool uniform, double j) {
  const int64_t E = g.num_edges();
  const int64_t* e = g.edges.data();
  if (uniform) {
    int64_t sum = 0;
    for (int64_t k = 0; k < E; ++k) sum += s[e[2 * k]] * s[e[2 * k + 1]];
    return sum == 0 ? 0.0 : -j * static_cast<double>(sum);  // no -0.0
  }
  double h = 0;
  for (int64_t k = 0; k < E; ++k) h -= g.couplings[k] * (s[e[2 * k]] * s[e[2 * k + 1]]);
  return h;
}
}  // namespace

double energy(const Graph& g, const int8_t* s) {
  double j = 0;
  const bool uniform = g.uniform_coupling(&j);
  return energy_of(g, s, uniform, j);
}

std::vector<double> energies(const Graph& g, const int8_t* spins, int64_t n) {
  MAGMADNN_CHECK(n >= 0, "energies: negative count ", n);
  check_spins(spins, n * g.num_nodes, "energies");
  std::vector<double> out(n);
  double j = 0;
  const bool uniform = g.uniform_coupling(&j);
  for (int64_t c = 0; c < n; ++c) out[c] = energy_of(g, spins + c * g.num_nodes, uniform, j);
  return out;
}

}  // namespace magmadnn::ising
