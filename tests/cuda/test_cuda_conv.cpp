// CUDA convolutions (cuDNN) and sparse products (cuSPARSE) against the CPU backend: the kernels
// over many geometries in float32 and float64, the differentiable ops, nn::Conv2d, the model zoo's
// lenet and resnet18 forward + backward, and SpMM with the graph layers. Parity tests skip with a
// message when no CUDA device is present; the TF32 switch and the error tests run everywhere.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.h"

using namespace magmadnn;
using namespace cudatest;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {


// Relative error `rel` of each element, with the absolute floor scaled to the tensor's largest
// magnitude: sums of many terms of both signs may end near zero, where only the scale of the
// terms says what rounding to expect.
void expect_close_scaled(const Tensor& got, const Tensor& want, double rel, const std::string& what) {
  ASSERT_TRUE(want.defined()) << what << ": reference undefined";
  double scale = 0;
  for (double v : want.to_vector<double>()) scale = std::max(scale, std::abs(v));
  expect_close(got, want, rel, rel * std::max(scale, 1e-30), what);
}

// fp32 parity: relative error below 1e-4; fp64: below 1e-10.
double tol_for(DType dt) {
  return dt == kFloat64 ? 1e-10 : 1e-4;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / s + 1;
}

struct ConvCase {
  std::string name;
  int64_t N, C, H, W, O, KH, KW;
  Conv2dParams p;
};

Conv2dParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups) {
  Conv2dParams p;
  p.stride_h = sh;
  p.stride_w = sw;
  p.pad_h = ph;
  p.pad_w = pw;
  p.dilation_h = dh;
  p.dilation_w = dw;
  p.groups = groups;
  return p;
}

std::vector<ConvCase> conv_cases() {
  return {
      {"1x1", 2, 4, 7, 6, 5, 1, 1, params(1, 1, 0, 0, 1, 1, 1)},
      {"3x3 pad 1", 2, 3, 8, 8, 6, 3, 3, params(1, 1, 1, 1, 1, 1, 1)},
      {"5x5 stride 2", 2, 3, 13, 11, 4, 5, 5, params(2, 2, 2, 2, 1, 1, 1)},
      {"3x3 dilation 2", 2, 3, 10, 9, 4, 3, 3, params(1, 1, 2, 2, 2, 2, 1)},
      {"groups 2", 2, 4, 7, 7, 6, 3, 3, params(1, 1, 1, 1, 1, 1, 2)},
      {"depthwise", 2, 5, 8, 8, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 5)},
      {"depthwise x2", 2, 4, 6, 7, 8, 3, 3, params(2, 1, 1, 0, 1, 1, 4)},
      {"3x5 stride (1, 2)", 2, 3, 9, 12, 4, 3, 5, params(1, 2, 1, 2, 1, 1, 1)},
      {"2x1 stride (2, 1) dilation (1, 2)", 2, 2, 9, 8, 3, 2, 1, params(2, 1, 0, 1, 1, 2, 1)},
      {"batch 1, 16 -> 32", 1, 16, 6, 6, 32, 3, 3, params(1, 1, 1, 1, 1, 1, 1)},
      {"64 -> 64 3x3", 2, 64, 8, 8, 64, 3, 3, params(1, 1, 1, 1, 1, 1, 1)},
      {"7x7 stride 2 pad 3", 2, 3, 16, 16, 8, 7, 7, params(2, 2, 3, 3, 1, 1, 1)},
  };
}

std::string describe(const ConvCase& c, DType dt, bool bias) {
  return c.name + " " + dtype_name(dt) + (bias ? " with bias" : " no bias");
}

// Keeps the TF32 switch as it was when the test started.
struct Tf32Restore {
  bool saved = cuda::allow_tf32();
  ~Tf32Restore() { cuda::set_allow_tf32(saved); }
};

// A fresh leaf on device d that requires grad, with t's values (never t itself, so t stays a
// plain constant for the next run).
Tensor leaf(const Tensor& t, Device d) {
  Tensor l = t.detach().to(d);
  if (l.impl_ptr() == t.impl_ptr() || l.shares_storage(t)) l = t.detach().clone();
  l.set_requires_grad();
  return l;
}

// The CSR arrays of `a` on the GPU, same structure (and symmetry flag, so that spmm's backward
// uses the matrix itself as its transpose and stays on the device).
CsrMatrix csr_on_gpu(const CsrMatrix& a) {
  return CsrMatrix(a.rows(), a.cols(), a.row_offsets().to(kGpu), a.col_indices().to(kGpu),
                   a.values().to(kGpu), a.is_symmetric());
}

}  // namespace

// ------------------------------------------------------------------------------ everywhere

TEST(CudaConvEverywhere, Tf32SwitchRoundTrips) {
  Tf32Restore restore;
  cuda::set_allow_tf32(false);
  EXPECT_FALSE(cuda::allow_tf32());
  cuda::set_allow_tf32(true);
  EXPECT_TRUE(cuda::allow_tf32());
  cuda::set_allow_tf32(false);
  EXPECT_FALSE(cuda::allow_tf32());
}

