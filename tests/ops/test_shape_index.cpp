// Shape and indexing ops: the differentiable views (reshape, transpose, permute, slice,
// squeeze, unsqueeze, flatten, contiguous, expand), concat/stack, index_select and gather
// (repeated indices), sum_to. Values against reference loops, float64 gradchecks, errors.
#include "ops/ops_test_util.h"

using namespace optest;

TEST(ShapeOps, ViewsGradcheck) {
  Tensor x = leaf({2, 3, 4}, 1);
  const std::vector<std::pair<const char*, Fn>> fns = {
      {"reshape",
       [](const std::vector<Tensor>& in) {
         return reshape(in[0], {4, -1});
       }},
      {"transpose", [](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); }},
      {"permute",
       [](const std::vector<Tensor>& in) {
         return permute(in[0], {1, 2, 0});
       }},
      {"slice", [](const std::vector<Tensor>& in) { return slice(in[0], 2, 1, 4); }},
      {"slice_step", [](const std::vector<Tensor>& in) { return slice(in[0], -1, 0, 4, 3); }},
      {"slice_neg", [](const std::vector<Tensor>& in) { return slice(in[0], 1, -2, 3); }},
      {"select", [](const std::vector<Tensor>& in) { return in[0].select(1, -1); }},
      {"narrow", [](const std::vector<Tensor>& in) { return in[0].narrow(2, 1, 2); }},
      {"squeeze", [](const std::vector<Tensor>& in) { return squeeze(unsqueeze(in[0], 1), 1); }},
      {"unsqueeze", [](const std::vector<Tensor>& in) { return unsqueeze(in[0], -1); }},
      {"flatten", [](const std::vector<Tensor>& in) { return flatten(in[0], 1); }},
      {"flatten_all", [](const std::vector<Tensor>& in) { return in[0].flatten(); }},
      {"contiguous", [](const std::vector<Tensor>& in) { return contiguous(transpose(in[0], 0, 1)); }},
      {"expand",
       [](const std::vector<Tensor>& in) {
         return expand(slice(in[0], 0, 0, 1), {3, 3, 4});
       }},
      {"expand_new_dim",
       [](const std::vector<Tensor>& in) {
         return expand(in[0], {2, 2, 3, 4});
       }},
      {"reshape_of_transposed",
       [](const std::vector<Tensor>& in) {
         return reshape(transpose(in[0], 1, 2), {8, 3});
       }},
      {"squeeze_all", [](const std::vector<Tensor>& in) { return in[0].narrow(0, 1, 1).squeeze(); }},
      {"clone", [](const std::vector<Tensor>& in) { return in[0].clone(); }},
      {"to_float64", [](const std::vector<Tensor>& in) { return in[0].to(kFloat64); }},
  };
  for (const auto& [name, fn] : fns) EXPECT_TRUE(gradcheck_ok(fn, {x})) << name;
}

