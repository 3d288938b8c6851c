// Hyperparameter search split over MPI ranks: each rank runs only its share of every rung (the
// shares add up to one process's runs), and every rank returns exactly the single-process result.
#include <gmock/gmock.h>

#include <cmath>

#include "magmadnn/magmadnn.h"
#include "mpi/mpi_test_main.h"

using namespace magmadnn;
namespace hpo = train::hpo;

TEST(HpoMpi, RanksShareTheTrialsAndAgreeWithOneProcess) {
  const hpo::SearchSpace space = hpo::SearchSpace::parse("x=0:1,o=a|b");
  int64_t calls = 0;
  const hpo::Objective f = [&](const hpo::Config& c, int64_t budget, int64_t trial) {
    ++calls;
    const double x = std::stod(c.at("x"));
    if (trial == 4) throw Error("trial 4 fails on purpose");
    return -std::abs(x - 0.6) + (c.at("o") == "b" ? 0.05 : 0.0) + 1e-3 * budget;
  };
  hpo::SearchOptions o;
  o.trials = 10, o.eta = 2, o.seed = 11;
  const auto alone = hpo::search(space, f, o);
  const int64_t alone_calls = calls;
  calls = 0;
  o.group = mpi_test::group();
  const auto split = hpo::search(space, f, o);
  Tensor total = from_vector<int64_t>({calls});
  mpi_test::group()->all_reduce(total);
  EXPECT_EQ(total.to_vector<int64_t>()[0], alone_calls);
  EXPECT_LT(calls, alone_calls);  // this rank ran a share only
  ASSERT_EQ(split.size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    EXPECT_EQ(split[i].id, alone[i].id) << i;
    EXPECT_EQ(split[i].config, alone[i].config) << i;
    EXPECT_EQ(split[i].rung, alone[i].rung) << i;
    EXPECT_EQ(split[i].budget, alone[i].budget) << i;
    EXPECT_EQ(split[i].failed, alone[i].failed) << i;
    if (!alone[i].failed) EXPECT_DOUBLE_EQ(split[i].score, alone[i].score) << i;
  }
  EXPECT_TRUE(split.back().failed);  // trial 4, on whichever rank ran it
  EXPECT_EQ(split.back().id, 4);
}

MPI_TEST_MAIN
