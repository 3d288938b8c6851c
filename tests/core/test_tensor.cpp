// Tests of the Tensor handle: creation and random tensors, dtypes and conversions, views that
// share storage, copies, element access, printing, Device parsing, and the errors users meet
// first (bad shapes, non-contiguous views, negative dims, devices without a backend).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

namespace {
using magmadnn::testing::error_of;
}  // namespace

// ------------------------------------------------------------------------------ creation

TEST(TensorCreate, ZerosOnesFull) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), Shape({2, 3}));
  EXPECT_EQ(z.dtype(), kFloat32);
  EXPECT_TRUE(z.device().is_cpu());
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(z.strides(), (std::vector<int64_t>{3, 1}));
  EXPECT_THAT(z.to_vector<float>(), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(ones({4}, kInt32).to_vector<int32_t>(), ElementsAre(1, 1, 1, 1));
  EXPECT_THAT(full({2, 2}, 2.5, kFloat64).to_vector<double>(), ElementsAre(2.5, 2.5, 2.5, 2.5));
  EXPECT_THAT(full({3}, 7, kUInt8).to_vector<uint8_t>(), ElementsAre(7, 7, 7));
  EXPECT_EQ(zeros_like(full({2, 5}, 1.0, kInt64)).dtype(), kInt64);
  EXPECT_THAT(ones_like(zeros({2}, kFloat64)).to_vector<double>(), ElementsAre(1, 1));
  Tensor s = scalar_tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_FLOAT_EQ(s.item<float>(), 3.5f);
  Tensor e = zeros({0, 3});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.to_vector<float>().empty());
}

TEST(TensorCreate, Arange) {
  EXPECT_THAT(arange(5).to_vector<int64_t>(), ElementsAre(0, 1, 2, 3, 4));
  EXPECT_EQ(arange(5).dtype(), kInt64);
  Tensor a = arange(1.0, 2.0, 0.25);
  EXPECT_EQ(a.dtype(), kFloat32);
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(1.0f, 1.25f, 1.5f, 1.75f));
  EXPECT_THAT(arange(5.0, 0.0, -2.0, kFloat64).to_vector<double>(), ElementsAre(5, 3, 1));
  EXPECT_EQ(arange(3.0, 1.0, 1.0).numel(), 0);  // empty range, not an error
  EXPECT_THAT(error_of([] { arange(0.0, 1.0, 0.0); }), HasSubstr("arange: step must be non-zero"));
}

TEST(TensorCreate, FromVector) {
  Tensor t = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  EXPECT_EQ(t.dtype(), kFloat64);
  EXPECT_DOUBLE_EQ(t.data<double>()[4], 5.0);
  EXPECT_EQ(from_vector<int64_t>({4, 5}).shape(), Shape({2}));
  EXPECT_EQ(from_vector<uint8_t>({1, 2, 3}).dtype(), kUInt8);
  EXPECT_EQ(from_vector<int32_t>({1}).dtype(), kInt32);
  EXPECT_EQ(tensor({1.f, 2.f}).dtype(), kFloat32);
  EXPECT_THAT(error_of([] {
                from_vector<float>({1, 2, 3}, {2, 2});
              }),
              HasSubstr("from_vector: 3 values do not fill shape (2, 2)"));
}

TEST(TensorCreate, NegativeSizeIsAnError) {
  EXPECT_THAT(error_of([] { zeros({2, -1}); }), HasSubstr("negative size in shape (2, -1)"));
}

TEST(TensorRandom, SameSeedSameValuesDifferentSeedDifferent) {
  struct Draw {
    std::vector<float> r, n, u;
    std::vector<int64_t> i, p;
  };
  auto draw = [](uint64_t seed) {
    manual_seed(seed);
    Draw d;
    d.r = rand({50}).to_vector<float>();
    d.n = randn({51}).to_vector<float>();  // odd count: Box-Muller's unpaired last value
    d.u = uniform({50}, -2.0, 3.0).to_vector<float>();
    d.i = randint(-3, 4, {50}).to_vector<int64_t>();
    d.p = randperm(20).to_vector<int64_t>();
    return d;
  };
  const Draw a = draw(7), b = draw(7), c = draw(8);
  EXPECT_EQ(a.r, b.r);
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.u, b.u);
  EXPECT_EQ(a.i, b.i);
  EXPECT_EQ(a.p, b.p);
  EXPECT_NE(a.r, c.r);
  EXPECT_NE(a.n, c.n);
  EXPECT_NE(a.u, c.u);
  EXPECT_NE(a.i, c.i);
  EXPECT_NE(a.p, c.p);
  EXPECT_EQ(default_generator().initial_seed(), 8u);
}

