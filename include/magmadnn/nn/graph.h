// Graph neural-network layers: the graph structure (Graph, and GraphBatch for block-diagonal
// batches of different graphs), the GCN normalisation, GCNConv (Kipf & Welling), GraphConv
// (separate weights for a node and its neighbourhood) and per-graph readouts (sum, mean, max).
// Two ways to batch: graphs sharing one structure give x (B, N, F) and one Graph (one kernel call
// for the whole batch); graphs of different structures give x (total nodes, F) and a GraphBatch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "magmadnn/nn/linear.h"
#include "magmadnn/nn/module.h"
#include "magmadnn/ops/sparse.h"

namespace magmadnn::nn {

// D^-1/2 (A + I) D^-1/2 with D the diagonal of the row sums of A + I (Kipf & Welling). Edge
// weights of A are kept; the added self-loops weigh 1 (and add to an existing diagonal entry).
// Rows whose degree is not positive get 0. Computed in float64, returned in A's dtype.
CsrMatrix gcn_norm(const CsrMatrix& adjacency);

// The structure of one graph (or of several disconnected ones): its adjacency A (A_ij = weight
// of the edge that brings node j's features to node i), and, made on first use and cached, A and
// gcn_norm(A) in each dtype and on each device a layer asks for (its input's). A cheap handle:
// copies share the cache.
class Graph {
 public:
  Graph() = default;  // undefined
  explicit Graph(CsrMatrix adjacency);
  // num_nodes x num_nodes adjacency from edges (E, 2) int64 and optional weights (E); undirected
  // (symmetric) by default: each edge is listed once and added in both directions.
  static Graph from_edges(int64_t num_nodes, const Tensor& edges, const Tensor& weights = Tensor(),
                          bool symmetric = true);

  bool defined() const { return state_ != nullptr; }
  int64_t num_nodes() const;
  const CsrMatrix& adjacency() const;  // as given
  CsrMatrix adjacency(DType dtype, Device device = Device::cpu()) const;
  // gcn_norm(adjacency()), once per dtype and device
  CsrMatrix gcn_normalized(DType dtype, Device device = Device::cpu()) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Graphs of different structures as one block-diagonal graph: node k of graph g is node
// node_offsets()[g] + k of the batch. Layers take it as a Graph with x (num_nodes(), F); readouts
// reduce per graph to (num_graphs(), F).
class GraphBatch : public Graph {
 public:
  explicit GraphBatch(const std::vector<Graph>& graphs);  // each with at least one node
  int64_t num_graphs() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  const std::vector<int64_t>& node_offsets() const { return offsets_; }  // (num_graphs + 1)
  const Tensor& graph_index() const { return graph_index_; }  // int64 (num_nodes): graph of each node
  // (num_graphs x num_nodes) matrix whose rows sum (or average) the nodes of one graph.
  CsrMatrix pooling(bool mean, DType dtype, Device device = Device::cpu()) const;

 private:
  std::vector<int64_t> offsets_;
  Tensor graph_index_;
  struct Pools;
  std::shared_ptr<Pools> pools_;  // pooling matrices per (mean, dtype, device), made on first use
};

enum class Readout { Sum, Mean, Max };
// Per-graph readout of a shared-structure batch: x (B, N, F) -> (B, F); (N, F) -> (F).
Tensor readout(const Tensor& x, Readout kind);
// Per-graph readout of a block-diagonal batch: x (num_nodes, F) -> (num_graphs, F). Max sends the
// gradient to the maximal node(s) of each graph (split between ties).
Tensor readout(const Tensor& x, const GraphBatch& batch, Readout kind);

struct GraphLayerOptions {
  GraphLayerOptions(int64_t in_features, int64_t out_features) : in_(in_features), out_(out_features) {}
  GraphLayerOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool bias() const { return bias_; }

 private:
  int64_t in_, out_;
  bool bias_ = true;
};
using GCNConvOptions = GraphLayerOptions;
using GraphConvOptions = GraphLayerOptions;

// Base of the graph layers: the graph is given per call (forward(x, graph)) or held with
// set_graph(graph), which lets a layer sit in a Sequential and use Module::forward(x).
class GraphModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x, const Graph& graph) = 0;
  Tensor forward(const Tensor& x) override;  // with the graph from set_graph
  using Module::operator();
  Tensor operator()(const Tensor& x, const Graph& graph) { return forward(x, graph); }
  void set_graph(Graph graph) { graph_ = std::move(graph); }
  const Graph& graph() const { return graph_; }

 protected:
  // Checks x (N, in) or (B, N, in) against the graph's node count and the layer's in_features.
  void check_input(const Tensor& x, const Graph& graph, int64_t in_features) const;

 private:
  Graph graph_;
};

// Calls set_graph(graph) on every GraphModule in the tree under `root` (root included), e.g. to
// evaluate a trained model on a larger lattice; returns how many layers were set.
int64_t set_graph(Module& root, const Graph& graph);

// GCNConv (Kipf & Welling): X' = D^-1/2 (A + I) D^-1/2 X W^T + b. x (N, in) or (B, N, in) ->
// (N, out) or (B, N, out). Parameters as PyTorch Geometric names them: "lin.weight" (out, in),
// glorot-initialised, and "bias" (out), zeros. The normalised adjacency is cached by the Graph.
class GCNConv : public GraphModule {
 public:
  explicit GCNConv(const GCNConvOptions& options);
  GCNConv(int64_t in_features, int64_t out_features, bool bias = true)
      : GCNConv(GCNConvOptions(in_features, out_features).bias(bias)) {}
  using GraphModule::forward;
  Tensor forward(const Tensor& x, const Graph& graph) override;
  std::string name() const override;
  void reset_parameters();
  const GCNConvOptions& options() const { return options_; }
  Tensor& weight() { return lin_->weight(); }
  Tensor& bias() { return bias_; }

 private:
  GCNConvOptions options_;
  std::shared_ptr<Linear> lin_;
  Tensor bias_;
};

// GraphConv (Morris et al.; PyTorch Geometric's GraphConv with sum aggregation):
// x'_i = W_root x_i + W_rel sum_j A_ij x_j + b. Parameters "lin_rel.weight", "lin_rel.bias" and
// "lin_root.weight" (out, in), initialised as PyTorch Geometric does (torch.nn.Linear's bounds).
class GraphConv : public GraphModule {
 public:
  explicit GraphConv(const GraphConvOptions& options);
  GraphConv(int64_t in_features, int64_t out_features, bool bias = true)
      : GraphConv(GraphConvOptions(in_features, out_features).bias(bias)) {}
  using GraphModule::forward;
  Tensor forward(const Tensor& x, const Graph& graph) override;
  std::string name() const override;
  void reset_parameters();
  const GraphConvOptions& options() const { return options_; }
  Linear& lin_rel() { return *lin_rel_; }
  Linear& lin_root() { return *lin_root_; }

 private:
  GraphConvOptions options_;
  std::shared_ptr<Linear> lin_rel_, lin_root_;
};

}  // namespace magmadnn::nn
