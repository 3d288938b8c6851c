// The Ising energy models (ising/models.h) on a GPU: the CNN (circular padding, convolutions,
// per-site head), GraphConv and GCNConv (edge-weighted by random couplings on a triangular
// lattice) give the CPU's energies and parameter gradients, and a few Adam steps on the GPU end
// where the same steps on the CPU do. Skipped without a GPU.
#include "cuda/cuda_test_util.h"
#include "magmadnn/ising/dataset.h"
#include "magmadnn/ising/lattice.h"
#include "magmadnn/ising/models.h"
#include "magmadnn/ising/sampler.h"

using namespace magmadnn;
using namespace magmadnn::ising;
using namespace cudatest;

namespace {

IsingDataset uniform_set(Graph g, int64_t n, uint64_t seed) {
  std::vector<int8_t> spins(n * g.num_nodes);
  sample_uniform(g, n, seed, spins.data());
  return make_ising_dataset(g, std::move(spins), {});
}

// The model built (and seeded) on the CPU, and a copy of it moved to the GPU.
std::pair<std::shared_ptr<EnergyModel>, std::shared_ptr<EnergyModel>> cpu_and_gpu(const std::string& kind,
                                                                                 const Graph& g) {
  EnergyModelConfig c;
  c.kind = kind;
  c.hidden = 8;
  c.layers = 2;
  manual_seed(5);
  auto on_cpu = make_energy_model(c), on_gpu = make_energy_model(c);
  on_cpu->set_lattice(g);
  on_gpu->set_lattice(g);
  on_gpu->load_state_dict(on_cpu->state_dict());
  on_gpu->to(kGpu);
  return {on_cpu, on_gpu};
}

void check_model(const std::string& kind, const Graph& g) {
  const IsingDataset d = uniform_set(g, 16, 3);
  auto [on_cpu, on_gpu] = cpu_and_gpu(kind, g);
  const Tensor x = on_cpu->input(d, 0, d.size()), target = div(d.energies_tensor(), 64.0);
  // Forward + backward of the per-site MSE on both devices.
  const Tensor yc = on_cpu->forward(x), yg = on_gpu->forward(x.to(kGpu));
  expect_close(yg, yc, 1e-4, 1e-4, kind + " energies");
  mse_loss(div(yc, 64.0), target).backward();
  mse_loss(div(yg, 64.0), target.to(kGpu)).backward();
  const auto pc = on_cpu->named_parameters(), pg = on_gpu->named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i)
    expect_close(pg[i].second.grad(), pc[i].second.grad(), 1e-3, 1e-5, kind + " grad of " + pc[i].first);
  // A few Adam steps on each device end at the same weights.
  optim::Adam oc(on_cpu->parameters(), optim::AdamOptions(1e-2)), og(on_gpu->parameters(), optim::AdamOptions(1e-2));
  for (int step = 0; step < 5; ++step) {
    oc.zero_grad();
    og.zero_grad();
    mse_loss(div(on_cpu->forward(x), 64.0), target).backward();
    mse_loss(div(on_gpu->forward(x.to(kGpu)), 64.0), target.to(kGpu)).backward();
    oc.step();
    og.step();
  }
  const auto sc = on_cpu->state_dict(), sg = on_gpu->state_dict();
  for (const auto& [name, t] : sc) expect_close(sg.at(name), t, 1e-3, 1e-4, kind + " weights after Adam: " + name);
}

}  // namespace

TEST(CudaIsing, CnnMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  check_model("cnn", square_lattice(8));
}

TEST(CudaIsing, GraphModelsMatchTheCpuWithRandomCouplings) {
  SKIP_WITHOUT_GPU();
  Graph g = triangular_lattice(6);
  set_random_coupling_uniform(g, 0.5, 1.5, 9);
  check_model("graphconv", g);
  check_model("gcn", g);
}