TEST(TensorRandom, RangesAndDistributions) {
  manual_seed(3);
  const auto r = rand({4000}, kFloat64).to_vector<double>();
  for (double v : r) ASSERT_TRUE(v >= 0.0 && v < 1.0);
  EXPECT_NEAR(std::accumulate(r.begin(), r.end(), 0.0) / r.size(), 0.5, 0.03);
  const auto u = uniform({1000}, -2.0, 3.0).to_vector<float>();
  for (float v : u) ASSERT_TRUE(v >= -2.0f && v <= 3.0f);
  const auto n = randn({4000}, kFloat64).to_vector<double>();
  double m = 0, s2 = 0;
  for (double v : n) m += v;
  m /= n.size();
  for (double v : n) s2 += (v - m) * (v - m);
  EXPECT_NEAR(m, 0.0, 0.06);
  EXPECT_NEAR(std::sqrt(s2 / n.size()), 1.0, 0.06);
  const auto nn = normal({2000}, 5.0, 0.5, kFloat64).to_vector<double>();
  EXPECT_NEAR(std::accumulate(nn.begin(), nn.end(), 0.0) / nn.size(), 5.0, 0.05);
  const auto i = randint(-3, 4, {1000}).to_vector<int64_t>();
  std::set<int64_t> seen(i.begin(), i.end());
  EXPECT_EQ(seen, (std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_EQ(randint(0, 10, {3}, kInt32).dtype(), kInt32);
  auto p = randperm(30).to_vector<int64_t>();
  std::sort(p.begin(), p.end());
  std::vector<int64_t> expected(30);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(p, expected);
  EXPECT_THAT(error_of([] { randint(3, 3, {2}); }), HasSubstr("randint: empty range [3, 3)"));
}

// ------------------------------------------------------------------------------ dtypes

TEST(TensorDType, SizesAndNames) {
  EXPECT_EQ(dtype_size(kFloat32), 4u);
  EXPECT_EQ(dtype_size(kFloat64), 8u);
  EXPECT_EQ(dtype_size(kInt64), 8u);
  EXPECT_EQ(dtype_size(kInt32), 4u);
  EXPECT_EQ(dtype_size(kUInt8), 1u);
  EXPECT_STREQ(dtype_name(kUInt8), "uint8");
  EXPECT_TRUE(is_floating(kFloat64));
  EXPECT_FALSE(is_floating(kInt32));
  EXPECT_EQ(zeros({3}, kInt32).nbytes(), 12u);
  EXPECT_EQ(zeros({3}, kFloat64).element_size(), 8u);
}

TEST(TensorDType, Conversions) {
  Tensor f = from_vector<float>({-1.75f, 0.5f, 2.25f, 255.f});
  EXPECT_THAT(f.to(kFloat64).to_vector<double>(), ElementsAre(-1.75, 0.5, 2.25, 255.0));
  EXPECT_THAT(f.to(kInt64).to_vector<int64_t>(), ElementsAre(-1, 0, 2, 255));  // truncates toward zero
  EXPECT_THAT(f.to(kInt32).to_vector<int32_t>(), ElementsAre(-1, 0, 2, 255));
  EXPECT_THAT(from_vector<uint8_t>({0, 128, 255}).to(kFloat32).to_vector<float>(),
              ElementsAre(0.f, 128.f, 255.f));
  EXPECT_THAT(from_vector<int64_t>({3, 9}).to(kUInt8).to_vector<uint8_t>(), ElementsAre(3, 9));
  // to() the same dtype is the same handle; a different dtype is a new storage.
  EXPECT_TRUE(f.to(kFloat32).shares_storage(f));
  EXPECT_FALSE(f.to(kFloat64).shares_storage(f));
  // to_vector converts as well.
  EXPECT_THAT(from_vector<int32_t>({1, -2}).to_vector<double>(), ElementsAre(1.0, -2.0));
  // A strided source converts too.
  Tensor m = arange(0.0, 6.0, 1.0).reshape({2, 3}).t();
  EXPECT_THAT(m.to(kInt64).to_vector<int64_t>(), ElementsAre(0, 3, 1, 4, 2, 5));
}

TEST(TensorDType, TypedDataChecksDType) {
  Tensor t = zeros({2}, kInt32);
  EXPECT_THAT(error_of([&] { t.data<float>(); }),
              HasSubstr("Tensor::data<float32>(): tensor has dtype int32"));
}

// ------------------------------------------------------------------------------ views

TEST(TensorView, ReshapeAndViewShareStorage) {
  Tensor base = arange(0.0, 12.0, 1.0);
  Tensor r = base.reshape({3, 4});
  Tensor v = base.view({2, -1});
  EXPECT_EQ(v.shape(), Shape({2, 6}));
  EXPECT_TRUE(r.shares_storage(base));
  EXPECT_TRUE(v.shares_storage(base));
  r.select(0, 1).select(0, 2).fill_(-1);  // element (1, 2) of (3, 4) is flat 6
  EXPECT_FLOAT_EQ(base.to_vector<float>()[6], -1.f);
  EXPECT_FLOAT_EQ(v.to_vector<float>()[6], -1.f);
  EXPECT_EQ(base.flatten().shape(), Shape({12}));
  EXPECT_EQ(r.reshape({2, 2, 3}).flatten(1).shape(), Shape({2, 6}));
}

TEST(TensorView, TransposePermuteShareStorage) {
  Tensor base = arange(0.0, 6.0, 1.0).reshape({2, 3});
  Tensor t = base.t();
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THAT(t.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  t.select(0, 2).select(0, 1).fill_(50);  // t[2][1] == base[1][2]
  EXPECT_FLOAT_EQ(base.to_vector<float>()[5], 50.f);

  Tensor b3 = arange(0.0, 24.0, 1.0).reshape({2, 3, 4});
  Tensor p = b3.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), Shape({4, 2, 3}));
  EXPECT_TRUE(p.shares_storage(b3));
  // p[i][j][k] = b3[j][k][i]
  const auto pv = p.to_vector<float>();
  EXPECT_FLOAT_EQ(pv[(3 * 2 + 1) * 3 + 2], static_cast<float>((1 * 3 + 2) * 4 + 3));
  EXPECT_EQ(b3.permute({-1, 0, 1}).shape(), Shape({4, 2, 3}));
  EXPECT_EQ(b3.transpose(0, -1).shape(), Shape({4, 3, 2}));
  EXPECT_THAT(error_of([&] { b3.permute({0, 0, 1}); }), HasSubstr("permute: dimension 0 repeated"));
  EXPECT_THAT(error_of([&] {
                b3.permute({0, 1});
              }),
              HasSubstr("permute: got 2 dimensions for a tensor of shape (2, 3, 4)"));
  EXPECT_THAT(error_of([&] { zeros({3}).t(); }), HasSubstr("t(): expected a 2-D tensor, got shape (3)"));
}

TEST(TensorView, SliceWithStepSelectNarrow) {
  Tensor base = arange(0.0, 20.0, 1.0).reshape({4, 5});
  Tensor s = base.slice(1, 1, 5, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), Shape({4, 2}));
  EXPECT_THAT(s.to_vector<float>(), ElementsAre(1, 3, 6, 8, 11, 13, 16, 18));
  s.fill_(-1);
  const auto bv = base.to_vector<float>();
  EXPECT_FLOAT_EQ(bv[1], -1);
  EXPECT_FLOAT_EQ(bv[3], -1);
  EXPECT_FLOAT_EQ(bv[2], 2);
  EXPECT_FLOAT_EQ(bv[18], -1);
  // Uneven step, negative start, end past the size is clamped (as Python slicing).
  EXPECT_THAT(arange(0.0, 10.0, 1.0).slice(0, -7, 100, 3).to_vector<float>(), ElementsAre(3, 6, 9));
  EXPECT_EQ(arange(0.0, 10.0, 1.0).slice(0, 6, 2).numel(), 0);
  EXPECT_THAT(error_of([&] { base.slice(0, 0, 2, 0); }), HasSubstr("slice: step must be positive, got 0"));

  Tensor row = base.select(0, -1);
  EXPECT_EQ(row.shape(), Shape({5}));
  EXPECT_THAT(row.to_vector<float>(), ElementsAre(15, -1, 17, -1, 19));
  Tensor col = base.select(1, 2);
  EXPECT_THAT(col.to_vector<float>(), ElementsAre(2, 7, 12, 17));
  col.fill_(100);
  EXPECT_FLOAT_EQ(base.to_vector<float>()[12], 100);
  EXPECT_THAT(error_of([&] { base.select(0, 4); }),
              HasSubstr("select: index 4 out of range for dimension 0"));

  Tensor n = base.narrow(0, 1, 2);
  EXPECT_EQ(n.shape(), Shape({2, 5}));
  EXPECT_TRUE(n.is_contiguous());
  EXPECT_EQ(n.offset(), 5);
  n.zero_();
  EXPECT_FLOAT_EQ(base.to_vector<float>()[9], 0);
  EXPECT_FLOAT_EQ(base.to_vector<float>()[15], 15);
}