TEST(CudaConvEverywhere, Tf32IsOffByDefault) {
  // No test in this program turns it on without restoring it; a fresh process starts with false.
  EXPECT_FALSE(cuda::allow_tf32());
}

TEST(CudaConvEverywhere, ConvOnAMissingDeviceIsAClearError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  nn::Conv2d conv(nn::Conv2dOptions(3, 4, 3).padding(1));
  EXPECT_THAT(error_of([&] { conv.to(kGpu); }), HasSubstr("no CUDA device"));
  EXPECT_THAT(error_of([] {
                conv2d(randn({1, 3, 5, 5}).to(kGpu), randn({4, 3, 3, 3}));
              }),
              HasSubstr("no CUDA device"));
  // The CPU module is untouched by the failed move and still works.
  EXPECT_EQ(conv.weight().device(), Device::cpu());
  EXPECT_EQ(conv.forward(randn({1, 3, 5, 5})).shape(), Shape({1, 4, 5, 5}));
}

// ------------------------------------------------------------------------------ conv kernels

TEST(CudaConv, KernelsMatchTheCpuForEveryGeometry) {
  SKIP_WITHOUT_GPU();
  manual_seed(21);
  for (const ConvCase& c : conv_cases()) {
    const int64_t OH = out_size(c.H, c.KH, c.p.stride_h, c.p.pad_h, c.p.dilation_h);
    const int64_t OW = out_size(c.W, c.KW, c.p.stride_w, c.p.pad_w, c.p.dilation_w);
    for (DType dt : {kFloat32, kFloat64}) {
      for (bool has_bias : {false, true}) {
        const std::string what = describe(c, dt, has_bias);
        SCOPED_TRACE(what);
        const Tensor x = randn({c.N, c.C, c.H, c.W}, dt);
        const Tensor w = randn({c.O, c.C / c.p.groups, c.KH, c.KW}, dt);
        const Tensor b = has_bias ? randn({c.O}, dt) : Tensor();
        const Tensor gy = randn({c.N, c.O, OH, OW}, dt);
        const Tensor xg = x.to(kGpu), wg = w.to(kGpu), bg = has_bias ? b.to(kGpu) : Tensor(),
                     gyg = gy.to(kGpu);

        Tensor y = Tensor::empty({c.N, c.O, OH, OW}, dt), yg = Tensor::empty({c.N, c.O, OH, OW}, dt, kGpu);
        cpu().conv2d(x, w, b, y, c.p);
        gpu().conv2d(xg, wg, bg, yg, c.p);
        expect_close_scaled(yg, y, tol_for(dt), what + " forward");

        Tensor gx = Tensor::empty(x.shape(), dt), gxg = Tensor::empty(x.shape(), dt, kGpu);
        cpu().conv2d_backward_data(gy, w, gx, c.p);
        gpu().conv2d_backward_data(gyg, wg, gxg, c.p);
        expect_close_scaled(gxg, gx, tol_for(dt), what + " grad_x");

        Tensor gw = Tensor::empty(w.shape(), dt), gwg = Tensor::empty(w.shape(), dt, kGpu);
        Tensor gb = has_bias ? Tensor::empty({c.O}, dt) : Tensor();
        Tensor gbg = has_bias ? Tensor::empty({c.O}, dt, kGpu) : Tensor();
        cpu().conv2d_backward_weights(x, gy, gw, gb, c.p);
        gpu().conv2d_backward_weights(xg, gyg, gwg, gbg, c.p);
        expect_close_scaled(gwg, gw, tol_for(dt), what + " grad_weight");
        if (has_bias) expect_close_scaled(gbg, gb, tol_for(dt), what + " grad_bias");

        // Both gradients in one call, as the op asks for them.
        Tensor gx2 = Tensor::empty(x.shape(), dt, kGpu), gw2 = Tensor::empty(w.shape(), dt, kGpu);
        Tensor gb2 = has_bias ? Tensor::empty({c.O}, dt, kGpu) : Tensor();
        gpu().conv2d_backward(xg, gyg, wg, gx2, gw2, gb2, c.p);
        expect_close_scaled(gx2, gx, tol_for(dt), what + " conv2d_backward grad_x");
        expect_close_scaled(gw2, gw, tol_for(dt), what + " conv2d_backward grad_weight");
        if (has_bias) expect_close_scaled(gb2, gb, tol_for(dt), what + " conv2d_backward grad_bias");
      }
    }
  }
}

