// Energy models for Ising configurations: each maps a batch of spin configurations to one energy
// per configuration. The CNN uses circular (periodic) padding and a per-site readout, so one
// trained model applies to any L x L lattice; the graph networks (GCNConv or GraphConv layers, a
// per-node head and a sum readout) apply to any graph, edge-weighted by the couplings J_ij.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "magmadnn/ising/dataset.h"
#include "magmadnn/nn/module.h"

namespace magmadnn::ising {

struct EnergyModelConfig {
  std::string kind = "cnn";  // cnn, gcn or graphconv
  int64_t hidden = 32;       // channels / features per site
  int64_t layers = 2;        // CNN: a 3x3 circular convolution then layers-1 1x1 ones; graph: graph layers
};

class EnergyModel : public nn::Module {
 public:
  // x as made by input(): (B, 1, L, L) for the CNN, (B, nodes, 1) for graph models -> (B)
  Tensor forward(const Tensor& x) override = 0;
  // Prepares the model for a data set's graph (graph models build their adjacency from its
  // edges and couplings; the CNN accepts only uniform-coupling square lattices of any size).
  virtual void set_lattice(const Graph& graph) = 0;
  // Spins of `data` (rows [begin, end)) in the layout forward() expects, float32.
  virtual Tensor input(const IsingDataset& data, int64_t begin, int64_t end) const = 0;
  const EnergyModelConfig& config() const { return config_; }

 protected:
  explicit EnergyModel(EnergyModelConfig config) : config_(std::move(config)) {}
  EnergyModelConfig config_;
};

std::vector<std::string> energy_model_kinds();  // cnn, gcn, graphconv
std::shared_ptr<EnergyModel> make_energy_model(const EnergyModelConfig& config);

}  // namespace magmadnn::ising