TEST(ShapeOps, ViewChainGradient) {
  // reshape -> transpose -> slice with step: the gradient lands on the right elements.
  Tensor x = arange(0.0, 12.0, 1.0, kFloat64).set_requires_grad();
  Tensor y = x.reshape({3, 4}).transpose(0, 1).slice(0, 1, 4, 2);  // rows 1 and 3 of the (4, 3) view
  EXPECT_EQ(y.shape(), Shape({2, 3}));
  EXPECT_TRUE(values_near(y, {1, 5, 9, 3, 7, 11}));
  y.backward(from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_TRUE(values_near(x.grad(), {0, 1, 0, 4, 0, 2, 0, 5, 0, 3, 0, 6}));
  EXPECT_TRUE(gradcheck_ok(
      [](const std::vector<Tensor>& in) {
        return in[0].reshape({3, 4}).transpose(0, 1).slice(0, 1, 4, 2);
      },
      {leaf({12}, 2)}));
}

TEST(ShapeOps, FloatConversionGradient) {
  Tensor x = from_vector<float>({1, 2}).set_requires_grad();
  Tensor y = x.to(kFloat64);
  sum(mul(y, y)).backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_TRUE(values_near(x.grad(), {2, 4}));
  EXPECT_FALSE(x.to(kInt64).requires_grad());  // integer results are not part of the graph
}

TEST(Concat, ValuesAlongEachDim) {
  Tensor a = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<double>({7, 8, 9}, {1, 3});
  Tensor c = from_vector<double>({10, 11, 12, 13}, {2, 2});
  EXPECT_TRUE(values_near(concat({a, b}, 0), {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(concat({a, b}, 0).shape(), Shape({3, 3}));
  EXPECT_TRUE(values_near(concat({a, c}, -1), {1, 2, 3, 10, 11, 4, 5, 6, 12, 13}));
  EXPECT_TRUE(values_near(concat({a.t(), a.t()}, 1), {1, 4, 1, 4, 2, 5, 2, 5, 3, 6, 3, 6}));
  EXPECT_TRUE(values_near(concat({a}, 0), a.to_vector<double>()));
  EXPECT_TRUE(values_near(concat({a, zeros({0, 3}, kFloat64), b}, 0), {1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Stack, ValuesAlongEachDim) {
  Tensor a = from_vector<double>({1, 2, 3}), b = from_vector<double>({4, 5, 6});
  EXPECT_EQ(stack({a, b}, 0).shape(), Shape({2, 3}));
  EXPECT_TRUE(values_near(stack({a, b}, 0), {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(stack({a, b}, 1).shape(), Shape({3, 2}));
  EXPECT_TRUE(values_near(stack({a, b}, -1), {1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(stack({scalar_tensor(1.0), scalar_tensor(2.0)}, 0).shape(), Shape({2}));
}

TEST(ConcatStack, Gradcheck) {
  Tensor a = leaf({2, 3}, 3), b = leaf({1, 3}, 4), c = leaf({2, 2}, 5), d = leaf({2, 3}, 6);
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return concat({in[0], in[1]}, 0); }, {a, b}));
  EXPECT_TRUE(gradcheck_ok(
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1], in[0]}, 1);
      },
      {a, c}));
  EXPECT_TRUE(gradcheck_ok([](const std::vector<Tensor>& in) { return stack({in[0], in[1]}, 1); }, {a, d}));
  EXPECT_TRUE(gradcheck_ok(
      [](const std::vector<Tensor>& in) {
        return stack({in[0], in[1], in[0]}, -1);
      },
      {a, d}));
  // Only one input requires grad.
  Tensor e = values({2, 3}, 7);
  EXPECT_TRUE(gradcheck_ok([&e](const std::vector<Tensor>& in) { return concat({e, in[0]}, 0); }, {a}));
}

TEST(ConcatStack, Errors) {
  EXPECT_THAT(error_of([] { concat({}, 0); }), HasSubstr("concat: expected at least one tensor"));
  EXPECT_THAT(error_of([] {
                concat({zeros({2, 3}), zeros({2, 4})}, 0);
              }),
              HasSubstr("concat: tensor 1 has shape (2, 4), incompatible with (2, 3) along dimension 0"));
  EXPECT_THAT(error_of([] {
                concat({zeros({2, 3}), zeros({3})}, 0);
              }),
              HasSubstr("concat: tensor 1 has shape (3), incompatible with (2, 3)"));
  EXPECT_THAT(error_of([] {
                concat({zeros({2}), zeros({2}, kFloat64)}, 0);
              }),
              HasSubstr("concat: dtypes differ"));
  EXPECT_THAT(error_of([] { concat({zeros({2})}, 1); }), HasSubstr("concat: dimension 1 out of range"));
  EXPECT_THAT(error_of([] {
                stack({zeros({2}), zeros({3})}, 0);
              }),
              HasSubstr("stack: tensor 1 has shape (3), expected (2)"));
  EXPECT_THAT(error_of([] { stack({}, 0); }), HasSubstr("stack: expected at least one tensor"));
  EXPECT_THAT(error_of([] {
                concat({scalar_tensor(1.0), scalar_tensor(2.0)}, 0);
              }),
              HasSubstr("concat: 0-dimensional tensors cannot be concatenated; use stack"));
}

// ------------------------------------------------------------------------------ indexing

TEST(IndexSelect, ValuesWithRepeatedIndices) {
  Tensor x = arange(0.0, 12.0, 1.0, kFloat64).reshape({3, 4});
  Tensor idx = from_vector<int64_t>({2, 0, 2});
  EXPECT_TRUE(values_near(index_select(x, 0, idx), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(index_select(x, 0, idx).shape(), Shape({3, 4}));
  EXPECT_TRUE(values_near(index_select(x, -1, from_vector<int64_t>({3, 3})), {3, 3, 7, 7, 11, 11}));
  EXPECT_TRUE(values_near(index_select(x.t(), 0, from_vector<int64_t>({1})), {1, 5, 9}));  // strided input
  EXPECT_EQ(index_select(x, 0, zeros({0}, kInt64)).shape(), Shape({0, 4}));
  // Integer data can be selected too (labels).
  EXPECT_THAT(
      index_select(from_vector<int64_t>({5, 6, 7}), 0, from_vector<int64_t>({2, 2, 1})).to_vector<int64_t>(),
      ::testing::ElementsAre(7, 7, 6));
}

TEST(IndexSelect, GradientAccumulatesRepeats) {
  Tensor x = leaf({3, 2}, 8);
  index_select(x, 0, from_vector<int64_t>({2, 0, 2, 2})).backward(ones({4, 2}, kFloat64));
  EXPECT_TRUE(values_near(x.grad(), {1, 1, 0, 0, 3, 3}));
  Tensor y = leaf({2, 3, 4}, 9);
  EXPECT_TRUE(gradcheck_ok(
      [](const std::vector<Tensor>& in) {
        return index_select(in[0], 1, from_vector<int64_t>({1, 1, 0, 2}));
      },
      {y}));
  EXPECT_TRUE(gradcheck_ok(
      [](const std::vector<Tensor>& in) {
        return index_select(in[0], -1, from_vector<int64_t>({3, 0, 3}));
      },
      {y}));
}

TEST(Gather, ValuesWithRepeatedIndices) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor idx = from_vector<int64_t>({2, 2, 0, 1, 1, 1}, {2, 3});
  EXPECT_TRUE(values_near(gather(x, 1, idx), {3, 3, 1, 5, 5, 5}));
  Tensor idx0 = from_vector<int64_t>({1, 0, 1}, {1, 3});
  EXPECT_TRUE(values_near(gather(x, 0, idx0), {4, 2, 6}));
  // An index smaller than the input in a non-gathered dim.
  Tensor idx_small = from_vector<int64_t>({0, 0}, {2, 1});
  EXPECT_TRUE(values_near(gather(x, 1, idx_small), {1, 4}));
  // Against a reference loop on a 3-D input, along the middle dim.
  Tensor x3 = values({2, 5, 3}, 10);
  manual_seed(11);
  Tensor i3 = randint(0, 5, {2, 4, 3});
  const auto vx = x3.to_vector<double>();
  const auto vi = i3.to_vector<int64_t>();
  std::vector<double> expected;
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t c = 0; c < 3; ++c) expected.push_back(vx[(a * 5 + vi[(a * 4 + j) * 3 + c]) * 3 + c]);
  EXPECT_TRUE(values_near(gather(x3, 1, i3), expected));
  EXPECT_TRUE(values_near(gather(x3.permute({0, 1, 2}).contiguous(), -2, i3), expected));
}

TEST(Gather, GradientAccumulatesRepeats) {
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad();
  gather(x, 1, from_vector<int64_t>({2, 2, 0, 1, 1, 1}, {2, 3})).backward(ones({2, 3}, kFloat64));
  EXPECT_TRUE(values_near(x.grad(), {1, 0, 2, 0, 3, 0}));
  Tensor y = leaf({2, 5, 3}, 12);
  manual_seed(13);
  Tensor idx = randint(0, 5, {2, 4, 3});
  EXPECT_TRUE(gradcheck_ok([&idx](const std::vector<Tensor>& in) { return gather(in[0], 1, idx); }, {y}));
  Tensor idx2 = randint(0, 3, {2, 2, 4});
  EXPECT_TRUE(gradcheck_ok([&idx2](const std::vector<Tensor>& in) { return gather(in[0], 2, idx2); }, {y}));
}

TEST(IndexErrors, Messages) {
  Tensor x = zeros({3, 4});
  EXPECT_THAT(error_of([&] {
                index_select(x, 0, from_vector<int64_t>({0, 3}));
              }),
              HasSubstr("index_select: index 3 is out of range for a dimension of size 3"));
  EXPECT_THAT(error_of([&] { index_select(x, 0, from_vector<int64_t>({-1})); }),
              HasSubstr("index_select: index -1 is out of range"));
  EXPECT_THAT(error_of([&] { index_select(x, 0, from_vector<int32_t>({0})); }),
              HasSubstr("index_select: expected an int64 index tensor, got int32 of shape (1)"));
  EXPECT_THAT(error_of([&] {
                index_select(x, 0, zeros({2, 2}, kInt64));
              }),
              HasSubstr("index_select: expected a 1-D index, got shape (2, 2)"));
  EXPECT_THAT(error_of([&] { index_select(x, 2, from_vector<int64_t>({0})); }),
              HasSubstr("index_select: dimension 2 out of range"));
  EXPECT_THAT(error_of([&] {
                gather(x, 1, from_vector<int64_t>({0, 4}, {1, 2}));
              }),
              HasSubstr("gather: index 4 is out of range for a dimension of size 4"));
  EXPECT_THAT(
      error_of([&] { gather(x, 1, zeros({3}, kInt64)); }),
      HasSubstr("gather: index of shape (3) must have as many dimensions as the input of shape (3, 4)"));
  EXPECT_THAT(
      error_of([&] {
        gather(x, 1, zeros({4, 1}, kInt64));
      }),
      HasSubstr("gather: index of shape (4, 1) is larger than the input of shape (3, 4) in dimension 0"));
  EXPECT_THAT(error_of([&] {
                gather(x, 1, zeros({3, 1}, kFloat32));
              }),
              HasSubstr("gather: expected an int64 index tensor, got float32"));
  EXPECT_THAT(error_of([&] { gather(scalar_tensor(1.0), 0, scalar_tensor(0, kInt64)); }),
              HasSubstr("gather: expected an input with at least one dimension"));
  EXPECT_THAT(error_of([&] { index_select(scalar_tensor(1.0), 0, from_vector<int64_t>({0})); }),
              HasSubstr("index_select: expected an input with at least one dimension"));
}

TEST(SumTo, InverseOfBroadcasting) {
  Tensor g = arange(0.0, 24.0, 1.0, kFloat64).reshape({2, 3, 4});
  EXPECT_TRUE(sum_to(g, {2, 3, 4}).shares_storage(g));  // nothing to sum
  Tensor s = sum_to(g, {3, 1});
  EXPECT_EQ(s.shape(), Shape({3, 1}));
  // s[j] = sum over i, k of g[i][j][k]
  std::vector<double> expected(3, 0.0);
  for (int64_t i = 0; i < 24; ++i) expected[(i / 4) % 3] += i;
  EXPECT_TRUE(values_near(s, expected));
  EXPECT_DOUBLE_EQ(sum_to(g, {}).item<double>(), 276.0);
  EXPECT_EQ(sum_to(g, {1, 1, 4}).shape(), Shape({1, 1, 4}));
  EXPECT_THAT(error_of([&] { sum_to(g, {5}); }), HasSubstr("sum_to: cannot sum shape (2, 3, 4) to (5)"));
  EXPECT_THAT(error_of([&] {
                sum_to(g, {1, 2, 3, 4});
              }),
              HasSubstr("sum_to: cannot sum shape (2, 3, 4) to (1, 2, 3, 4)"));
}

TEST(ShapeOpErrors, Messages) {
  EXPECT_THAT(error_of([] {
                expand(zeros({2, 3}), {3, 3});
              }),
              HasSubstr("expand: cannot expand shape (2, 3) to (3, 3)"));
  EXPECT_THAT(error_of([] {
                flatten(zeros({2, 3, 4}), 2, 1);
              }),
              HasSubstr("flatten: start_dim 2 is after end_dim 1"));
  EXPECT_THAT(error_of([] { slice(scalar_tensor(1.0), 0, 0, 1); }),
              HasSubstr("slice: cannot slice a 0-dimensional tensor"));
  EXPECT_THAT(error_of([] { reshape(Tensor(), {1}); }), HasSubstr("reshape: got an undefined tensor"));
}
