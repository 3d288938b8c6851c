// Ising data sets as NumPy files: a folder (spins.npy int8 (N, L, L) or (N, nodes), energies.npy
// float64 (N,), plus edges.npy int64 (E, 2) and couplings.npy float64 (E,) unless the graph is
// the default J = 1 square lattice; optional temperatures.npy float64 (N,)) or one .npz archive.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"
#include "magmadnn/ising/lattice.h"

namespace magmadnn::ising {

struct IsingDataset {
  Graph graph;
  std::vector<int64_t> sample_shape;  // {L, L} (spins stored (N, L, L)) or {nodes}
  std::vector<int8_t> spins;          // size() * num_nodes, +1/-1
  std::vector<double> energies;       // size()
  std::vector<double> temperatures;   // empty, or size() sampling temperatures (Metropolis)

  int64_t size() const { return static_cast<int64_t>(energies.size()); }
  int64_t num_nodes() const { return graph.num_nodes; }
  // Spins as float32 for models: (N, 1, L, L) when stored as (N, L, L), else (N, nodes, 1).
  Tensor spins_tensor() const;
  // Energies as a (N,) tensor.
  Tensor energies_tensor(DType dtype = kFloat32) const;
};

// A data set for `graph` from sampled spins (n * nodes); energies computed exactly. Square
// lattices are stored (N, L, L), others (N, nodes).
IsingDataset make_ising_dataset(const Graph& graph, std::vector<int8_t> spins, std::vector<double> energies,
                                std::vector<double> temperatures = {});

// Loads a folder or a .npz file (decided by: is `path` a directory, else does it end in .npz).
// Validates dtypes, shapes, equal N across arrays, spins +/-1, edges in range; with `verify`,
// also that every stored energy equals the one recomputed from the spins (to 1e-9 relative).
// Problems throw one line "load_ising_dataset: <path>: <what>".
IsingDataset load_ising_dataset(const std::string& path, bool verify = false);

// Writes a folder (created if missing; each file atomic) or, when `path` ends in .npz, one
// archive (atomic; deflate-compressed when `compress`).
void save_ising_dataset(const std::string& path, const IsingDataset& data, bool compress = false);

}  // namespace magmadnn::ising
