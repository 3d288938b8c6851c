// Graph layers: Graph / GraphBatch (structure with cached per-dtype adjacencies and pooling
// matrices), gcn_norm, the per-graph readouts, GCNConv and GraphConv. All neighbourhood sums go
// through spmm, so a batch of graphs sharing one structure costs one sparse kernel call.
#include "magmadnn/nn/graph.h"

#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include "magmadnn/nn/init.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::nn {

// ---------------------------------------------------------------------------------------------
// gcn_norm: Â = D^-1/2 (A + I) D^-1/2, D_ii = sum_j (A + I)_ij.

CsrMatrix gcn_norm(const CsrMatrix& a) {
  MAGMADNN_CHECK(a.defined(), "gcn_norm: the adjacency is undefined");
  MAGMADNN_CHECK(a.rows() == a.cols(), "gcn_norm: expected a square adjacency, got ", a.rows(), " x ",
                 a.cols());
  const int64_t n = a.rows(), nnz = a.nnz();
  // A + I as an edge list (A's entries, then the self-loops); from_edges sums the diagonal.
  const auto ro = a.row_offsets().to_vector<int64_t>(), ci = a.col_indices().to_vector<int64_t>();
  const auto va = a.values().to_vector<double>();
  std::vector<int64_t> edges;
  std::vector<double> w;
  edges.reserve(2 * (nnz + n));
  w.reserve(nnz + n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = ro[i]; k < ro[i + 1]; ++k) {
      edges.push_back(i);
      edges.push_back(ci[k]);
      w.push_back(va[k]);
    }
  for (int64_t i = 0; i < n; ++i) {
    edges.push_back(i);
    edges.push_back(i);
    w.push_back(1.0);
  }
  const CsrMatrix ai =
      CsrMatrix::from_edges(n, from_vector<int64_t>(edges, {nnz + n, 2}), from_vector<double>(w, {nnz + n}));
  const auto ro2 = ai.row_offsets().to_vector<int64_t>(), ci2 = ai.col_indices().to_vector<int64_t>();
  auto v2 = ai.values().to_vector<double>();
  std::vector<double> dinv(n);
  for (int64_t i = 0; i < n; ++i) {
    double deg = 0;
    for (int64_t k = ro2[i]; k < ro2[i + 1]; ++k) deg += v2[k];
    dinv[i] = deg > 0 ? 1.0 / std::sqrt(deg) : 0.0;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = ro2[i]; k < ro2[i + 1]; ++k) v2[k] *= dinv[i] * dinv[ci2[k]];
  return CsrMatrix(n, n, ai.row_offsets(), ai.col_indices(),
                   from_vector<double>(v2, {ai.nnz()}).to(a.dtype()), a.is_symmetric());
}

// ---------------------------------------------------------------------------------------------
// Graph, GraphBatch

namespace {
// Cache key of a matrix made for one dtype on one device.
using Variant = std::tuple<DType, DeviceType, int>;
Variant variant(DType dtype, Device device) { return {dtype, device.type, device.index}; }
}  // namespace

struct Graph::State {
  CsrMatrix adjacency;
  std::mutex mu;
  std::map<Variant, CsrMatrix> by_variant, normalized;
};

Graph::Graph(CsrMatrix adjacency) {
  MAGMADNN_CHECK(adjacency.defined(), "Graph: the adjacency is undefined");
  MAGMADNN_CHECK(adjacency.rows() == adjacency.cols(), "Graph: expected a square adjacency, got ",
                 adjacency.rows(), " x ", adjacency.cols());
  state_ = std::make_shared<State>();
  state_->adjacency = std::move(adjacency);
}

Graph Graph::from_edges(int64_t num_nodes, const Tensor& edges, const Tensor& weights, bool symmetric) {
  return Graph(CsrMatrix::from_edges(num_nodes, edges, weights, symmetric));
}

int64_t Graph::num_nodes() const {
  return adjacency().rows();
}

const CsrMatrix& Graph::adjacency() const {
  MAGMADNN_CHECK(state_ != nullptr, "Graph: the graph is undefined (default-constructed)");
  return state_->adjacency;
}

CsrMatrix Graph::adjacency(DType dtype, Device device) const {
  const CsrMatrix& a = adjacency();
  if (a.dtype() == dtype && a.device() == device) return a;
  std::lock_guard<std::mutex> lock(state_->mu);
  const Variant key = variant(dtype, device);
  auto it = state_->by_variant.find(key);
  if (it == state_->by_variant.end()) it = state_->by_variant.emplace(key, a.to(dtype).to(device)).first;
  return it->second;
}

CsrMatrix Graph::gcn_normalized(DType dtype, Device device) const {
  const CsrMatrix& a = adjacency();
  std::lock_guard<std::mutex> lock(state_->mu);
  const Variant key = variant(dtype, device);
  auto it = state_->normalized.find(key);
  if (it == state_->normalized.end()) it = state_->normalized.emplace(key, gcn_norm(a.to(dtype)).to(device)).first;
  return it->second;
}

