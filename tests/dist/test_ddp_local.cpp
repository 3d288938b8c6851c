// DistributedDataParallel over the single-process group: training through the wrapper equals
// plain training step for step, parameters are exposed under "module.", bad arguments fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::HasSubstr;

namespace {
std::shared_ptr<nn::Module> make_mlp() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 7), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(7, 3));
}
}  // namespace

TEST(DdpLocal, TrainsLikeThePlainModule) {
  manual_seed(11);
  auto plain = make_mlp();
  manual_seed(11);
  auto inner = make_mlp();
  auto ddp = std::make_shared<dist::DistributedDataParallel>(inner, dist::init_process_group("local"), 50);
  EXPECT_EQ(ddp->named_parameters().front().first, "module.0.weight");
  EXPECT_EQ(ddp->bucket_assignment().size(), 4u);  // 50 bytes: one tensor per bucket
  optim::SGD a(plain->parameters(), optim::SGDOptions(0.2));
  optim::SGD b(ddp->parameters(), optim::SGDOptions(0.2));
  manual_seed(12);
  for (int s = 0; s < 3; ++s) {
    Tensor x = randn({8, 5});
    Tensor y = randint(0, 3, {8});
    a.zero_grad();
    b.zero_grad();
    cross_entropy(plain->forward(x), y).backward();
    cross_entropy(ddp->forward(x), y).backward();
    EXPECT_EQ(ddp->last_launches().size(), 4u);
    a.step();
    b.step();
  }
  auto p = plain->parameters(), q = inner->parameters();
  for (size_t k = 0; k < p.size(); ++k) EXPECT_EQ(p[k].to_vector<float>(), q[k].to_vector<float>()) << k;
}

TEST(DdpLocal, UnusedParameterGetsZeroGradientAtFinish) {
  manual_seed(13);
  auto inner = make_mlp();
  dist::DistributedDataParallel ddp(inner, dist::init_process_group("local"));
  // Only the first layer takes part: the buckets cannot all fill, so finish explicitly.
  auto first = inner->children().front();
  sum(first->forward(randn({2, 5}))).backward();
  ddp.finish_gradient_synchronization();
  EXPECT_EQ(inner->parameters().back().grad().to_vector<float>(), std::vector<float>(3, 0.f));
  EXPECT_TRUE(inner->parameters().front().grad().defined());
}

TEST(DdpLocal, NullArgumentsFail) {
  try {
    dist::DistributedDataParallel ddp(nullptr, dist::init_process_group("local"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("DistributedDataParallel: got a null module"));
  }
}
