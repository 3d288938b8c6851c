// bf16 math on the CPU (set_allow_bf16): the float32 -> bfloat16 rounding, and float32 matmuls,
// linear layers and convolutions (forward, both backward passes) that must equal float64 results
// computed on bf16-rounded inputs (products exact, float32 accumulation), and must differ from
// plain float32 results (the rounding really happened). On a CPU without bf16 dot products the
// switch must change nothing.
#include <cmath>
#include <limits>

#include "backend/cpu/bf16.h"
#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {

// Restores plain float32 math when a test ends, however it ends.
struct Bf16Scope {
  Bf16Scope() { set_allow_bf16(true); }
  ~Bf16Scope() { set_allow_bf16(false); }
};

uint16_t bits_of(float f) {
  return cpu::float_to_bf16(f);
}

// t (float32) with every element rounded to bf16, as float64.
Tensor rounded(const Tensor& t) {
  std::vector<double> v;
  for (float f : t.to(kFloat32).contiguous().to_vector<float>())
    v.push_back(cpu::bf16_to_float(cpu::float_to_bf16(f)));
  return from_vector<double>(v, t.shape());
}

std::string str(const Shape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to(kFloat64).to_vector<double>(), y = b.to(kFloat64).to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// float32 values in [-1, 1] that bf16 represents exactly (upstream gradients: rounding them is a no-op).
Tensor bf16_exact(const Shape& s, uint64_t seed) {
  return rounded(values(s, seed, kFloat32)).to(kFloat32);
}

}  // namespace

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(bits_of(1.0f), 0x3f80);
  EXPECT_EQ(bits_of(-2.0f), 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even significand (1).
  EXPECT_EQ(bits_of(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
  EXPECT_EQ(bits_of(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(bits_of(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);  // past halfway: up
  EXPECT_EQ(cpu::bf16_to_float(bits_of(3.140625f)), 3.140625f);                     // exact in bf16
  EXPECT_EQ(bits_of(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bits_of(std::numeric_limits<float>::max()), 0x7f80);  // past bf16's largest finite value
  EXPECT_TRUE(std::isnan(cpu::bf16_to_float(bits_of(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits only in the dropped bits must not become infinity.
  uint32_t u = 0x7f800001u;
  float snan;
  std::memcpy(&snan, &u, sizeof snan);
  EXPECT_TRUE(std::isnan(cpu::bf16_to_float(bits_of(snan))));
  // The block converter honours the leading dimension.
  const float src[6] = {1.0f, 2.0f, 99.0f, 3.0f, 4.0f, 99.0f};
  uint16_t dst[4];
  cpu::to_bf16(src, 2, 2, 3, dst);
  EXPECT_EQ(cpu::bf16_to_float(dst[0]), 1.0f);
  EXPECT_EQ(cpu::bf16_to_float(dst[1]), 2.0f);
  EXPECT_EQ(cpu::bf16_to_float(dst[2]), 3.0f);
  EXPECT_EQ(cpu::bf16_to_float(dst[3]), 4.0f);
}

TEST(Bf16, SwitchReportsHardwareAndDefaultsOff) {
  EXPECT_FALSE(allow_bf16());
  EXPECT_FALSE(cpu_bf16_active());
  {
    Bf16Scope on;
    EXPECT_TRUE(allow_bf16());
    EXPECT_EQ(cpu_bf16_active(), cpu_has_bf16());
  }
  EXPECT_FALSE(allow_bf16());
  EXPECT_THAT(backend_for(Device::cpu()).describe(),
              HasSubstr(cpu_has_bf16() ? "bf16 math available" : "bf16 math not available"));
}

TEST(Bf16, MatmulEqualsFloat64OnRoundedInputs) {
  struct Case {
    Shape a, b;
    bool ta, tb;  // operand given as a transposed view
  };
  const std::vector<Case> cases = {
      {{37, 300}, {300, 29}, false, false},    {{37, 300}, {300, 29}, true, false},
      {{37, 300}, {300, 29}, false, true},     {{37, 300}, {300, 29}, true, true},
      {{4, 9, 64}, {4, 64, 11}, false, false}, {{4, 9, 64}, {64, 11}, false, false},
      {{9, 64}, {4, 64, 11}, false, true},     {{1, 1}, {1, 5}, false, false}};
  uint64_t seed = 100;
  for (const auto& c : cases) {
    auto make = [&](const Shape& s, bool t) {
      Shape st = s;
      std::swap(st[st.size() - 1], st[st.size() - 2]);
      return t ? values(st, seed++, kFloat32).transpose(-1, -2) : values(s, seed++, kFloat32);
    };
    const Tensor a = make(c.a, c.ta), b = make(c.b, c.tb);
    const Tensor strict = matmul(a, b);
    const Tensor ref = matmul(rounded(a), rounded(b));  // float64: products of bf16 values are exact
    Bf16Scope on;
    const Tensor got = matmul(a, b);
    ASSERT_EQ(got.dtype(), kFloat32);
    const int64_t K = c.a[c.a.size() - 1];
    const std::string what = "a " + str(c.a) + (c.ta ? "^T" : "") + " b " + str(c.b) + (c.tb ? "^T" : "");
    if (cpu_has_bf16()) {
      EXPECT_TRUE(tensors_near(got, ref, 1e-6 * K, 1e-6)) << what;
      if (K >= 64) EXPECT_GT(max_abs_diff(got, strict), 1e-3) << what << ": no bf16 rounding visible";
    } else {
      EXPECT_EQ(max_abs_diff(got, strict), 0.0) << what;
    }
  }
}

TEST(Bf16, MatmulAccumulatesIntoOutput) {
  const Tensor a = values({16, 128}, 1, kFloat32), b = values({128, 24}, 2, kFloat32),
               c0 = values({16, 24}, 3, kFloat32);
  Tensor out = c0.clone().reshape({1, 16, 24});
  Bf16Scope on;
  backend_for(Device::cpu())
      .matmul(a.reshape({1, 16, 128}), b.reshape({1, 128, 24}), out, /*accumulate=*/true);
  const Tensor product =
      cpu_has_bf16() ? matmul(rounded(a), rounded(b)) : matmul(a.to(kFloat64), b.to(kFloat64));
  EXPECT_TRUE(tensors_near(out.reshape({16, 24}), add(product, c0.to(kFloat64)), 2e-4, 1e-5));
}

TEST(Bf16, LinearGradientsEqualFloat64OnRoundedInputs) {
  const Tensor x0 = values({32, 200}, 11, kFloat32), w0 = values({48, 200}, 12, kFloat32),
               b0 = values({48}, 13, kFloat32);
  const Tensor g = bf16_exact({32, 48}, 14);
  Tensor x = x0.clone().set_requires_grad(), w = w0.clone().set_requires_grad(),
         b = b0.clone().set_requires_grad();
  {
    Bf16Scope on;
    sum(mul(linear(x, w, b), g)).backward();
  }
  const bool bf = cpu_has_bf16();
  Tensor xr = (bf ? rounded(x0) : x0.to(kFloat64)).set_requires_grad();
  Tensor wr = (bf ? rounded(w0) : w0.to(kFloat64)).set_requires_grad();
  Tensor br = b0.to(kFloat64).set_requires_grad();
  sum(mul(linear(xr, wr, br), g.to(kFloat64))).backward();
  EXPECT_TRUE(tensors_near(x.grad(), xr.grad(), 1e-4, 1e-5));  // g @ w
  EXPECT_TRUE(tensors_near(w.grad(), wr.grad(), 1e-4, 1e-5));  // g^T @ x
  EXPECT_TRUE(tensors_near(b.grad(), br.grad(), 1e-5, 1e-6));  // a sum: no matmul, exact
}

TEST(Bf16, ConvolutionPassesEqualFloat64OnRoundedInputs) {
  struct Case {
    Shape x, w;
    int64_t stride, pad, groups;
  };
  const std::vector<Case> cases = {
      {{2, 16, 10, 10}, {32, 16, 3, 3}, 1, 1, 1},  // 3x3 with 16 input channels (direct in float32)
      {{2, 32, 9, 9}, {48, 32, 3, 3}, 1, 1, 1},    // Winograd-eligible shape in float32
      {{2, 32, 8, 8}, {64, 32, 3, 3}, 2, 1, 1},    // ResNet downsampling
      {{2, 32, 8, 8}, {64, 32, 1, 1}, 2, 0, 1},    // 1x1 shortcut
      {{3, 1, 14, 14}, {8, 1, 5, 5}, 1, 0, 1},     // LeNet-like first layer
      {{2, 6, 12, 12}, {16, 6, 3, 3}, 1, 1, 1},    // space-group stem (6 image layers)
      {{2, 16, 8, 8}, {32, 8, 3, 3}, 1, 1, 2},     // grouped
  };
  uint64_t seed = 200;
  for (const auto& c : cases) {
    Conv2dArgs a;
    a.stride = c.stride;
    a.padding = c.pad;
    a.groups = c.groups;
    const Tensor x0 = values(c.x, seed++, kFloat32), w0 = values(c.w, seed++, kFloat32);
    const Tensor b0 = values({c.w[0]}, seed++, kFloat32);
    const std::string what = "x " + str(c.x) + " w " + str(c.w) + " stride " + std::to_string(c.stride) +
                             " groups " + std::to_string(c.groups);
    const Tensor strict = conv2d(x0, w0, b0, a);
    Tensor x = x0.clone().set_requires_grad(), w = w0.clone().set_requires_grad(),
           b = b0.clone().set_requires_grad();
    Tensor y, g;
    {
      Bf16Scope on;
      y = conv2d(x, w, b, a);
      g = bf16_exact(y.shape(), seed++);
      sum(mul(y, g)).backward();
    }
    const bool bf = cpu_has_bf16();
    Tensor xr = (bf ? rounded(x0) : x0.to(kFloat64)).set_requires_grad();
    Tensor wr = (bf ? rounded(w0) : w0.to(kFloat64)).set_requires_grad();
    Tensor br = b0.to(kFloat64).set_requires_grad();
    const Tensor yr = conv2d(xr, wr, br, a);
    sum(mul(yr, g.to(kFloat64))).backward();
    const double K = static_cast<double>(c.w[1] * c.w[2] * c.w[3]);
    EXPECT_TRUE(tensors_near(y.detach(), yr.detach(), 1e-6 * K, 1e-5)) << what << " forward";
    EXPECT_TRUE(tensors_near(x.grad(), xr.grad(), 1e-6 * K, 1e-5)) << what << " grad x";
    EXPECT_TRUE(tensors_near(w.grad(), wr.grad(), 1e-5 * y.numel() / c.w[0], 1e-5)) << what << " grad w";
    EXPECT_TRUE(tensors_near(b.grad(), br.grad(), 1e-4, 1e-5)) << what << " grad b";
    if (bf) EXPECT_GT(max_abs_diff(y.detach(), strict), 1e-3) << what << ": no bf16 rounding visible";
  }
}

TEST(Bf16, Float64IsNeverRounded) {
  const Tensor a = values({8, 64}, 31), b = values({64, 8}, 32);
  const Tensor strict = matmul(a, b);
  Bf16Scope on;
  EXPECT_EQ(max_abs_diff(matmul(a, b), strict), 0.0);
}
