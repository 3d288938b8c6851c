// The Ising energy models: the CNN's circular padding and per-site readout make its prediction
// translation invariant and extensive (a 2x2 tiling of a configuration has 4x its energy, as the
// true energy does); the graph models are invariant under lattice translations; a short training
// run of each learns 8x8 energies to a stated error; wrong lattices and inputs are clear errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using namespace magmadnn::ising;
using magmadnn::testing::error_of;

namespace {

IsingDataset uniform_set(int64_t L, int64_t n, uint64_t seed) {
  Graph g = square_lattice(L);
  std::vector<int8_t> spins(n * g.num_nodes);
  sample_uniform(g, n, seed, spins.data());
  return make_ising_dataset(g, std::move(spins), {});
}

// Configuration i of an L x L set, shifted by (dr, dc) and tiled `tiles` x `tiles` times.
IsingDataset transformed(const IsingDataset& d, int64_t dr, int64_t dc, int64_t tiles) {
  const int64_t L = d.graph.side, M = L * tiles;
  std::vector<int8_t> out;
  for (int64_t i = 0; i < d.size(); ++i)
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < M; ++c)
        out.push_back(d.spins[i * L * L + ((r + dr) % L) * L + (c + dc) % L]);
  return make_ising_dataset(square_lattice(M), std::move(out), {});
}

std::vector<float> predict(EnergyModel& m, const IsingDataset& d) {
  NoGradGuard no_grad;
  m.set_lattice(d.graph);
  return m.forward(m.input(d, 0, d.size())).to_vector<float>();
}

double train_and_test_mae(const std::string& kind, int64_t steps) {
  manual_seed(0);
  auto model = make_energy_model({kind, 16, 2});
  IsingDataset train = uniform_set(8, 4096, 1), test = uniform_set(8, 512, 2);
  model->set_lattice(train.graph);
  Tensor x = model->input(train, 0, train.size()), y = div(train.energies_tensor(), 64.0);
  optim::Adam opt(model->parameters(), optim::AdamOptions(0.01));
  optim::OneCycleLR schedule(opt, 0.01, steps);
  const int64_t batch = 128;
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t b = (s * batch) % train.size();
    Tensor loss = mse_loss(div(model->forward(x.slice(0, b, b + batch)), 64.0), y.slice(0, b, b + batch));
    opt.zero_grad();
    loss.backward();
    opt.step();
    schedule.step();
  }
  const std::vector<float> pred = predict(*model, test);
  double mae = 0;
  for (int64_t i = 0; i < test.size(); ++i) mae += std::abs(pred[i] - test.energies[i]) / test.size();
  return mae;
}

}  // namespace

TEST(EnergyCNN, TranslationInvariantAndExtensive) {
  manual_seed(3);
  auto cnn = make_energy_model({"cnn", 8, 2});
  IsingDataset d = uniform_set(8, 16, 7);
  const auto base = predict(*cnn, d);
  const auto shifted = predict(*cnn, transformed(d, 3, 5, 1));
  const auto tiled = predict(*cnn, transformed(d, 0, 0, 2));  // 16x16: four copies
  for (int64_t i = 0; i < d.size(); ++i) {
    EXPECT_NEAR(shifted[i], base[i], 1e-4 * (1 + std::abs(base[i]))) << "configuration " << i;
    EXPECT_NEAR(tiled[i], 4 * base[i], 4e-4 * (1 + std::abs(base[i]))) << "configuration " << i;
  }
}

TEST(EnergyGNN, TranslationInvariantOnTheLattice) {
  for (const std::string kind : {"gcn", "graphconv"}) {
    manual_seed(4);
    auto gnn = make_energy_model({kind, 8, 2});
    IsingDataset d = uniform_set(8, 16, 9);
    const auto base = predict(*gnn, d), shifted = predict(*gnn, transformed(d, 1, 6, 1));
    for (int64_t i = 0; i < d.size(); ++i)
      EXPECT_NEAR(shifted[i], base[i], 1e-4 * (1 + std::abs(base[i]))) << kind << " configuration " << i;
  }
}

TEST(EnergyModels, ShortTrainingLearnsTheEnergy) {
  // 8x8 energies span [-128, 128] with a standard deviation of 16 for uniform spins; a few
  // hundred Adam steps bring the CNN and GraphConv far below that, GCNConv much less far.
  const double cnn = train_and_test_mae("cnn", 600), graphconv = train_and_test_mae("graphconv", 600),
               gcn = train_and_test_mae("gcn", 600);
  std::printf("test MAE after 600 steps: cnn %.3f graphconv %.3f gcn %.3f\n", cnn, graphconv, gcn);
  EXPECT_LT(cnn, 1.0);
  EXPECT_LT(graphconv, 2.5);
  EXPECT_LT(gcn, 12.0);
}

TEST(EnergyModels, Errors) {
  auto cnn = make_energy_model({"cnn", 4, 1});
  EXPECT_THAT(error_of([&] { cnn->set_lattice(triangular_lattice(4)); }),
              ::testing::HasSubstr("EnergyCNN: the CNN needs a square lattice with one coupling J for every bond, "
                                   "got a triangular"));
  Graph random_j = square_lattice(4);
  set_random_coupling_uniform(random_j, 0.5, 1.5, 1);
  EXPECT_THAT(error_of([&] { cnn->set_lattice(random_j); }), ::testing::HasSubstr("random couplings"));
  EXPECT_THAT(error_of([&] { cnn->forward(zeros({2, 3, 4, 4})); }),
              ::testing::HasSubstr("EnergyCNN: expected spins (B, 1, L, L), got (2, 3, 4, 4)"));
  auto gnn = make_energy_model({"graphconv", 4, 1});
  EXPECT_THAT(error_of([&] { gnn->forward(zeros({2, 16, 1})); }), ::testing::HasSubstr("no graph"));
  gnn->set_lattice(square_lattice(4));
  EXPECT_THAT(error_of([&] { gnn->forward(zeros({2, 9, 1})); }),
              ::testing::HasSubstr("EnergyGraphConv: expected spins (B, 16, 1), got (2, 9, 1)"));
  EXPECT_THAT(error_of([] { make_energy_model({"mlp", 4, 1}); }),
              ::testing::HasSubstr("unknown model 'mlp': expected cnn, gcn or graphconv"));
}