TEST(TensorView, SqueezeUnsqueezeExpand) {
  Tensor base = arange(0.0, 6.0, 1.0).reshape({1, 2, 1, 3});
  EXPECT_EQ(base.squeeze().shape(), Shape({2, 3}));
  EXPECT_EQ(base.squeeze(2).shape(), Shape({1, 2, 3}));
  EXPECT_EQ(base.squeeze(1).shape(), Shape({1, 2, 1, 3}));  // size 2: unchanged
  EXPECT_EQ(base.squeeze(-2).shape(), Shape({1, 2, 3}));
  Tensor u = base.squeeze().unsqueeze(-1);
  EXPECT_EQ(u.shape(), Shape({2, 3, 1}));
  EXPECT_EQ(base.squeeze().unsqueeze(0).shape(), Shape({1, 2, 3}));
  EXPECT_TRUE(u.shares_storage(base));
  u.select(0, 1).select(0, 0).fill_(9);
  EXPECT_FLOAT_EQ(base.to_vector<float>()[3], 9);

  Tensor col = from_vector<float>({1, 2, 3}, {3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(e.strides(), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_TRUE(e.shares_storage(col));
  EXPECT_FLOAT_EQ(e.to_vector<float>()[1 * 12 + 2 * 4 + 3], 3);
  col.fill_(5);  // writing the base is visible through the broadcast view
  EXPECT_FLOAT_EQ(e.to_vector<float>()[7], 5);
  EXPECT_THAT(error_of([&] {
                col.expand({2, 2});
              }),
              HasSubstr("expand: cannot expand shape (3, 1) to (2, 2)"));
  EXPECT_THAT(error_of([&] { col.expand({4}); }), HasSubstr("expand: cannot expand shape (3, 1) to (4)"));
}

TEST(TensorView, ContiguousCopiesOnlyWhenNeeded) {
  Tensor base = arange(0.0, 6.0, 1.0).reshape({2, 3});
  Tensor c = base.contiguous();
  EXPECT_TRUE(c.shares_storage(base));
  Tensor t = base.t();
  Tensor tc = t.contiguous();
  EXPECT_FALSE(tc.shares_storage(base));
  EXPECT_TRUE(tc.is_contiguous());
  EXPECT_THAT(tc.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  // reshape of a non-contiguous tensor copies; view refuses.
  Tensor r = t.reshape({6});
  EXPECT_FALSE(r.shares_storage(base));
  EXPECT_THAT(r.to_vector<float>(), ElementsAre(0, 3, 1, 4, 2, 5));
  EXPECT_THAT(error_of([&] { t.view({6}); }),
              HasSubstr("view: tensor of shape (3, 2) is not contiguous; use reshape()"));
  // A slice along the first dim of a contiguous tensor is still contiguous.
  EXPECT_TRUE(base.narrow(0, 1, 1).contiguous().shares_storage(base));
}

TEST(TensorCopy, CloneIsIndependent) {
  Tensor a = from_vector<float>({1, 2, 3});
  Tensor b = a.clone();
  EXPECT_FALSE(b.shares_storage(a));
  b.fill_(0);
  EXPECT_THAT(a.to_vector<float>(), ElementsAre(1, 2, 3));
  a.fill_(7);
  EXPECT_THAT(b.to_vector<float>(), ElementsAre(0, 0, 0));
  // Cloning a strided view gives a contiguous tensor with the view's values.
  Tensor m = arange(0.0, 6.0, 1.0).reshape({2, 3}).slice(1, 0, 3, 2);
  Tensor mc = m.clone();
  EXPECT_TRUE(mc.is_contiguous());
  EXPECT_THAT(mc.to_vector<float>(), ElementsAre(0, 2, 3, 5));
}

TEST(TensorCopy, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, kFloat64);
  dst.copy_(from_vector<int64_t>({1, 2, 3}));
  EXPECT_THAT(dst.to_vector<double>(), ElementsAre(1, 2, 3, 1, 2, 3));
  Tensor view = dst.t();  // write through a transposed view
  view.copy_(from_vector<double>({10, 20, 30, 40, 50, 60}, {3, 2}));
  EXPECT_THAT(dst.to_vector<double>(), ElementsAre(10, 30, 50, 20, 40, 60));
}

TEST(TensorAccess, ItemAndToVector) {
  EXPECT_EQ(from_vector<int64_t>({42}).item<int64_t>(), 42);
  EXPECT_DOUBLE_EQ(from_vector<int64_t>({42}).item<double>(), 42.0);
  EXPECT_FLOAT_EQ(full({1, 1, 1}, 0.25).item<float>(), 0.25f);
  EXPECT_THAT(error_of([] { zeros({2}).item<float>(); }),
              HasSubstr("item(): expected a tensor with one element, got shape (2)"));
  EXPECT_THAT(error_of([] { Tensor().shape(); }), HasSubstr("use of an undefined tensor"));
  EXPECT_EQ(zeros({2, 3}).size(-1), 3);
  EXPECT_THAT(error_of([] {
                zeros({2, 3}).size(2);
              }),
              HasSubstr("Tensor::size: dimension 2 out of range for a tensor with 2 dimensions"));
}

// ------------------------------------------------------------------------------ printing

TEST(TensorPrint, SmallTensors) {
  std::ostringstream os;
  os << from_vector<int64_t>({1, -2, 3});
  EXPECT_EQ(os.str(), "tensor([1, -2, 3], shape=(3), dtype=int64)");
  EXPECT_EQ(scalar_tensor(1.5, kFloat64).str(), "tensor(1.5000, shape=(), dtype=float64)");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  Tensor g = zeros({2}).set_requires_grad();
  EXPECT_THAT(g.str(), HasSubstr("requires_grad=true"));
  EXPECT_EQ(arange(0.0, 4.0, 1.0).reshape({2, 1, 2}).str(),
            "tensor([[[0.0000, 1.0000]],\n        [[2.0000, 3.0000]]], shape=(2, 1, 2), dtype=float32)");
  // Printing a strided view prints the view's elements.
  EXPECT_EQ(arange(4, kInt64).slice(0, 0, 4, 2).str(), "tensor([0, 2], shape=(2), dtype=int64)");
}

TEST(TensorPrint, LargeTensorsAreSummarised) {
  const std::string s = arange(2000).str();
  EXPECT_EQ(s, "tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=(2000), dtype=int64)");
  const std::string m = arange(0.0, 2000.0, 1.0).reshape({100, 20}).str();
  EXPECT_THAT(m, HasSubstr("[0.0000, 1.0000, 2.0000, ..., 17.0000, 18.0000, 19.0000]"));
  EXPECT_THAT(m, HasSubstr("...,\n"));
  EXPECT_THAT(m, HasSubstr("[1980.0000, 1981.0000, 1982.0000, ..., 1997.0000, 1998.0000, 1999.0000]]"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("1000.0000")));  // the middle rows are skipped
  EXPECT_LT(m.size(), 600u);
}

// ------------------------------------------------------------------------------ devices

TEST(Device, ParseAndPrint) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
  std::ostringstream os;
  os << Device::cpu();
  EXPECT_EQ(os.str(), "cpu");
  for (const char* bad : {"", "gpu", "CPU", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cuda:123456"})
    EXPECT_THAT(error_of([&] { Device::parse(bad); }),
                HasSubstr(std::string("unknown device '") + bad + "': expected cpu, cuda or cuda:N"))
        << bad;
}

TEST(Device, NoBackendForCudaInCpuBuild) {
  if (has_backend(DeviceType::CUDA)) GTEST_SKIP() << "this build has a CUDA backend";
  EXPECT_THAT(error_of([] { zeros({2}, kFloat32, Device::cuda(0)); }),
              HasSubstr("no backend for device cuda:0"));
  EXPECT_THAT(error_of([] { ones({2}).to(Device::cuda(0)); }), HasSubstr("no backend for device cuda:0"));
  EXPECT_THAT(error_of([] { from_vector<float>({1}, {}, Device::cuda(1)); }),
              HasSubstr("no backend for device cuda:1"));
}

// ------------------------------------------------------------------------------ shape errors

TEST(TensorErrors, ReshapeNamesBothShapes) {
  Tensor t = zeros({2, 3});
  EXPECT_THAT(error_of([&] { t.reshape({4}); }),
              HasSubstr("reshape: cannot reshape (2, 3) (6 elements) into (4)"));
  EXPECT_THAT(error_of([&] {
                t.reshape({4, -1});
              }),
              HasSubstr("reshape: cannot reshape (2, 3) into (4, -1)"));
  EXPECT_THAT(error_of([&] { t.reshape({-1, -1}); }), HasSubstr("only one dimension can be -1"));
  EXPECT_THAT(error_of([&] { t.reshape({-2, -3}); }), HasSubstr("reshape: invalid size -2 in (-2, -3)"));
  EXPECT_EQ(zeros({0, 3}).reshape({-1, 3}).shape(), Shape({0, 3}));
}

TEST(TensorErrors, DimensionsOutOfRange) {
  Tensor t = zeros({2, 3});
  EXPECT_THAT(error_of([&] { t.transpose(0, 2); }),
              HasSubstr("transpose: dimension 2 out of range for a tensor with 2 dimensions"));
  EXPECT_THAT(error_of([&] { t.squeeze(-3); }),
              HasSubstr("squeeze: dimension -3 out of range for a tensor with 2 dimensions"));
  EXPECT_THAT(error_of([&] { t.unsqueeze(4); }), HasSubstr("unsqueeze: dimension 4 out of range"));
  EXPECT_THAT(error_of([&] { t.slice(-3, 0, 1); }), HasSubstr("slice: dimension -3 out of range"));
  EXPECT_EQ(t.unsqueeze(-3).shape(), Shape({1, 2, 3}));  // -3 is valid for the 3-D result
}

TEST(Shape, BroadcastAndHelpers) {
  EXPECT_EQ(broadcast_shapes({3, 1}, {1, 4}, "t"), Shape({3, 4}));
  EXPECT_EQ(broadcast_shapes({2, 3, 4}, {4}, "t"), Shape({2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({}, {2, 2}, "t"), Shape({2, 2}));
  EXPECT_EQ(broadcast_shapes({5, 1, 0}, {3, 1}, "t"), Shape({5, 3, 0}));
  EXPECT_THAT(error_of([] {
                broadcast_shapes({2, 3}, {4}, "add");
              }),
              HasSubstr("add: shapes (2, 3) and (4) cannot be broadcast together"));
  EXPECT_EQ(Shape({2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(Shape({2, 3, 4}).str(), "(2, 3, 4)");
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(wrap_dim(-1, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(-1, 0, "t"), 0);  // a scalar accepts dim -1 and 0
}

TEST(ErrorType, CarriesLocation) {
  try {
    zeros({2}).reshape({3});
    FAIL();
  } catch (const Error& e) {
    EXPECT_GT(e.line(), 0);
    EXPECT_THAT(e.with_location(), HasSubstr("(at src/"));
  }
}

TEST(TensorErrors, ScalarsHaveNoDimensionToIndex) {
  // A 0-dim tensor accepts dim 0/-1 in reductions, but has no size, stride or row to select.
  Tensor s = scalar_tensor(2.0);
  EXPECT_THAT(error_of([&] { s.size(0); }),
              HasSubstr("Tensor::size: dimension 0 out of range for a tensor with 0 dimensions"));
  EXPECT_THAT(error_of([&] { s.stride(-1); }), HasSubstr("Tensor::stride: dimension -1 out of range"));
  EXPECT_THAT(error_of([&] { Shape{}.at(0); }), HasSubstr("Shape::at: dimension 0 out of range"));
  EXPECT_THAT(error_of([&] { s.select(0, 0); }),
              HasSubstr("select: cannot select from a 0-dimensional tensor"));
  EXPECT_EQ(s.transpose(0, -1).dim(), 0);  // as PyTorch
  EXPECT_THAT(error_of([&] { s.transpose(0, 1); }), HasSubstr("transpose: dimension 1 out of range"));
}

TEST(TensorErrors, OverflowingShapeIsRejected) {
  const int64_t big = int64_t(1) << 40;
  EXPECT_THAT(error_of([&] {
                zeros({big, big});
              }),
              HasSubstr("empty: shape (1099511627776, 1099511627776) has too many elements for float32"));
  EXPECT_THAT(error_of([&] { empty({int64_t(1) << 61}, kFloat64); }),
              HasSubstr("has too many elements for float64"));
}

TEST(TensorCopy, OverlappingContiguousCopy) {
  Tensor x = arange(0.0, 5.0, 1.0);
  x.narrow(0, 0, 4).copy_(x.narrow(0, 1, 4));  // source and destination overlap
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 2, 3, 4, 4));
}

TEST(TensorMul, InPlaceByAScalarARowOrATensor) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const float* data = x.data<float>();
  x.mul_(from_vector<double>({0.5}, {}));  // a float64 scalar, converted
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(0.5, 1, 1.5, 2, 2.5, 3));
  EXPECT_EQ(x.data<float>(), data);  // the same storage
  x.mul_(from_vector<float>({2, 0, -1}, {3}));  // a row, broadcast over both rows
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 0, -1.5, 4, 0, -3));
  x.mul_(from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  EXPECT_THAT(x.to_vector<float>(), ElementsAre(1, 0, -4.5, 16, 0, -18));
  // Large enough for the parallel loops, against multiplying element by element.
  Tensor big = arange(0.0, 300000.0, 1.0);
  big.mul_(from_vector<float>({0.25f}, {}));
  const auto v = big.to_vector<float>();
  for (size_t i = 0; i < v.size(); i += 9973) EXPECT_EQ(v[i], static_cast<float>(i) * 0.25f);
  EXPECT_THAT(error_of([&] { x.mul_(Tensor()); }), HasSubstr("mul_: undefined factor"));
  EXPECT_THAT(error_of([&] { Tensor i = zeros({2}, kInt64); i.mul_(ones({})); }),
              HasSubstr("mul_: expected a float tensor, got int64"));
  EXPECT_THAT(error_of([&] { x.transpose(0, 1).mul_(ones({})); }), HasSubstr("mul_: expected a contiguous tensor"));
  EXPECT_THAT(error_of([&] { x.mul_(ones({4})); }), HasSubstr("(4)"));
  Tensor w = ones({2}).set_requires_grad();
  EXPECT_THAT(error_of([&] { w.mul_(ones({})); }), HasSubstr("mul_: a tensor that requires grad cannot change"));
  {
    NoGradGuard no_grad;
    w.mul_(full({}, 3.0));
  }
  EXPECT_THAT(w.to_vector<float>(), ElementsAre(3, 3));
}