TEST(CudaConv, OutputsAreOverwrittenNotAccumulated) {
  SKIP_WITHOUT_GPU();
  manual_seed(22);
  const Conv2dParams p = params(1, 1, 1, 1, 1, 1, 1);
  const Tensor x = randn({2, 3, 6, 6}), w = randn({4, 3, 3, 3}), b = randn({4}), gy = randn({2, 4, 6, 6});
  Tensor y = Tensor::empty({2, 4, 6, 6}), gx = Tensor::empty(x.shape()), gw = Tensor::empty(w.shape()),
         gb = Tensor::empty({4});
  cpu().conv2d(x, w, b, y, p);
  cpu().conv2d_backward_data(gy, w, gx, p);
  cpu().conv2d_backward_weights(x, gy, gw, gb, p);
  // Outputs full of garbage (NaN included) before each call.
  Tensor yg = full(y.shape(), std::nan(""), kFloat32, kGpu), gxg = full(x.shape(), 7.0, kFloat32, kGpu);
  Tensor gwg = full(w.shape(), std::nan(""), kFloat32, kGpu), gbg = full({4}, 3.0, kFloat32, kGpu);
  for (int rep = 0; rep < 2; ++rep) {  // twice: the second call reuses the cached plan
    gpu().conv2d(x.to(kGpu), w.to(kGpu), b.to(kGpu), yg, p);
    gpu().conv2d_backward_data(gy.to(kGpu), w.to(kGpu), gxg, p);
    gpu().conv2d_backward_weights(x.to(kGpu), gy.to(kGpu), gwg, gbg, p);
    expect_close_scaled(yg, y, 1e-4, "forward, call " + std::to_string(rep));
    expect_close_scaled(gxg, gx, 1e-4, "grad_x, call " + std::to_string(rep));
    expect_close_scaled(gwg, gw, 1e-4, "grad_weight, call " + std::to_string(rep));
    expect_close_scaled(gbg, gb, 1e-4, "grad_bias, call " + std::to_string(rep));
  }
}

TEST(CudaConv, NonContiguousOperandsAreHandled) {
  SKIP_WITHOUT_GPU();
  manual_seed(23);
  const Conv2dParams p = params(2, 1, 1, 0, 1, 1, 1);
  // x as a transposed view, w as a slice, out and gradients as strided slices of larger tensors.
  const Tensor xt = randn({2, 3, 9, 7});  // (N, C, W, H): transposed below to (N, C, H, W) = (2, 3, 7, 9)
  const Tensor x = xt.transpose(2, 3), wbig = randn({4, 6, 3, 3}), w = wbig.slice(1, 0, 6, 2);
  const Tensor b = randn({8}).slice(0, 0, 8, 2);
  const int64_t OH = out_size(7, 3, 2, 1, 1), OW = out_size(9, 3, 1, 0, 1);
  const Tensor gy = randn({2, 4, OH, OW});
  Tensor y = Tensor::empty({2, 4, OH, OW}), gx = Tensor::empty({2, 3, 7, 9}),
         gw = Tensor::empty({4, 3, 3, 3}), gb = Tensor::empty({4});
  cpu().conv2d(x.contiguous(), w.contiguous(), b.contiguous(), y, p);
  cpu().conv2d_backward_data(gy, w.contiguous(), gx, p);
  cpu().conv2d_backward_weights(x.contiguous(), gy, gw, gb, p);

  const Tensor xg = xt.to(kGpu).transpose(2, 3), wg = wbig.to(kGpu).slice(1, 0, 6, 2);
  const Tensor bg = randn({8}).to(kGpu);
  Tensor bgv = bg.slice(0, 0, 8, 2);
  bgv.copy_(b.to(kGpu));
  Tensor ybig = zeros({2, 4, OH, 2 * OW}, kFloat32, kGpu), yg = ybig.slice(3, 0, 2 * OW, 2);
  gpu().conv2d(xg, wg, bgv, yg, p);
  expect_close_scaled(yg, y, 1e-4, "forward, strided operands");
  Tensor gxbig = zeros({2, 3, 9, 7}, kFloat32, kGpu), gxg = gxbig.transpose(2, 3);
  gpu().conv2d_backward_data(gy.to(kGpu).transpose(2, 3).contiguous().transpose(2, 3), wg, gxg, p);
  expect_close_scaled(gxg, gx, 1e-4, "grad_x, strided operands");
  Tensor gwbig = zeros({4, 6, 3, 3}, kFloat32, kGpu), gwg = gwbig.slice(1, 0, 6, 2);
  Tensor gbbig = zeros({8}, kFloat32, kGpu), gbg = gbbig.slice(0, 1, 8, 2);
  gpu().conv2d_backward_weights(xg, gy.to(kGpu), gwg, gbg, p);
  expect_close_scaled(gwg, gw, 1e-4, "grad_weight, strided operands");
  expect_close_scaled(gbg, gb, 1e-4, "grad_bias, strided operands");
  // The elements between the strided outputs are untouched.
  expect_close(gwbig.slice(1, 1, 6, 2), zeros({4, 3, 3, 3}), 0, 0, "grad_weight gaps");
  expect_close(gbbig.slice(0, 0, 8, 2), zeros({4}), 0, 0, "grad_bias gaps");
}