namespace {
CsrMatrix block_diagonal_of(const std::vector<Graph>& graphs) {
  MAGMADNN_CHECK(!graphs.empty(), "GraphBatch: got no graphs");
  std::vector<CsrMatrix> blocks;
  blocks.reserve(graphs.size());
  for (size_t g = 0; g < graphs.size(); ++g) {
    MAGMADNN_CHECK(graphs[g].defined(), "GraphBatch: graph ", g, " is undefined");
    MAGMADNN_CHECK(graphs[g].num_nodes() > 0, "GraphBatch: graph ", g, " has no nodes");
    blocks.push_back(graphs[g].adjacency());
  }
  // Graphs built with and without weights (float64 / float32 values) batch in float64.
  for (const CsrMatrix& b : blocks)
    if (b.dtype() != blocks[0].dtype()) {
      for (CsrMatrix& c : blocks) c = c.to(kFloat64);
      break;
    }
  return CsrMatrix::block_diagonal(blocks);
}
}  // namespace

struct GraphBatch::Pools {
  std::mutex mu;
  std::map<std::pair<bool, Variant>, CsrMatrix> cache;
};

GraphBatch::GraphBatch(const std::vector<Graph>& graphs) : Graph(block_diagonal_of(graphs)) {
  offsets_.assign(1, 0);
  for (const Graph& g : graphs) offsets_.push_back(offsets_.back() + g.num_nodes());
  std::vector<int64_t> index(offsets_.back());
  for (size_t g = 0; g + 1 < offsets_.size(); ++g)
    std::fill(index.begin() + offsets_[g], index.begin() + offsets_[g + 1], static_cast<int64_t>(g));
  graph_index_ = from_vector<int64_t>(index, {offsets_.back()});
  pools_ = std::make_shared<Pools>();
}

CsrMatrix GraphBatch::pooling(bool mean, DType dtype, Device device) const {
  std::lock_guard<std::mutex> lock(pools_->mu);
  auto it = pools_->cache.find({mean, variant(dtype, device)});
  if (it != pools_->cache.end()) return it->second;
  // Row g holds the nodes offsets_[g] .. offsets_[g+1] - 1 with weight 1 (or 1 / count).
  const int64_t G = num_graphs(), N = offsets_.back();
  std::vector<double> v(N);
  for (int64_t g = 0; g < G; ++g)
    std::fill(v.begin() + offsets_[g], v.begin() + offsets_[g + 1],
              mean ? 1.0 / static_cast<double>(offsets_[g + 1] - offsets_[g]) : 1.0);
  CsrMatrix p(G, N, from_vector<int64_t>(offsets_, {G + 1}), arange(N),
              from_vector<double>(v, {N}).to(dtype));
  p = p.to(device);
  pools_->cache.emplace(std::make_pair(mean, variant(dtype, device)), p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Readouts

Tensor readout(const Tensor& x, Readout kind) {
  MAGMADNN_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3),
                 "readout: expected x (B, N, F) or (N, F), got ", x.defined() ? x.shape() : Shape{});
  const int64_t node_dim = x.dim() - 2;  // x: (B, N, F) -> (B, F)
  switch (kind) {
    case Readout::Sum:
      return sum(x, {node_dim});
    case Readout::Mean:
      return mean(x, {node_dim});
    case Readout::Max:
      return max(x, {node_dim});
  }
  MAGMADNN_CHECK(false, "readout: unknown kind");
  return Tensor();
}

Tensor readout(const Tensor& x, const GraphBatch& batch, Readout kind) {
  MAGMADNN_CHECK(x.defined() && x.dim() == 2 && x.size(0) == batch.num_nodes(), "readout: expected x (",
                 batch.num_nodes(), ", F) for a batch of ", batch.num_graphs(), " graphs with ",
                 batch.num_nodes(), " nodes, got ", x.defined() ? x.shape() : Shape{});
  if (kind != Readout::Max) return spmm(batch.pooling(kind == Readout::Mean, x.dtype(), x.device()), x);  // (G, F)
  // Max: gather each graph's nodes into a (G, max_nodes, F) block padded with -inf, then max
  // over the node axis; index_select and max carry the gradient to the maximal nodes.
  const auto& off = batch.node_offsets();
  const int64_t G = batch.num_graphs(), N = batch.num_nodes(), F = x.size(1);
  int64_t width = 0;
  for (int64_t g = 0; g < G; ++g) width = std::max(width, off[g + 1] - off[g]);
  std::vector<int64_t> idx(G * width, N);  // N = the padding row
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k = 0; k < off[g + 1] - off[g]; ++k) idx[g * width + k] = off[g] + k;
  Tensor pad = full({1, F}, -std::numeric_limits<double>::infinity(), x.dtype(), x.device());
  Tensor xp = concat({x, pad}, 0);  // (N + 1, F)
  Tensor blocks = index_select(xp, 0, from_vector<int64_t>(idx, {G * width}).to(x.device()));
  return max(reshape(blocks, {G, width, F}), {1});
}

// ---------------------------------------------------------------------------------------------
// GraphModule

