// nn::Embedding: lookups equal the table's rows for indices of any shape, gradients add each
// upstream row into its table row (repeated indices accumulate), padding_idx starts at zero and
// never receives gradient (negative padding_idx counts from the end), N(0, 1) initialisation,
// and errors by message (dtype, range, bad options).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

TEST(Embedding, LooksUpRowsAndAccumulatesGradients) {
  manual_seed(1);
  nn::Embedding emb(5, 3);
  const std::vector<int64_t> idx = {4, 0, 4, 2, 1, 4};
  const Tensor indices = from_vector<int64_t>(idx, {2, 3});
  const Tensor out = emb.forward(indices);
  ASSERT_EQ(out.shape(), Shape({2, 3, 3}));
  const auto w = emb.weight().to_vector<float>(), y = out.to_vector<float>();
  for (size_t i = 0; i < idx.size(); ++i)
    for (int d = 0; d < 3; ++d) EXPECT_EQ(y[i * 3 + d], w[idx[i] * 3 + d]) << i;
  // d/dW sum(out * up): row r receives the sum of the upstream rows of the positions holding r.
  const std::vector<float> up = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  sum(mul(out, from_vector<float>(up, {2, 3, 3}))).backward();
  std::vector<float> want(15, 0.0f);
  for (size_t i = 0; i < idx.size(); ++i)
    for (int d = 0; d < 3; ++d) want[idx[i] * 3 + d] += up[i * 3 + d];
  EXPECT_EQ(emb.weight().grad().to_vector<float>(), want);  // sums of small integers: exact
}

TEST(Embedding, PaddingRowStartsAtZeroAndGetsNoGradient) {
  manual_seed(2);
  nn::Embedding emb(nn::EmbeddingOptions(4, 2).padding_idx(-1));  // row 3
  EXPECT_EQ(emb.padding_row(), 3);
  EXPECT_EQ(emb.name(), "Embedding(4, 2, padding_idx=3)");
  auto w = emb.weight().to_vector<float>();
  EXPECT_EQ(w[6], 0.0f);
  EXPECT_EQ(w[7], 0.0f);
  {
    NoGradGuard no_grad;  // a user may set the padding row; lookups return it as it is
    emb.weight().slice(0, 3, 4).fill_(0.5);
  }
  const Tensor out = emb.forward(from_vector<int64_t>({3, 1, 3}, {3}));
  const auto y = out.to_vector<float>();
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[5], 0.5f);
  w = emb.weight().to_vector<float>();
  EXPECT_EQ(y[2], w[2]);
  EXPECT_EQ(y[3], w[3]);
  sum(out).backward();
  EXPECT_EQ(emb.weight().grad().to_vector<float>(), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 0}));
}

TEST(Embedding, InitialisesFromTheStandardNormal) {
  manual_seed(3);
  nn::Embedding emb(1000, 100);
  const auto w = emb.weight().to_vector<float>();
  double mean = 0, var = 0;
  for (float v : w) mean += v / w.size();
  for (float v : w) var += (v - mean) * (v - mean) / w.size();
  EXPECT_NEAR(mean, 0.0, 0.01);  // 1e5 draws: standard error 0.003
  EXPECT_NEAR(var, 1.0, 0.02);
  EXPECT_EQ(emb.parameters().size(), 1u);
}

TEST(Embedding, Errors) {
  nn::Embedding emb(4, 2);
  EXPECT_THAT(error_of([&] { emb.forward(from_vector<float>({1.0f}, {1})); }),
              HasSubstr("Embedding(4, 2): expected int64 indices, got float32 of shape (1)"));
  EXPECT_THAT(error_of([&] {
                emb.forward(from_vector<int64_t>({0, 4}, {2}));
              }),
              HasSubstr("index 4 is out of range for a dimension of size 4"));
  EXPECT_THAT(error_of([&] { emb.forward(Tensor()); }),
              HasSubstr("Embedding(4, 2): expected int64 indices, got none"));
  EXPECT_THAT(error_of([] { nn::Embedding(0, 2); }),
              HasSubstr("num_embeddings and embedding_dim must be positive"));
  EXPECT_THAT(error_of([] { nn::Embedding(nn::EmbeddingOptions(4, 2).padding_idx(4)); }),
              HasSubstr("Embedding(4, 2): padding_idx 4 is out of range [-4, 4)"));
}