TEST(CudaConv, EmptyBatchAndEmptyChannels) {
  SKIP_WITHOUT_GPU();
  const Conv2dParams p = params(1, 1, 1, 1, 1, 1, 1);
  // N = 0: nothing to compute; the weight gradients are zero.
  Tensor y = Tensor::empty({0, 4, 5, 5}, kFloat32, kGpu);
  gpu().conv2d(zeros({0, 3, 5, 5}, kFloat32, kGpu), ones({4, 3, 3, 3}, kFloat32, kGpu), Tensor(), y, p);
  Tensor gw = full({4, 3, 3, 3}, 5.0, kFloat32, kGpu), gb = full({4}, 5.0, kFloat32, kGpu);
  gpu().conv2d_backward_weights(zeros({0, 3, 5, 5}, kFloat32, kGpu), zeros({0, 4, 5, 5}, kFloat32, kGpu), gw,
                                gb, p);
  expect_close(gw, zeros({4, 3, 3, 3}), 0, 0, "grad_weight of an empty batch");
  expect_close(gb, zeros({4}), 0, 0, "grad_bias of an empty batch");
}

TEST(CudaConv, ShapeMismatchNamesTheOpAndShapes) {
  SKIP_WITHOUT_GPU();
  Tensor x = zeros({2, 3, 6, 6}, kFloat32, kGpu), w = zeros({4, 2, 3, 3}, kFloat32, kGpu);
  Tensor y = Tensor::empty({2, 4, 4, 4}, kFloat32, kGpu);
  const std::string e = error_of([&] { gpu().conv2d(x, w, Tensor(), y, Conv2dParams{}); });
  EXPECT_THAT(e, HasSubstr("conv2d"));
  EXPECT_THAT(e, HasSubstr("(2, 3, 6, 6)"));
  EXPECT_THAT(e, HasSubstr("(4, 2, 3, 3)"));
  // The output size must be what cuDNN computes.
  Tensor w3 = zeros({4, 3, 3, 3}, kFloat32, kGpu), ybad = Tensor::empty({2, 4, 5, 5}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] { gpu().conv2d(x, w3, Tensor(), ybad, Conv2dParams{}); }),
              HasSubstr("cuDNN computes an output of (2, 4, 4, 4)"));
  // Mixed devices through the op.
  EXPECT_THAT(error_of([&] { conv2d(x, zeros({4, 3, 3, 3})); }), HasSubstr("conv2d"));
}

TEST(CudaConv, Tf32IsUsedOnlyWhenAllowed) {
  SKIP_WITHOUT_GPU();
  Tf32Restore restore;
  manual_seed(24);
  // Large enough for tensor-core kernels; values far from small integers so TF32 rounding shows.
  const Conv2dParams p = params(1, 1, 1, 1, 1, 1, 1);
  const Tensor x = randn({4, 64, 16, 16}), w = randn({64, 64, 3, 3});
  Tensor y = Tensor::empty({4, 64, 16, 16});
  cpu().conv2d(x, w, Tensor(), y, p);
  Tensor yg = Tensor::empty(y.shape(), kFloat32, kGpu);
  cuda::set_allow_tf32(true);
  gpu().conv2d(x.to(kGpu), w.to(kGpu), Tensor(), yg, p);
  expect_close_scaled(yg, y, 1e-2, "TF32 allowed (loose tolerance)");
  cuda::set_allow_tf32(false);
  gpu().conv2d(x.to(kGpu), w.to(kGpu), Tensor(), yg, p);
  expect_close_scaled(yg, y, 1e-4, "TF32 switched off again (full fp32)");
}

// ------------------------------------------------------------------------------ conv op, modules

// layer_norm and group_norm are compositions of ops: the same numbers and gradients on the GPU.
TEST(CudaConv, LayerAndGroupNormMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64}) {
    SCOPED_TRACE(dtype_name(dt));
    manual_seed(31);
    const Tensor x0 = randn({3, 6, 5, 4}, dt), w0 = randn({6}, dt), b0 = randn({6}, dt), wl0 = randn({5, 4}, dt),
                 bl0 = randn({5, 4}, dt), r = randn({3, 6, 5, 4}, dt);
    auto run = [&](Device d) {
      Tensor x = leaf(x0, d), w = leaf(w0, d), b = leaf(b0, d), wl = leaf(wl0, d), bl = leaf(bl0, d);
      const Tensor y = add(group_norm(x, 3, w, b), layer_norm(x, {5, 4}, wl, bl));
      sum(mul(y, r.to(d))).backward();
      return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad(), wl.grad(), bl.grad()};
    };
    const auto want = run(Device::cpu());
    const auto got = run(kGpu);
    const char* names[] = {"output", "grad x", "grad weight", "grad bias", "grad layer weight", "grad layer bias"};
    for (int k = 0; k < 6; ++k) expect_close_scaled(got[k], want[k], tol_for(dt), names[k]);
  }
}