Tensor GraphModule::forward(const Tensor& x) {
  MAGMADNN_CHECK(graph_.defined(), name(), ": no graph set; call set_graph(graph) or forward(x, graph)");
  return forward(x, graph_);
}

void GraphModule::check_input(const Tensor& x, const Graph& graph, int64_t in_features) const {
  MAGMADNN_CHECK(x.defined(), name(), ": got an undefined input");
  MAGMADNN_CHECK(graph.defined(), name(), ": the graph is undefined");
  const int64_t n = graph.num_nodes();
  MAGMADNN_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(-2) == n && x.size(-1) == in_features, name(),
                 ": expected x (", n, ", ", in_features, ") or (B, ", n, ", ", in_features,
                 ") for a graph of ", n, " nodes, got ", x.shape());
  MAGMADNN_CHECK(is_floating(x.dtype()), name(), ": expected a float32 or float64 input, got ", x.dtype());
}

int64_t set_graph(Module& root, const Graph& graph) {
  int64_t n = 0;
  if (auto* g = dynamic_cast<GraphModule*>(&root)) {
    g->set_graph(graph);
    ++n;
  }
  for (const auto& child : root.children()) n += set_graph(*child, graph);
  return n;
}

// ---------------------------------------------------------------------------------------------
// GCNConv

GCNConv::GCNConv(const GCNConvOptions& options) : options_(options) {
  MAGMADNN_CHECK(options.in_features() > 0 && options.out_features() > 0,
                 "GCNConv: in_features and out_features must be positive, got in_features=",
                 options.in_features(), ", out_features=", options.out_features());
  lin_ =
      register_module("lin", std::make_shared<Linear>(options.in_features(), options.out_features(), false));
  if (options.bias()) bias_ = register_parameter("bias", Tensor::empty({options.out_features()}));
  reset_parameters();
}

void GCNConv::reset_parameters() {
  init::xavier_uniform_(lin_->weight());  // PyG's glorot
  if (bias_.defined()) init::zeros_(bias_);
}

std::string GCNConv::name() const {
  return detail::str_cat("GCNConv(in_features=", options_.in_features(),
                         ", out_features=", options_.out_features(),
                         ", bias=", options_.bias() ? "true" : "false", ")");
}

Tensor GCNConv::forward(const Tensor& x, const Graph& graph) {
  check_input(x, graph, options_.in_features());
  const Tensor& w = lin_->weight();
  MAGMADNN_CHECK(x.dtype() == w.dtype() && x.device() == w.device(), name(), ": input ", x.dtype(), " on ",
                 x.device(), " but the weight is ", w.dtype(), " on ", w.device());
  const CsrMatrix a = graph.gcn_normalized(x.dtype(), x.device());
  // x: (B, N, in). Â (X W^T) = (Â X) W^T: propagate at the smaller feature width.
  // The bias is added inside the last kernel (spmm's c, or the GEMM's accumulate).
  return options_.out_features() <= options_.in_features() ? spmm(a, linear(x, w, Tensor()), bias_)
                                                           : linear(spmm(a, x), w, bias_);  // (B, N, out)
}

// ---------------------------------------------------------------------------------------------
// GraphConv

GraphConv::GraphConv(const GraphConvOptions& options) : options_(options) {
  MAGMADNN_CHECK(options.in_features() > 0 && options.out_features() > 0,
                 "GraphConv: in_features and out_features must be positive, got in_features=",
                 options.in_features(), ", out_features=", options.out_features());
  lin_rel_ = register_module(
      "lin_rel", std::make_shared<Linear>(options.in_features(), options.out_features(), options.bias()));
  lin_root_ = register_module("lin_root",
                              std::make_shared<Linear>(options.in_features(), options.out_features(), false));
}

void GraphConv::reset_parameters() {
  lin_rel_->reset_parameters();
  lin_root_->reset_parameters();
}

std::string GraphConv::name() const {
  return detail::str_cat("GraphConv(in_features=", options_.in_features(),
                         ", out_features=", options_.out_features(),
                         ", bias=", options_.bias() ? "true" : "false", ")");
}

Tensor GraphConv::forward(const Tensor& x, const Graph& graph) {
  check_input(x, graph, options_.in_features());
  const Tensor& w_rel = lin_rel_->weight();
  MAGMADNN_CHECK(x.dtype() == w_rel.dtype() && x.device() == w_rel.device(), name(), ": input ", x.dtype(),
                 " on ", x.device(), " but the weight is ", w_rel.dtype(), " on ", w_rel.device());
  const CsrMatrix a = graph.adjacency(x.dtype(), x.device());
  // x: (B, N, in). W_rel (A X) = A (X W_rel^T): aggregate at the smaller feature width.
  // The bias (lin_rel's, as in PyG) is fused into the root term's GEMM, and the root term into
  // the sparse kernel's pass over the output when the aggregation comes last.
  Tensor root = linear(x, lin_root_->weight(), lin_rel_->bias());
  if (options_.out_features() <= options_.in_features()) return spmm(a, linear(x, w_rel, Tensor()), root);
  return add(linear(spmm(a, x), w_rel, Tensor()), root);  // (B, N, out)
}

}  // namespace magmadnn::nn
