// Ising energy models (see models.h). The CNN's per-site head sums an energy density over the
// lattice, which makes the prediction extensive; the graph networks do the same over nodes.
#include "magmadnn/ising/models.h"

#include <cstring>

#include "magmadnn/core/error.h"
#include "magmadnn/nn/activation.h"
#include "magmadnn/nn/conv.h"
#include "magmadnn/nn/graph.h"
#include "magmadnn/nn/linear.h"
#include "magmadnn/nn/sequential.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::ising {

namespace {

// Rows [begin, end) of the data set's spins as float32 of shape {end - begin, dims...}.
Tensor spins_as_float(const IsingDataset& data, int64_t begin, int64_t end, const Shape& sample_dims) {
  MAGMADNN_CHECK(0 <= begin && begin <= end && end <= data.size(), "EnergyModel::input: rows [", begin, ", ", end,
                 ") out of range for ", data.size(), " configurations");
  const int64_t nodes = data.num_nodes();
  std::vector<int64_t> dims{end - begin};
  for (int64_t d : sample_dims) dims.push_back(d);
  Tensor t = Tensor::empty(Shape(dims), kFloat32);
  float* out = t.data<float>();
  const int8_t* in = data.spins.data() + begin * nodes;
  for (int64_t i = 0; i < (end - begin) * nodes; ++i) out[i] = static_cast<float>(in[i]);
  return t;
}

// conv3x3 (circular) -> ReLU -> per-site head [Linear -> ReLU] x (layers - 1) -> Linear to one
// value: an energy density per site, summed over the lattice. The head is the 1x1 convolutions
// of a fully convolutional net written as Linear layers on channels-last sites (one GEMM each,
// where oneDNN's 1x1 convolutions with 1 output channel on 8x8 maps are slow).
class EnergyCNN : public EnergyModel {
 public:
  explicit EnergyCNN(const EnergyModelConfig& c) : EnergyModel(c) {
    conv_ = register_module("conv", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, c.hidden, 3)
                                                                      .padding(Size2(1))
                                                                      .padding_mode(PaddingMode::Circular)));
    auto head = std::make_shared<nn::Sequential>();
    for (int64_t l = 1; l < c.layers; ++l) {
      head->push_back(std::make_shared<nn::Linear>(c.hidden, c.hidden));
      head->push_back(std::make_shared<nn::ReLU>());
    }
    head->push_back(std::make_shared<nn::Linear>(c.hidden, 1));
    head_ = register_module("head", head);
  }
  std::string name() const override { return "EnergyCNN"; }

  // x: (B, 1, L, L) -> features (B, hidden, L, L) -> sites (B, L, L, hidden) -> density (B, L, L, 1) -> (B)
  Tensor forward(const Tensor& x) override {
    MAGMADNN_CHECK(x.dim() == 4 && x.size(1) == 1, "EnergyCNN: expected spins (B, 1, L, L), got ", x.shape());
    Tensor sites = permute(relu((*conv_)(x)), {0, 2, 3, 1});
    return sum((*head_)(sites), {1, 2, 3});
  }

  void set_lattice(const Graph& g) override {
    double j = 0;
    MAGMADNN_CHECK(g.kind == LatticeKind::Square && g.uniform_coupling(&j),
                   "EnergyCNN: the CNN needs a square lattice with one coupling J for every bond, got a ",
                   lattice_name(g.kind), (g.kind == LatticeKind::Square ? " lattice with random couplings" : ""),
                   " (use --model gcn or graphconv for other graphs)");
  }

  Tensor input(const IsingDataset& data, int64_t begin, int64_t end) const override {
    MAGMADNN_CHECK(data.sample_shape.size() == 2, "EnergyCNN: spins must be stored as (N, L, L), got samples of ",
                   data.sample_shape.size(), " dimension(s)");
    return spins_as_float(data, begin, end, Shape({1, data.sample_shape[0], data.sample_shape[1]}));
  }

 private:
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::Sequential> head_;
};

// [graph layer -> ReLU] x layers -> Linear(hidden, 1) per node -> sum over nodes.
class EnergyGNN : public EnergyModel {
 public:
  explicit EnergyGNN(const EnergyModelConfig& c) : EnergyModel(c) {
    for (int64_t l = 0; l < c.layers; ++l) {
      const int64_t in = l == 0 ? 1 : c.hidden;
      std::shared_ptr<nn::GraphModule> layer;
      if (c.kind == "gcn") layer = std::make_shared<nn::GCNConv>(in, c.hidden);
      else layer = std::make_shared<nn::GraphConv>(in, c.hidden);
      layers_.push_back(register_module("conv" + std::to_string(l), layer));
    }
    head_ = register_module("head", std::make_shared<nn::Linear>(c.hidden, 1));
  }
  std::string name() const override { return c_name(); }

  // x: (B, nodes, 1) -> per-node (B, nodes, 1) -> (B)
  Tensor forward(const Tensor& x) override {
    MAGMADNN_CHECK(graph_.defined(), name(), ": no graph; call set_lattice first");
    MAGMADNN_CHECK(x.dim() == 3 && x.size(1) == graph_.num_nodes() && x.size(2) == 1, name(),
                   ": expected spins (B, ", graph_.num_nodes(), ", 1), got ", x.shape());
    Tensor h = x;
    for (auto& layer : layers_) h = relu(layer->forward(h, graph_));
    return sum(head_->forward(h), {1, 2});
  }

  void set_lattice(const Graph& g) override {
    std::vector<float> weights(g.couplings.begin(), g.couplings.end());
    graph_ = nn::Graph::from_edges(g.num_nodes, from_vector(g.edges, Shape({g.num_edges(), 2})),
                                   from_vector(weights, Shape({g.num_edges()})), /*symmetric=*/true);
  }

  Tensor input(const IsingDataset& data, int64_t begin, int64_t end) const override {
    return spins_as_float(data, begin, end, Shape({data.num_nodes(), 1}));
  }

 private:
  std::string c_name() const { return config_.kind == "gcn" ? "EnergyGCN" : "EnergyGraphConv"; }
  std::vector<std::shared_ptr<nn::GraphModule>> layers_;
  std::shared_ptr<nn::Linear> head_;
  nn::Graph graph_;
};

}  // namespace

std::vector<std::string> energy_model_kinds() {
  return {"cnn", "gcn", "graphconv"};
}

std::shared_ptr<EnergyModel> make_energy_model(const EnergyModelConfig& config) {
  MAGMADNN_CHECK(config.hidden > 0 && config.layers > 0, "make_energy_model: hidden and layers must be positive, got ",
                 config.hidden, " and ", config.layers);
  if (config.kind == "cnn") return std::make_shared<EnergyCNN>(config);
  if (config.kind == "gcn" || config.kind == "graphconv") return std::make_shared<EnergyGNN>(config);
  MAGMADNN_ERROR("make_energy_model: unknown model '", config.kind, "': expected cnn, gcn or graphconv");
}

}  // namespace magmadnn::ising