TEST(CudaConv, DifferentiableOpMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(25);
  struct OpCase {
    std::string name;
    Conv2dArgs args;
    int64_t C, O, K;
  };
  std::vector<OpCase> cases;
  {
    Conv2dArgs a;
    a.padding = 1;
    cases.push_back({"3x3 pad 1", a, 3, 4, 3});
    a = Conv2dArgs();
    a.stride = Size2(2, 1);
    a.dilation = 2;
    a.padding = Size2(2, 1);
    a.groups = 2;
    cases.push_back({"stride (2, 1) dilation 2 groups 2", a, 4, 6, 3});
    a = Conv2dArgs();
    a.padding = 1;
    a.padding_mode = PaddingMode::Circular;
    cases.push_back({"circular padding", a, 3, 5, 3});
  }
  for (const OpCase& c : cases)
    for (DType dt : {kFloat32, kFloat64}) {
      const std::string what = c.name + " " + dtype_name(dt);
      SCOPED_TRACE(what);
      const Tensor x0 = randn({2, c.C, 9, 8}, dt), w0 = randn({c.O, c.C / c.args.groups, c.K, c.K}, dt),
                   b0 = randn({c.O}, dt);
      auto run = [&](Device d) {
        Tensor x = leaf(x0, d), w = leaf(w0, d), b = leaf(b0, d);
        const Tensor y = conv2d(x, w, b, c.args);
        const Tensor r = randn(y.shape(), dt);  // same draws on both runs (seeded below)
        sum(mul(y, r.to(d))).backward();
        return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
      };
      manual_seed(100);
      const auto want = run(Device::cpu());
      manual_seed(100);
      const auto got = run(kGpu);
      const char* names[] = {"output", "grad x", "grad weight", "grad bias"};
      for (int k = 0; k < 4; ++k) expect_close_scaled(got[k], want[k], tol_for(dt), what + " " + names[k]);
    }
}

namespace {
// Runs `model` (a copy on each device made from the same state) forward and backward with
// loss = sum(model(x) * r), and compares the outputs, every parameter's gradient and every buffer
// (batch-norm running statistics) between the CPU and the GPU.
void expect_model_parity(const std::function<std::shared_ptr<nn::Module>()>& make, const Shape& input_shape,
                         DType dt, double rel, bool train, const std::string& what) {
  manual_seed(31);
  auto on_cpu = make();
  auto on_gpu = make();
  on_gpu->load_state_dict(on_cpu->state_dict());
  on_cpu->to(dt);
  on_gpu->to(dt);
  on_gpu->to(kGpu);
  on_cpu->train(train);
  on_gpu->train(train);
  const Tensor x = randn(input_shape, dt);
  const Tensor y = on_cpu->forward(x);
  const Tensor r = randn(y.shape(), dt);
  sum(mul(y, r)).backward();
  const Tensor yg = on_gpu->forward(x.to(kGpu));
  sum(mul(yg, r.to(kGpu))).backward();
  EXPECT_EQ(yg.device(), kGpu) << what;
  expect_close_scaled(yg, y, rel, what + " output");
  const auto pc = on_cpu->named_parameters(), pg = on_gpu->named_parameters();
  ASSERT_EQ(pc.size(), pg.size()) << what;
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_EQ(pc[i].first, pg[i].first) << what;
    EXPECT_EQ(pg[i].second.device(), kGpu) << what << " " << pg[i].first;
    expect_close_scaled(pg[i].second.grad(), pc[i].second.grad(), rel, what + " grad of " + pc[i].first);
  }
  const auto bc = on_cpu->named_buffers(), bg = on_gpu->named_buffers();
  ASSERT_EQ(bc.size(), bg.size()) << what;
  for (size_t i = 0; i < bc.size(); ++i) {
    if (!is_floating(bc[i].second.dtype())) continue;
    expect_close_scaled(bg[i].second, bc[i].second, rel, what + " buffer " + bc[i].first);
  }
}

