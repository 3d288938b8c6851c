// Ising-model graphs: spins s_i = +1/-1 on the nodes, H = -sum over edges (i,j) of J_ij s_i s_j.
// Periodic square and triangular lattices, graphs from edge lists, uniform or random couplings,
// a CSR neighbour table for samplers, and exact energies of one configuration or a batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace magmadnn::ising {

enum class LatticeKind { Square, Triangular, Graph };

struct Graph {
  LatticeKind kind = LatticeKind::Graph;
  int64_t side = 0;               // L for the lattices (nodes = L*L, node r*L + c), 0 for a general graph
  int64_t num_nodes = 0;
  std::vector<int64_t> edges;     // (E, 2) row-major: edges[2e], edges[2e+1]
  std::vector<double> couplings;  // (E,) J_e

  int64_t num_edges() const { return static_cast<int64_t>(couplings.size()); }
  // True when every J_e is equal (then *j receives it). False for a graph without edges.
  bool uniform_coupling(double* j = nullptr) const;
  // The data-set default: square lattice, every J = 1 (spins.npy alone describes it).
  bool is_default_square() const;
};

// L x L periodic square lattice, 2 L^2 bonds: node r*L + c is bonded to its right neighbour
// (r, c+1 mod L) and the one below (r+1 mod L, c), in that order, node by node. L >= 2.
// For L = 2 the right and left neighbours coincide, so each pair appears twice (a multigraph
// with 2 L^2 = 8 bonds): energies stay -2L^2 (all up) .. +2L^2 and match a circular 3x3
// convolution, which also sees the wrapped neighbour twice.
Graph square_lattice(int64_t L, double j = 1.0);
// L x L periodic triangular lattice, 3 L^2 bonds: node r*L + c is bonded to (r, c+1),
// (r+1, c) and (r+1, c+1) (mod L), 6 neighbours each. L >= 2 (L = 2 doubles bonds as above).
Graph triangular_lattice(int64_t L, double j = 1.0);
// A general graph from an (E, 2) row-major edge list; couplings default to all `j`. Edges must
// name nodes in [0, num_nodes) and no self-loops; repeated pairs add their couplings.
Graph from_edges(int64_t num_nodes, std::vector<int64_t> edges, std::vector<double> couplings = {},
                 double j = 1.0);

// Couplings: all equal, or drawn per bond (deterministically from `seed`).
void set_uniform_coupling(Graph& g, double j);
void set_random_coupling_uniform(Graph& g, double low, double high, uint64_t seed);
void set_random_coupling_normal(Graph& g, double mean, double stddev, uint64_t seed);

// Neighbours of every node (CSR): neighbours of i are index[offsets[i] .. offsets[i+1]), with
// the coupling of the bond in `coupling`. Each edge appears in both endpoints' lists.
struct NeighbourTable {
  std::vector<int64_t> offsets;  // num_nodes + 1
  std::vector<int32_t> index;
  std::vector<double> coupling;
  int64_t max_degree = 0;
  bool regular = false;  // every node has max_degree neighbours
};
NeighbourTable neighbour_table(const Graph& g);

// Throws unless every value is +1 or -1 (`what` names the caller and data in the message).
void check_spins(const int8_t* spins, int64_t count, const std::string& what);
// H = -sum_e J_e s_i s_j of one configuration of g.num_nodes spins (+1/-1).
double energy(const Graph& g, const int8_t* spins);
// Energies of n configurations stored one after the other (n * num_nodes spins).
std::vector<double> energies(const Graph& g, const int8_t* spins, int64_t n);

const char* lattice_name(LatticeKind k);  // "square", "triangular", "graph"

}  // namespace magmadnn::ising
