// Tensor::register_post_accumulate_grad_hook: runs once per backward per leaf, after .grad holds
// the accumulated value, in the order backward reaches the leaves; rejects non-leaves.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::HasSubstr;

TEST(PostAccumulateGradHook, SeesAccumulatedGradientOncePerBackward) {
  Tensor w = from_vector<double>({1, 2}).set_requires_grad();
  Tensor v = from_vector<double>({3}).set_requires_grad();
  std::vector<std::string> order;
  std::vector<std::vector<double>> seen;
  w.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    order.push_back("w");
    seen.push_back(leaf.grad().to_vector<double>());
  });
  v.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back("v"); });
  // w is used twice: the hook still runs once, with both contributions summed.
  Tensor y = sum(mul(w, w)) + sum(w) * v;  // dy/dw = 2w + v, dy/dv = sum(w)
  y.backward();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::vector<double>{2 * 1 + 3, 2 * 2 + 3}));
  EXPECT_EQ(order.size(), 2u);
  // A second backward accumulates into .grad before the hook sees it.
  (sum(w) * 1.0).backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], (std::vector<double>{6, 8}));
}

TEST(PostAccumulateGradHook, RejectsNonLeaf) {
  Tensor w = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = mul(w, w);
  try {
    y.register_post_accumulate_grad_hook([](const Tensor&) {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("needs a leaf tensor that requires grad, got shape (2) computed by an op"));
  }
}