// For deep fp32 models whose gradients are ill-conditioned (ResNet-18 in training mode: the CPU's
// own fp32 gradients differ from the float64 ones by about 1% of their scale), parity with the
// CPU's fp32 result is the wrong yardstick. Instead: the same state and input in float64 on the
// CPU is the truth, and for the output, every gradient and every buffer the GPU's fp32 error
// against it (the 2-norm of the difference) is at most 4x the CPU's fp32 error plus 1e-5 of the
// truth's norm. A wrong kernel gives errors of the order of the norm.
void expect_fp32_as_accurate_as_cpu(const std::function<std::shared_ptr<nn::Module>()>& make,
                                    const Shape& input_shape, const std::string& what) {
  manual_seed(31);
  auto truth = make();
  auto on_cpu = make();
  auto on_gpu = make();
  on_cpu->load_state_dict(truth->state_dict());
  on_gpu->load_state_dict(truth->state_dict());
  truth->to(kFloat64);
  on_cpu->to(kFloat32);
  on_gpu->to(kFloat32);
  on_gpu->to(kGpu);
  for (auto* m : {truth.get(), on_cpu.get(), on_gpu.get()}) m->train(true);
  const Tensor x = randn(input_shape, kFloat32);
  const Tensor y = on_cpu->forward(x);
  const Tensor r = randn(y.shape(), kFloat32);
  sum(mul(y, r)).backward();
  const Tensor yt = truth->forward(x.to(kFloat64));
  sum(mul(yt, r.to(kFloat64))).backward();
  const Tensor yg = on_gpu->forward(x.to(kGpu));
  sum(mul(yg, r.to(kGpu))).backward();
  const auto check = [&](const Tensor& gpu_t, const Tensor& cpu_t, const Tensor& true_t, const std::string& name) {
    ASSERT_TRUE(gpu_t.defined() && cpu_t.defined() && true_t.defined()) << what << " " << name;
    const std::vector<double> g = gpu_t.to_vector<double>(), c = cpu_t.to_vector<double>(), t = true_t.to_vector<double>();
    ASSERT_EQ(g.size(), t.size()) << what << " " << name;
    double err_gpu = 0, err_cpu = 0, norm = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      err_gpu += (g[i] - t[i]) * (g[i] - t[i]);  // NaN fails the comparison below
      err_cpu += (c[i] - t[i]) * (c[i] - t[i]);
      norm += t[i] * t[i];
    }
    err_gpu = std::sqrt(err_gpu), err_cpu = std::sqrt(err_cpu), norm = std::sqrt(norm);
    EXPECT_LE(err_gpu, 4 * err_cpu + 1e-5 * norm)
        << what << " " << name << ": error against float64 (2-norm) " << err_gpu << " on cuda, " << err_cpu
        << " on the cpu (norm " << norm << ")";
  };
  check(yg, y, yt, "output");
  const auto pt = truth->named_parameters(), pc = on_cpu->named_parameters(), pg = on_gpu->named_parameters();
  ASSERT_EQ(pg.size(), pt.size()) << what;
  for (size_t i = 0; i < pt.size(); ++i) check(pg[i].second.grad(), pc[i].second.grad(), pt[i].second.grad(), "grad of " + pt[i].first);
  const auto bt = truth->named_buffers(), bc = on_cpu->named_buffers(), bg = on_gpu->named_buffers();
  ASSERT_EQ(bg.size(), bt.size()) << what;
  for (size_t i = 0; i < bt.size(); ++i)
    if (is_floating(bt[i].second.dtype())) check(bg[i].second, bc[i].second, bt[i].second, "buffer " + bt[i].first);
}
}  // namespace

TEST(CudaConv, Conv2dModuleMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  struct ModuleCase {
    std::string name;
    nn::Conv2dOptions options;
  };
  const std::vector<ModuleCase> cases = {
      {"Conv2d(3, 8, 3, padding 1)", nn::Conv2dOptions(3, 8, 3).padding(1)},
      {"Conv2d(4, 4, 5, stride 2, groups 4, no bias)",
       nn::Conv2dOptions(4, 4, 5).stride(2).groups(4).bias(false)},
      {"Conv2d(4, 6, (3, 1), dilation (2, 1), circular)", nn::Conv2dOptions(4, 6, Size2(3, 1))
                                                              .dilation(Size2(2, 1))
                                                              .padding(Size2(2, 0))
                                                              .padding_mode(PaddingMode::Circular)},
  };
  for (const ModuleCase& c : cases)
    for (DType dt : {kFloat32, kFloat64}) {
      const std::string what = c.name + " " + dtype_name(dt);
      expect_model_parity([&] { return std::make_shared<nn::Conv2d>(c.options); },
                          {2, c.options.in_channels(), 11, 10}, dt, tol_for(dt), true, what);
    }
}

TEST(CudaConv, LeNetForwardBackwardMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  models::ModelConfig cfg;  // 1 x 28 x 28, 10 classes
  // eval(): no dropout, so both devices compute the same function.
  expect_model_parity([&] { return models::make_model("lenet", cfg); }, {2, 1, 28, 28}, kFloat32, 1e-4, false,
                      "lenet float32");
  expect_model_parity([&] { return models::make_model("lenet", cfg); }, {2, 1, 28, 28}, kFloat64, 1e-10,
                      false, "lenet float64");
}

TEST(CudaConv, ResNet18ForwardBackwardMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  models::ModelConfig cfg;
  cfg.in_channels = 3;
  cfg.height = cfg.width = 16;
  // Training mode: batch statistics, and the running statistics are compared too. float64 is held
  // to 1e-9 of the CPU's result. float32 (32 x 32 inputs: batch norm over 2 x 4 x 4 values per
  // channel in the last stage) is held to the CPU's own fp32 accuracy against float64: eighteen
  // layers of batch norm over small batches amplify rounding to about 1% of the gradients' scale
  // on either device, so the two fp32 results need not agree to better than that.
  expect_model_parity([&] { return models::make_model("resnet18", cfg); }, {2, 3, 16, 16}, kFloat64, 1e-9,
                      true, "resnet18 float64");
  models::ModelConfig cfg32 = cfg;
  cfg32.height = cfg32.width = 32;
  expect_fp32_as_accurate_as_cpu([&] { return models::make_model("resnet18", cfg32); }, {2, 3, 32, 32},
                                 "resnet18 float32");
  models::ModelConfig inet = cfg;
  inet.imagenet_stem = true;
  inet.height = inet.width = 32;
  expect_model_parity([&] { return models::make_model("resnet18", inet); }, {2, 3, 32, 32}, kFloat64, 1e-9,
                      true, "resnet18 imagenet stem float64");
}

// ------------------------------------------------------------------------------ spmm

namespace {
// A 7 x 5 CSR matrix with empty rows (1 and 4), a full row, and a repeated column entry.
CsrMatrix small_csr(DType dt) {
  const std::vector<int64_t> ro = {0, 2, 2, 5, 6, 6, 9, 11};
  const std::vector<int64_t> ci = {0, 3, 0, 1, 4, 2, 1, 1, 3, 0, 4};
  std::vector<double> v;
  for (size_t k = 0; k < ci.size(); ++k) v.push_back(0.25 * static_cast<double>(k) - 1.1);
  return CsrMatrix(7, 5, from_vector<int64_t>(ro, {8}), from_vector<int64_t>(ci, {11}),
                   from_vector<double>(v, {11}).to(dt));
}
}  // namespace

TEST(CudaSpmm, KernelMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(41);
  for (DType dt : {kFloat32, kFloat64}) {
    const CsrMatrix a = small_csr(dt);
    const CsrMatrix ag = csr_on_gpu(a);
    for (int64_t B : {1, 3})
      for (int64_t F : {1, 6}) {
        for (int c_kind = 0; c_kind < 3; ++c_kind) {  // none, full, broadcast bias (stride 0)
          const std::string what = std::string(dtype_name(dt)) + " B=" + std::to_string(B) +
                                   " F=" + std::to_string(F) +
                                   (c_kind == 0   ? " no c"
                                    : c_kind == 1 ? " c full"
                                                  : " c bias");
          const Tensor x = randn({B, 5, F}, dt);
          Tensor c, cg;
          if (c_kind == 1) {
            c = randn({B, 7, F}, dt);
            cg = c.to(kGpu);
          } else if (c_kind == 2) {
            const Tensor bias = randn({F}, dt);
            c = bias.expand({B, 7, F});
            cg = bias.to(kGpu).expand({B, 7, F});
          }
          Tensor out = Tensor::empty({B, 7, F}, dt), outg = full({B, 7, F}, std::nan(""), dt, kGpu);
          cpu().spmm_csr(a.row_offsets(), a.col_indices(), a.values(), x, c, out);
          gpu().spmm_csr(ag.row_offsets(), ag.col_indices(), ag.values(), x.to(kGpu), cg, outg);
          expect_close_scaled(outg, out, tol_for(dt), what);
        }
      }
  }
}

TEST(CudaSpmm, EmptyMatrixGivesTheAddedTermOrZero) {
  SKIP_WITHOUT_GPU();
  const CsrMatrix empty(4, 3, zeros({5}, kInt64), zeros({0}, kInt64), zeros({0}));
  const CsrMatrix eg = csr_on_gpu(empty);
  const Tensor x = randn({2, 3, 5});
  Tensor out = full({2, 4, 5}, std::nan(""), kFloat32, kGpu);
  gpu().spmm_csr(eg.row_offsets(), eg.col_indices(), eg.values(), x.to(kGpu), Tensor(), out);
  expect_close(out, zeros({2, 4, 5}), 0, 0, "empty matrix, no c");
  const Tensor c = randn({2, 4, 5});
  gpu().spmm_csr(eg.row_offsets(), eg.col_indices(), eg.values(), x.to(kGpu), c.to(kGpu), out);
  expect_close(out, c, 0, 0, "empty matrix, with c");
}

TEST(CudaSpmm, LargerBatchedProductMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(42);
  // A random graph on 300 nodes, 64 graphs sharing it, 32 features: the strided-batched path.
  const int64_t n = 300, E = 1500;
  const Tensor edges = randint(0, n, {E, 2});
  const CsrMatrix a = CsrMatrix::from_edges(n, edges, rand({E}), true);
  const Tensor x = randn({64, n, 32});
  const Tensor out = spmm(a, x);
  const Tensor outg = spmm(csr_on_gpu(a), x.to(kGpu));
  expect_close_scaled(outg, out, 1e-4, "64 x (300 x 300) @ (300 x 32)");
}

TEST(CudaSpmm, DifferentiableOpMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(43);
  // Symmetric, so the backward's A^T is A itself and stays on the device.
  const Tensor edges = from_vector<int64_t>({0, 1, 1, 2, 2, 3, 3, 0, 0, 2, 4, 4, 5, 1}, {7, 2});
  for (DType dt : {kFloat32, kFloat64}) {
    const CsrMatrix a =
        CsrMatrix::from_edges(6, edges, rand({7}, dt), true);  // node 5: one edge; self-loop on 4
    const CsrMatrix ag = csr_on_gpu(a);
    for (bool batched : {false, true}) {
      const std::string what = std::string(dtype_name(dt)) + (batched ? " batched" : " unbatched");
      const Shape xs = batched ? Shape{3, 6, 4} : Shape{6, 4};
      const Tensor x0 = randn(xs, dt), bias0 = randn({4}, dt), r = randn(xs, dt);
      auto run = [&](const CsrMatrix& m, Device d) {
        Tensor x = leaf(x0, d), bias = leaf(bias0, d);
        const Tensor y = spmm(m, x, bias);
        sum(mul(y, r.to(d))).backward();
        return std::vector<Tensor>{y, x.grad(), bias.grad()};
      };
      const auto want = run(a, Device::cpu());
      const auto got = run(ag, kGpu);
      expect_close_scaled(got[0], want[0], tol_for(dt), what + " output");
      expect_close_scaled(got[1], want[1], tol_for(dt), what + " grad x");
      expect_close_scaled(got[2], want[2], tol_for(dt), what + " grad bias");
    }
  }
}

// The GCN propagation rule written with the ops and a device copy of the normalised adjacency:
// what GCNConv computes, checked on the GPU while the Graph keeps its matrices on the host.
TEST(CudaSpmm, GcnPropagationOnTheDeviceMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(44);
  const Tensor edges = randint(0, 20, {45, 2});
  const nn::Graph graph = nn::Graph::from_edges(20, edges);
  for (DType dt : {kFloat32, kFloat64}) {
    const CsrMatrix ahat = graph.gcn_normalized(dt);
    const CsrMatrix ahat_g = csr_on_gpu(ahat);
    const Tensor x0 = randn({4, 20, 8}, dt), w0 = randn({5, 8}, dt), b0 = randn({5}, dt),
                 r = randn({4, 20, 5}, dt);
    auto run = [&](const CsrMatrix& m, Device d) {
      Tensor x = leaf(x0, d), w = leaf(w0, d), b = leaf(b0, d);
      const Tensor y = spmm(m, linear(x, w, Tensor()), b);  // Â (X W^T) + b
      sum(mul(y, r.to(d))).backward();
      return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
    };
    const auto want = run(ahat, Device::cpu());
    const auto got = run(ahat_g, kGpu);
    const char* names[] = {"output", "grad x", "grad weight", "grad bias"};
    for (int k = 0; k < 4; ++k)
      expect_close_scaled(got[k], want[k], tol_for(dt),
                          std::string("GCN ") + dtype_name(dt) + " " + names[k]);
  }
}

namespace {
// GCNConv / GraphConv forward + backward on the CPU and, with the same parameters, on the GPU.
// The Graph is built on the host and gives each layer its matrices on the input's device (cached
// per dtype and device); a directed graph makes the backward pass use A^T moved there too.
template <typename Layer>
void expect_graph_layer_parity(int64_t in, int64_t out, const std::string& what, bool symmetric = true) {
  manual_seed(45);
  const Tensor edges = randint(0, 12, {30, 2});
  const nn::Graph graph = nn::Graph::from_edges(12, edges, Tensor(), symmetric);
  auto on_cpu = std::make_shared<Layer>(in, out);
  auto on_gpu = std::make_shared<Layer>(in, out);
  on_gpu->load_state_dict(on_cpu->state_dict());
  on_gpu->to(kGpu);
  const Tensor x = randn({3, 12, in}), r = randn({3, 12, out});
  const Tensor y = on_cpu->forward(x, graph);
  sum(mul(y, r)).backward();
  const Tensor xg = x.to(kGpu).detach();
  const Tensor yg = on_gpu->forward(xg, graph);
  sum(mul(yg, r.to(kGpu))).backward();
  expect_close_scaled(yg, y, 1e-4, what + " output");
  const auto pc = on_cpu->named_parameters(), pg = on_gpu->named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i)
    expect_close_scaled(pg[i].second.grad(), pc[i].second.grad(), 1e-4, what + " grad of " + pc[i].first);
}
}  // namespace

TEST(CudaSpmm, GCNConvMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  expect_graph_layer_parity<nn::GCNConv>(8, 4, "GCNConv(8, 4)");  // aggregation last
  expect_graph_layer_parity<nn::GCNConv>(4, 8, "GCNConv(4, 8)");  // aggregation first
}

TEST(CudaSpmm, GraphConvMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  expect_graph_layer_parity<nn::GraphConv>(8, 4, "GraphConv(8, 4)");
  expect_graph_layer_parity<nn::GraphConv>(4, 8, "GraphConv(4, 8)");
  expect_graph_layer_parity<nn::GraphConv>(4, 8, "GraphConv(4, 8) on a directed graph", /*symmetric=*/false);
}

// Readouts of a block-diagonal batch of graphs: the pooling matrices are made on the device.
TEST(CudaSpmm, GraphBatchReadoutsMatchTheCpu) {
  SKIP_WITHOUT_GPU();
  manual_seed(46);
  const nn::GraphBatch batch({nn::Graph::from_edges(5, randint(0, 5, {6, 2})),
                              nn::Graph::from_edges(9, randint(0, 9, {12, 2})),
                              nn::Graph::from_edges(3, randint(0, 3, {2, 2}))});
  const Tensor x = randn({17, 4});
  for (nn::Readout kind : {nn::Readout::Sum, nn::Readout::Mean, nn::Readout::Max}) {
    const Tensor want = nn::readout(x, batch, kind), got = nn::readout(x.to(kGpu), batch, kind);
    expect_close_scaled(got, want, 1e-5, "readout " + std::to_string(static_cast<int>(kind)));
  }
}
