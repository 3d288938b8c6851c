// CUDA backend: every implemented kernel against the CPU backend on random inputs (the parity idea
// of ggml's test-backend-ops), the device allocator, and the clear errors. Parity tests skip with
// a message when no CUDA device is present; the error tests run everywhere.
#include "cuda/cuda_test_util.h"

using namespace magmadnn;
using namespace cudatest;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

Tensor empty_like_on(const Tensor& t, Device d) { return Tensor::empty(t.shape(), t.dtype(), d); }

}  // namespace

// ------------------------------------------------------------------------------ everywhere

TEST(CudaQuery, ApiAnswersInEveryBuild) {
  const int n = cuda::device_count();
  EXPECT_GE(n, 0);
  EXPECT_EQ(cuda::is_available(), n > 0);
  if (n == 0) EXPECT_FALSE(cuda::unavailable_reason().empty());
  const cuda::LibraryVersions v = cuda::library_versions();
  EXPECT_FALSE(v.runtime.empty());
  EXPECT_FALSE(v.cudnn.empty());
  EXPECT_FALSE(cuda::describe_lines().empty());
  if (cuda::is_built()) {
    EXPECT_THAT(v.cudnn, ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
    EXPECT_THAT(v.cublas, ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+"));
  }
}

TEST(CudaQuery, NoDeviceGivesClearErrors) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(has_backend(DeviceType::CUDA));
  EXPECT_THAT(error_of([] { backend_for(Device::cuda(0)); }), HasSubstr("no CUDA device: "));
  EXPECT_THAT(error_of([] { ones({2}).to(Device::cuda(0)); }), HasSubstr("no CUDA device: "));
  EXPECT_THAT(error_of([] { zeros({2}, kFloat32, Device::cuda(1)); }), HasSubstr("no backend for device cuda:1"));
  EXPECT_THAT(error_of([] { cuda::device_properties(0); }), HasSubstr("no CUDA device"));
  EXPECT_THAT(error_of([] { cuda::memory_stats(0); }), HasSubstr("no CUDA device"));
  EXPECT_THAT(error_of([] { cuda::device_seconds(0, [] {}); }), HasSubstr("no CUDA device"));
}

TEST(CudaQuery, MissingDeviceIndexIsAnError) {
  SKIP_WITHOUT_GPU();
  const int n = cuda::device_count();
  EXPECT_THAT(error_of([n] { backend_for(Device::cuda(n)); }), HasSubstr("does not exist"));
  EXPECT_THAT(error_of([n] { cuda::device_properties(n); }), HasSubstr("no CUDA device"));
  const cuda::DeviceProperties p = cuda::device_properties(0);
  EXPECT_FALSE(p.name.empty());
  EXPECT_GT(p.total_memory, 0u);
  EXPECT_GE(p.major, 3);
}

// Event timing of stream work: positive for real work, covering all of it (many copies take
// longer than one), and an exception from the work passes through after the device is idle.
TEST(CudaQuery, DeviceSecondsTimesTheStreamWork) {
  SKIP_WITHOUT_GPU();
  const Tensor x = ones({1 << 24}).to(kGpu);
  Tensor y = Tensor::empty({1 << 24}, kFloat32, kGpu);
  const double one = cuda::device_seconds(0, [&] { y.copy_(x); });
  const double many = cuda::device_seconds(0, [&] {
    for (int i = 0; i < 50; ++i) y.copy_(x);
  });
  EXPECT_GT(one, 0.0);
  EXPECT_GT(many, 5 * one);
  EXPECT_LT(many, 10.0);
  EXPECT_THAT(error_of([&] { cuda::device_seconds(0, [&] { throw Error("stop here"); }); }), HasSubstr("stop here"));
  EXPECT_FLOAT_EQ(sum(y).item<float>(), float(1 << 24));
}

// ------------------------------------------------------------------------------ memory

TEST(CudaMemory, CopiesRoundTripAndConvert) {
  SKIP_WITHOUT_GPU();
  manual_seed(1);
  const Tensor x = randn({3, 4, 5});
  const Tensor g = x.to(kGpu);
  EXPECT_EQ(g.device(), kGpu);
  expect_close(g.cpu(), x, 0, 0, "round trip");
  expect_close(x.transpose(0, 2).to(kGpu), x.transpose(0, 2), 0, 0, "strided host -> device");
  expect_close(g.transpose(0, 2).contiguous(), x.transpose(0, 2).contiguous(), 0, 0, "strided device copy");
  Tensor host_t = Tensor::empty({5, 4, 3});
  gpu().copy(g.transpose(0, 2), host_t);
  expect_close(host_t, x.transpose(0, 2), 0, 0, "strided device -> host");
  expect_close(g.to(kFloat64), x.to(kFloat64), 0, 0, "float32 -> float64 on device");
  const Tensor labels = randint(0, 100, {17});
  expect_close(labels.to(kGpu).to(kFloat32), labels.to(kFloat32), 0, 0, "int64 -> float32 on device");
  Tensor u8 = Tensor::empty({17}, kUInt8, kGpu);
  gpu().copy(labels.to(kGpu), u8);
  expect_close(u8, labels.to(kUInt8), 0, 0, "int64 -> uint8 on device");
}

TEST(CudaMemory, FillAndArange) {
  SKIP_WITHOUT_GPU();
  Tensor c = zeros({4, 6});
  Tensor g = zeros({4, 6}, kFloat32, kGpu);
  Tensor cv = c.slice(1, 1, 5, 2), gv = g.slice(1, 1, 5, 2);
  cpu().fill(cv, 2.5);
  gpu().fill(gv, 2.5);
  expect_close(g, c, 0, 0, "fill of a strided view");
  for (DType dt : {kFloat32, kFloat64, kInt64, kInt32}) {
    Tensor a = Tensor::empty({10}, dt), b = Tensor::empty({10}, dt, kGpu);
    cpu().arange(a, 3, 2);
    gpu().arange(b, 3, 2);
    expect_close(b, a, 0, 0, std::string("arange ") + dtype_name(dt));
  }
}

// Random fills are Philox blocks computed on the device (backend/philox.h): for one generator
// state they equal the CPU's, uniform and bernoulli bit for bit, normal to the last bits of the
// device's log and cos. Sizes cover partial last blocks and grid-stride loops.
TEST(CudaMemory, RandomFillsMatchTheCpuForOneSeed) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64}) {
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(1001), int64_t(1 << 20) + 3}) {
      const std::string what = std::string(dtype_name(dt)) + " n=" + std::to_string(n);
      Generator on_gpu(77), on_cpu(77);
      Tensor g = Tensor::empty({n}, dt, kGpu), c = Tensor::empty({n}, dt);
      gpu().uniform(g, -1.5, 2.5, on_gpu);
      cpu().uniform(c, -1.5, 2.5, on_cpu);
      expect_close(g, c, 0, 0, "uniform " + what);
      gpu().normal(g, 0.5, 3.0, on_gpu);
      cpu().normal(c, 0.5, 3.0, on_cpu);
      expect_close(g, c, 1e-6, 1e-6, "normal " + what);
      gpu().bernoulli(g, 0.3, on_gpu);
      cpu().bernoulli(c, 0.3, on_cpu);
      expect_close(g, c, 0, 0, "bernoulli " + what);
      EXPECT_EQ(on_gpu.philox_offset(), 3u) << what;  // one offset per fill, on either device
    }
  }
  // Through the ops: a seed gives the same initial weights and dropout masks on both devices.
  manual_seed(5);
  const Tensor a = randn({101}, kFloat32, kGpu);
  const Tensor da = dropout(ones({64, 33}).to(kGpu), 0.4, true);
  manual_seed(5);
  const Tensor b = randn({101});
  const Tensor db = dropout(ones({64, 33}), 0.4, true);
  expect_close(a, b, 1e-6, 1e-6, "randn");
  expect_close(da, db, 0, 0, "dropout");
}

TEST(CudaMemory, AllocatorReusesBlocksAndReportsOutOfMemory) {
  SKIP_WITHOUT_GPU();
  cuda::synchronize(0);
  cuda::empty_cache(0);
  const MemoryStats s0 = cuda::memory_stats(0);
  { Tensor t = Tensor::empty({1 << 20}, kFloat32, kGpu); }
  const MemoryStats s1 = cuda::memory_stats(0);
  EXPECT_EQ(s1.bytes_cached - s0.bytes_cached, size_t(4) << 20);
  { Tensor t = Tensor::empty({1 << 20}, kFloat32, kGpu); }
  const MemoryStats s2 = cuda::memory_stats(0);
  EXPECT_EQ(s2.cache_hits, s1.cache_hits + 1);
  EXPECT_EQ(s2.system_allocations, s1.system_allocations);
  cuda::empty_cache(0);
  EXPECT_EQ(cuda::memory_stats(0).bytes_cached, 0u);
  // 2^50 bytes: more than any GPU has.
  EXPECT_THAT(error_of([] { Tensor::empty({int64_t(1) << 48}, kFloat32, kGpu); }),
              HasSubstr("out of memory on cuda:0: requested"));
}

TEST(CudaMemory, SecondDeviceHoldsItsOwnTensors) {
  if (cuda::device_count() < 2) GTEST_SKIP() << "fewer than 2 CUDA devices";
  const Tensor x = randn({64, 3});
  const Tensor a = x.to(Device::cuda(1));
  EXPECT_EQ(a.device(), Device::cuda(1));
  const Tensor b = a.to(Device::cuda(0));  // peer copy
  EXPECT_EQ(b.device(), Device::cuda(0));
  expect_close((a * 2.0).cpu(), x * 2.0, 0, 0, "op on cuda:1");
  expect_close(b, x, 0, 0, "cuda:1 -> cuda:0");
}

// ------------------------------------------------------------------------------ elementwise

TEST(CudaParity, UnaryOps) {
  SKIP_WITHOUT_GPU();
  struct Case {
    UnaryOp op;
    const char* name;
    double alpha, beta;
    bool positive;
  };
  const Case cases[] = {
      {UnaryOp::Neg, "neg", 0, 0, false},          {UnaryOp::Exp, "exp", 0, 0, false},
      {UnaryOp::Log, "log", 0, 0, true},           {UnaryOp::Sqrt, "sqrt", 0, 0, true},
      {UnaryOp::Rsqrt, "rsqrt", 0, 0, true},       {UnaryOp::Abs, "abs", 0, 0, false},
      {UnaryOp::Sign, "sign", 0, 0, false},        {UnaryOp::Square, "square", 0, 0, false},
      {UnaryOp::Reciprocal, "reciprocal", 0, 0, true}, {UnaryOp::Relu, "relu", 0, 0, false},
      {UnaryOp::LeakyRelu, "leaky_relu", 0.1, 0, false}, {UnaryOp::Sigmoid, "sigmoid", 0, 0, false},
      {UnaryOp::Tanh, "tanh", 0, 0, false},        {UnaryOp::Gelu, "gelu", 0, 0, false},
      {UnaryOp::Clamp, "clamp", -0.5, 0.7, false}, {UnaryOp::PowScalar, "pow_scalar", 1.7, 0, true},
      {UnaryOp::AddScalar, "add_scalar", 0.3, 0, false}, {UnaryOp::MulScalar, "mul_scalar", -1.5, 0, false},
      {UnaryOp::RSubScalar, "rsub_scalar", 2, 0, false}, {UnaryOp::RDivScalar, "rdiv_scalar", 3, 0, true},
  };
  manual_seed(2);
  for (DType dt : {kFloat32, kFloat64}) {
    const double rtol = dt == kFloat32 ? 1e-5 : 1e-12;
    for (const Case& c : cases) {
      Tensor x = randn({6, 7, 5}, dt), x4 = randn({6, 7, 8}, dt);
      if (c.positive) x = abs(x) + 0.1, x4 = abs(x4) + 0.1;
      // A transposed (non-contiguous) input exercises the strided path too; 6*7*8 elements, the
      // 4-wide path; an unaligned view of them, the 1-wide one.
      for (const Tensor& in : {x, x.transpose(0, 2), x4, x4.reshape({336}).narrow(0, 1, 332)}) {
        Tensor want = empty_like_on(in, Device::cpu()), got = empty_like_on(in, kGpu);
        cpu().unary(c.op, in, want, c.alpha, c.beta);
        gpu().unary(c.op, in.to(kGpu), got, c.alpha, c.beta);
        expect_close(got, want, rtol, rtol, std::string(c.name) + " " + dtype_name(dt));
      }
    }
  }
}

TEST(CudaParity, BinaryOpsWithBroadcasting) {
  SKIP_WITHOUT_GPU();
  struct Case {
    BinaryOp op;
    const char* name;
    double alpha, beta;
  };
  const Case cases[] = {
      {BinaryOp::Add, "add", 0, 0},       {BinaryOp::Sub, "sub", 0, 0},
      {BinaryOp::Mul, "mul", 0, 0},       {BinaryOp::Div, "div", 0, 0},
      {BinaryOp::Pow, "pow", 0, 0},       {BinaryOp::Maximum, "maximum", 0, 0},
      {BinaryOp::Minimum, "minimum", 0, 0}, {BinaryOp::Eq, "eq", 0, 0},
      {BinaryOp::Ne, "ne", 0, 0},         {BinaryOp::Lt, "lt", 0, 0},
      {BinaryOp::Le, "le", 0, 0},         {BinaryOp::Gt, "gt", 0, 0},
      {BinaryOp::Ge, "ge", 0, 0},         {BinaryOp::ReluBackward, "relu_backward", 0, 0},
      {BinaryOp::LeakyReluBackward, "leaky_relu_backward", 0.2, 0},
      {BinaryOp::SigmoidBackward, "sigmoid_backward", 0, 0},
      {BinaryOp::TanhBackward, "tanh_backward", 0, 0}, {BinaryOp::GeluBackward, "gelu_backward", 0, 0},
      {BinaryOp::ClampBackward, "clamp_backward", -0.3, 0.4}, {BinaryOp::AbsBackward, "abs_backward", 0, 0},
  };
  manual_seed(3);
  for (DType dt : {kFloat32, kFloat64}) {
    const double rtol = dt == kFloat32 ? 1e-5 : 1e-12;
    for (const Case& c : cases) {
      // a (4, 1, 5) and b (3, 1) broadcast to (4, 3, 5): stride-0 views, as the ops pass them.
      Tensor a = abs(randn({4, 1, 5}, dt)) + 0.5;
      Tensor b = randn({3, 1}, dt);
      if (c.op == BinaryOp::Eq || c.op == BinaryOp::Ne) b = full({3, 1}, 1.0, dt);
      const Shape shape{4, 3, 5};
      const Tensor ae = a.expand(shape), be = b.expand(shape);
      Tensor want = Tensor::empty(shape, dt), got = Tensor::empty(shape, dt, kGpu);
      cpu().binary(c.op, ae, be, want, c.alpha, c.beta);
      gpu().binary(c.op, a.to(kGpu).expand(shape), b.to(kGpu).expand(shape), got, c.alpha, c.beta);
      expect_close(got, want, rtol, rtol, std::string(c.name) + " " + dtype_name(dt));
      // Same-shape contiguous operands: the 4-wide path.
      const Tensor a2 = abs(randn({4, 3, 8}, dt)) + 0.5, b2 = c.op == BinaryOp::Eq || c.op == BinaryOp::Ne
                                                             ? randint(0, 2, {4, 3, 8}, dt) : randn({4, 3, 8}, dt);
      Tensor want2 = Tensor::empty(a2.shape(), dt), got2 = Tensor::empty(a2.shape(), dt, kGpu);
      cpu().binary(c.op, a2, b2, want2, c.alpha, c.beta);
      gpu().binary(c.op, a2.to(kGpu), b2.to(kGpu), got2, c.alpha, c.beta);
      expect_close(got2, want2, rtol, rtol, std::string(c.name) + " contiguous " + dtype_name(dt));
    }
  }
}

// ------------------------------------------------------------------------------ reductions

TEST(CudaParity, Reductions) {
  SKIP_WITHOUT_GPU();
  manual_seed(4);
  const std::vector<std::vector<int64_t>> axes_list = {{1}, {3}, {0}, {0, 2}, {1, 3}, {0, 1, 2, 3}};
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = randn({3, 4, 5, 70}, dt);
    for (const auto& axes : axes_list) {
      std::vector<int64_t> out_shape = x.shape().vec();
      for (int64_t a : axes) out_shape[a] = 1;
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
        Tensor want = Tensor::empty(Shape(out_shape), dt), got = Tensor::empty(Shape(out_shape), dt, kGpu);
        cpu().reduce(op, x, axes, want);
        gpu().reduce(op, x.to(kGpu), axes, got);
        expect_close(got, want, dt == kFloat32 ? 1e-5 : 1e-12, 1e-5,
                     "reduce op " + std::to_string(static_cast<int>(op)) + " over " + std::to_string(axes.size()) +
                         " axes, first " + std::to_string(axes[0]));
      }
    }
  }
  // A non-contiguous input.
  const Tensor x = randn({6, 9});
  Tensor want = Tensor::empty({9, 1}), got = Tensor::empty({9, 1}, kFloat32, kGpu);
  cpu().reduce(ReduceOp::Sum, x.t(), {1}, want);
  gpu().reduce(ReduceOp::Sum, x.to(kGpu).t(), {1}, got);
  expect_close(got, want, 1e-5, 1e-5, "sum of a transposed input");
}

// Two runs of reduced axes, the second trailing, as a batch norm's (N, C, H, W) over {0, 2, 3}:
// one launch of the column kernel folding each L = H * W adjacent columns by warp shuffles where
// L is a power of two up to 32 lanes (4-wide: 128 columns), else two launches. Each against the
// CPU: L from 2 to 256, with an outer axis, long columns (segments combined by the last block),
// float64, and an unaligned view (the 1-wide kernel).
TEST(CudaParity, ReductionsFoldingATrailingRun) {
  SKIP_WITHOUT_GPU();
  manual_seed(43);
  struct Case {
    std::vector<int64_t> shape, axes;
  };
  const std::vector<Case> cases = {
      {{6, 5, 1, 2}, {0, 2, 3}},  {{6, 5, 2, 2}, {0, 2, 3}},    {{6, 5, 4, 4}, {0, 2, 3}},
      {{9, 3, 8, 8}, {0, 2, 3}},  {{5, 7, 8, 16}, {0, 2, 3}},   {{5, 7, 16, 16}, {0, 2, 3}},
      {{2, 7, 3, 32}, {1, 3}},    {{8192, 3, 16}, {0, 2}},      {{3, 5, 1, 7, 8}, {1, 2, 4}},
      {{6, 5, 3, 3}, {0, 2, 3}},  {{40000, 2, 64}, {0, 2}}};
  for (DType dt : {kFloat32, kFloat64})
    for (const Case& c : cases) {
      const Tensor x = randn(Shape(c.shape), dt);
      std::vector<int64_t> out_shape = c.shape;
      for (int64_t a : c.axes) out_shape[a] = 1;
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
        Tensor want = Tensor::empty(Shape(out_shape), dt), got = Tensor::empty(Shape(out_shape), dt, kGpu);
        cpu().reduce(op, x, c.axes, want);
        gpu().reduce(op, x.to(kGpu), c.axes, got);
        expect_close(got, want, dt == kFloat32 ? 1e-5 : 1e-12, dt == kFloat32 ? 1e-3 : 1e-10,
                     "reduce op " + std::to_string(static_cast<int>(op)) + " of shape " + x.shape().str() + " " +
                         dtype_name(dt));
      }
    }
  // 4 bytes past an aligned address: the 1-wide column kernel, folding 8 columns.
  const Tensor big = randn({6 * 5 * 8 + 1}).to(kGpu), view = big.narrow(0, 1, 6 * 5 * 8).reshape({6, 5, 8});
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max}) {
    Tensor want = Tensor::empty({1, 5, 1}), got = Tensor::empty({1, 5, 1}, kFloat32, kGpu);
    cpu().reduce(op, view.to(Device::cpu()), {0, 2}, want);
    gpu().reduce(op, view, {0, 2}, got);
    expect_close(got, want, 1e-5, 1e-5, "reduce op " + std::to_string(static_cast<int>(op)) + " of an unaligned view");
  }
}

// Large reductions are split into segments over many blocks, then combined (two passes): full
// reductions, long rows, long columns, and NaN propagation through the partials.
TEST(CudaParity, LargeReductionsAcrossSegments) {
  SKIP_WITHOUT_GPU();
  manual_seed(41);
  struct Case {
    std::vector<int64_t> shape, axes;
  };
  const std::vector<Case> cases = {{{1 << 20}, {0}},          {{3, 300001}, {1}},   {{300001, 3}, {0}},
                                   {{64, 5003, 7}, {1}},       {{2, 1 << 18}, {0, 1}}, {{40000, 33}, {0}},
                                   {{513, 4099}, {1}},
                                   // 4-wide paths: short rows, columns, the BatchNorm-like (N, C, S) over {0, 2},
                                   // long rows in one pass and in segments.
                                   {{3000, 64}, {1}},          {{40000, 32}, {0}},   {{64, 5003, 8}, {1}},
                                   {{256, 37, 64}, {0, 2}},    {{4096, 8192}, {1}},  {{16, 1 << 16}, {1}},
                                   {{7, 100003}, {1}}};
  for (const Case& c : cases) {
    const Tensor x = randn(Shape(c.shape));
    std::vector<int64_t> out_shape = c.shape;
    for (int64_t a : c.axes) out_shape[a] = 1;
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min}) {
      Tensor want = Tensor::empty(Shape(out_shape)), got = Tensor::empty(Shape(out_shape), kFloat32, kGpu);
      cpu().reduce(op, x, c.axes, want);
      gpu().reduce(op, x.to(kGpu), c.axes, got);
      expect_close(got, want, 1e-5, 1e-3,
                   "reduce op " + std::to_string(static_cast<int>(op)) + " of shape " + x.shape().str());
    }
  }
  // A contiguous view 4 bytes past an aligned address takes the 1-wide path.
  {
    const Tensor big = randn({(1 << 20) + 1}).to(kGpu), view = big.narrow(0, 1, 1 << 20);
    Tensor want = Tensor::empty({1}), got = Tensor::empty({1}, kFloat32, kGpu);
    cpu().reduce(ReduceOp::Sum, view.to(Device::cpu()), {0}, want);
    gpu().reduce(ReduceOp::Sum, view, {0}, got);
    expect_close(got, want, 1e-5, 1e-3, "sum of an unaligned view");
  }
  Tensor x = randn({1 << 20});
  x.data<float>()[777777] = std::nanf("");
  Tensor got = Tensor::empty({1}, kFloat32, kGpu);
  gpu().reduce(ReduceOp::Max, x.to(kGpu), {0}, got);
  EXPECT_TRUE(std::isnan(got.item<float>()));
  gpu().reduce(ReduceOp::Sum, x.to(kGpu), {0}, got);
  EXPECT_TRUE(std::isnan(got.item<float>()));
}

TEST(CudaParity, Argmax) {
  SKIP_WITHOUT_GPU();
  manual_seed(5);
  const Tensor x = randn({4, 9, 3});
  for (int64_t axis : {0, 1, 2}) {
    std::vector<int64_t> s = x.shape().vec();
    s[axis] = 1;
    Tensor want = Tensor::empty(Shape(s), kInt64), got = Tensor::empty(Shape(s), kInt64, kGpu);
    cpu().argmax(x, axis, want);
    gpu().argmax(x.to(kGpu), axis, got);
    expect_close(got, want, 0, 0, "argmax axis " + std::to_string(axis));
  }
}

// ------------------------------------------------------------------------------ matmul

TEST(CudaParity, BatchedMatmulWithTransposedAndBroadcastOperands) {
  SKIP_WITHOUT_GPU();
  manual_seed(6);
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-4 : 1e-12;
    const int64_t B = 3, M = 5, K = 7, N = 4;
    const Tensor a = randn({B, M, K}, dt), b = randn({B, K, N}, dt);
    const Tensor at = randn({B, K, M}, dt).transpose(1, 2), bt = randn({B, N, K}, dt).transpose(1, 2);
    const Tensor b1 = randn({1, K, N}, dt).expand({B, K, N});  // batch stride 0
    struct Pair {
      Tensor x, y;
      const char* name;
    };
    for (const Pair& p : {Pair{a, b, "NN"}, Pair{at, b, "TN"}, Pair{a, bt, "NT"}, Pair{at, bt, "TT"},
                          Pair{a, b1, "broadcast batch"}}) {
      for (bool accumulate : {false, true}) {
        Tensor want = randn({B, M, N}, dt);
        Tensor got = want.to(kGpu);
        cpu().matmul(p.x, p.y, want, accumulate);
        const Tensor gx = p.x.is_contiguous() ? p.x.to(kGpu) : p.x.transpose(1, 2).contiguous().to(kGpu).transpose(1, 2);
        const Tensor gy = p.y.stride(0) == 0 ? p.y.narrow(0, 0, 1).contiguous().to(kGpu).expand({B, K, N})
                          : p.y.is_contiguous() ? p.y.to(kGpu)
                                                : p.y.transpose(1, 2).contiguous().to(kGpu).transpose(1, 2);
        gpu().matmul(gx, gy, got, accumulate);
        expect_close(got, want, tol, tol, std::string("matmul ") + p.name + (accumulate ? " accumulate " : " ") +
                                              dtype_name(dt));
      }
    }
  }
  // Through the op: a 2-D product with broadcast batches.
  const Tensor x = randn({2, 3, 8}), w = randn({8, 6});
  expect_close(matmul(x.to(kGpu), w.to(kGpu)), matmul(x, w), 1e-4, 1e-4, "ops matmul");
}

// ------------------------------------------------------------------------------ softmax, loss

TEST(CudaParity, SoftmaxForwardAndBackward) {
  SKIP_WITHOUT_GPU();
  manual_seed(7);
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-5 : 1e-12;
    const Tensor x = randn({4, 6, 3}, dt) * 3.0, gy = randn({4, 6, 3}, dt);
    for (int64_t axis : {0, 1, 2}) {
      for (bool log : {false, true}) {
        Tensor y = empty_like_on(x, Device::cpu()), yg = empty_like_on(x, kGpu);
        cpu().softmax(x, axis, log, y);
        gpu().softmax(x.to(kGpu), axis, log, yg);
        expect_close(yg, y, tol, tol, "softmax forward");
        Tensor gx = empty_like_on(x, Device::cpu()), gxg = empty_like_on(x, kGpu);
        cpu().softmax_backward(y, gy, axis, log, gx);
        gpu().softmax_backward(y.to(kGpu), gy.to(kGpu), axis, log, gxg);
        expect_close(gxg, gx, tol, tol, "softmax backward");
      }
    }
  }
}

TEST(CudaParity, CrossEntropyForwardAndBackward) {
  SKIP_WITHOUT_GPU();
  manual_seed(8);
  const int64_t N = 37, C = 11;
  const Tensor logits = randn({N, C}) * 2.0, target = randint(0, C, {N}), weight = rand({C}) + 0.5;
  for (bool weighted : {false, true}) {
    for (Reduction red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      const Tensor w = weighted ? weight : Tensor(), wg = weighted ? weight.to(kGpu) : Tensor();
      const Shape loss_shape = red == Reduction::None ? Shape{N} : Shape{};
      Tensor lp = Tensor::empty({N, C}), loss = Tensor::empty(loss_shape);
      Tensor lpg = Tensor::empty({N, C}, kFloat32, kGpu), lossg = Tensor::empty(loss_shape, kFloat32, kGpu);
      cpu().cross_entropy(logits, target, w, red, lp, loss);
      gpu().cross_entropy(logits.to(kGpu), target.to(kGpu), wg, red, lpg, lossg);
      const std::string what = std::string("cross_entropy") + (weighted ? " weighted" : "") + " reduction " +
                               std::to_string(static_cast<int>(red));
      expect_close(lpg, lp, 1e-5, 1e-5, what + " log_probs");
      expect_close(lossg, loss, 1e-5, 1e-5, what + " loss");
      const Tensor gl = red == Reduction::None ? randn({N}) : full({}, 0.7);
      Tensor gx = Tensor::empty({N, C}), gxg = Tensor::empty({N, C}, kFloat32, kGpu);
      cpu().cross_entropy_backward(lp, target, w, red, gl, gx);
      gpu().cross_entropy_backward(lpg, target.to(kGpu), wg, red, gl.to(kGpu), gxg);
      expect_close(gxg, gx, 1e-5, 1e-6, what + " backward");
    }
  }
  // A label outside [0, C) is the CPU's error, not a wrong number. The kernel records it; it is raised
  // at the next host synchronisation (here the read of the loss).
  Tensor bad = target.clone();
  bad.narrow(0, 5, 1).fill_(C);
  Tensor lpg = Tensor::empty({N, C}, kFloat32, kGpu), lossg = Tensor::empty({}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] {
                gpu().cross_entropy(logits.to(kGpu), bad.to(kGpu), Tensor(), Reduction::Mean, lpg, lossg);
                (void)lossg.item<float>();
              }),
              HasSubstr("cross_entropy: target 11 at position 5 is out of range for 11 classes"));
  // And through the op, with autograd.
  Tensor lg = logits.to(kGpu).detach().set_requires_grad();
  Tensor lc = logits.detach().set_requires_grad();
  Tensor l1 = cross_entropy(lg, target.to(kGpu)), l2 = cross_entropy(lc, target);
  expect_close(l1, l2, 1e-5, 1e-6, "ops cross_entropy");
  l1.backward();
  l2.backward();
  expect_close(lg.grad(), lc.grad(), 1e-5, 1e-6, "ops cross_entropy grad");
}

// ------------------------------------------------------------------------------ indexing

TEST(CudaParity, IndexOps) {
  SKIP_WITHOUT_GPU();
  manual_seed(10);
  for (DType dt : {kFloat32, kFloat64}) {
    const Tensor x = randn({5, 6, 4}, dt);
    const Tensor idx = randint(0, 6, {9});  // repeats: index_add must sum them
    Tensor want = Tensor::empty({5, 9, 4}, dt), got = Tensor::empty({5, 9, 4}, dt, kGpu);
    cpu().index_select(x, 1, idx, want);
    gpu().index_select(x.to(kGpu), 1, idx.to(kGpu), got);
    expect_close(got, want, 0, 0, "index_select");
    Tensor acc = zeros({5, 6, 4}, dt), accg = zeros({5, 6, 4}, dt, kGpu);
    cpu().index_add(acc, 1, idx, want);
    gpu().index_add(accg, 1, idx.to(kGpu), got);
    expect_close(accg, acc, 1e-6, 1e-6, "index_add");
    const Tensor gidx = randint(0, 6, {5, 3, 4});
    Tensor gw = Tensor::empty({5, 3, 4}, dt), gg = Tensor::empty({5, 3, 4}, dt, kGpu);
    cpu().gather(x, 1, gidx, gw);
    gpu().gather(x.to(kGpu), 1, gidx.to(kGpu), gg);
    expect_close(gg, gw, 0, 0, "gather");
    Tensor sc = zeros({5, 6, 4}, dt), scg = zeros({5, 6, 4}, dt, kGpu);
    cpu().scatter_add(sc, 1, gidx, gw);
    gpu().scatter_add(scg, 1, gidx.to(kGpu), gg);
    expect_close(scg, sc, 1e-6, 1e-6, "scatter_add");
  }
}

// Bad indices and labels are found by the kernels and raised at the next host synchronisation
// (no host round trip inside the op), with the CPU's message; the error is cleared once raised.
TEST(CudaParity, DeferredIndexAndLabelErrors) {
  SKIP_WITHOUT_GPU();
  const Tensor x = randn({4, 3}).to(kGpu);
  Tensor out = Tensor::empty({2, 3}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] {
                gpu().index_select(x, 0, from_vector<int64_t>({1, 7}, {2}).to(kGpu), out);
                (void)out.to(Device::cpu());
              }),
              HasSubstr("index_select: index 7 is out of range for a dimension of size 4"));
  // Cleared: the same op with good indices works and reads back.
  gpu().index_select(x, 0, from_vector<int64_t>({1, 3}, {2}).to(kGpu), out);
  const std::vector<float> rows = out.to_vector<float>(), all = x.to_vector<float>();
  EXPECT_EQ(rows[3], all[9]);
  Tensor acc = zeros({4, 3}, kFloat32, kGpu);
  EXPECT_THAT(error_of([&] {
                gpu().scatter_add(acc, 0, from_vector<int64_t>({-1, 0, 0}, {1, 3}).to(kGpu), x.narrow(0, 0, 1));
                gpu().synchronize();
              }),
              HasSubstr("scatter_add: index -1 is out of range for a dimension of size 4"));
  const Tensor logits = randn({3, 10}).to(kGpu);
  EXPECT_THAT(error_of([&] { (void)cross_entropy(logits, from_vector<int64_t>({0, 12, 3}, {3}).to(kGpu)).item<float>(); }),
              HasSubstr("cross_entropy: target 12 at position 1 is out of range for 10 classes"));
  EXPECT_NEAR(cross_entropy(logits, from_vector<int64_t>({0, 1, 3}, {3}).to(kGpu)).item<float>(),
              cross_entropy(logits.to(Device::cpu()), from_vector<int64_t>({0, 1, 3}, {3})).item<float>(), 1e-5);
}

// ------------------------------------------------------------------------------ normalization, pooling

TEST(CudaParity, BatchNormForwardAndBackward) {
  SKIP_WITHOUT_GPU();
  manual_seed(11);
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-4 : 1e-10;
    // Small shapes, and ones that spread a channel over many blocks (S % 4 == 0: the 4-wide apply
    // pass; planes sliced when there are few of them; S = 49 as in ResNet's last stage at 7x7).
    for (const Shape& s : {Shape{8, 5}, Shape{4, 3, 6, 5}, Shape{16, 8, 28, 28}, Shape{3, 2, 1000}, Shape{64, 3, 7, 7}}) {
      const int64_t C = s[1];
      const Tensor x = randn(s, dt) * 2.0 + 0.5, gy = randn(s, dt), w = randn({C}, dt), b = randn({C}, dt);
      for (bool training : {true, false}) {
        Tensor mean = training ? zeros({C}, dt) : randn({C}, dt), var = training ? zeros({C}, dt) : rand({C}, dt) + 0.5;
        Tensor meang = mean.to(kGpu), varg = var.to(kGpu);
        Tensor y = Tensor::empty(s, dt), yg = Tensor::empty(s, dt, kGpu);
        cpu().batch_norm(x, w, b, mean, var, training, 1e-5, y);
        gpu().batch_norm(x.to(kGpu), w.to(kGpu), b.to(kGpu), meang, varg, training, 1e-5, yg);
        const std::string what = std::string("batch_norm ") + (training ? "training " : "eval ") + dtype_name(dt);
        expect_close(meang, mean, tol, tol, what + " mean");
        expect_close(varg, var, tol, tol, what + " var");
        expect_close(yg, y, tol, tol, what + " y");
        Tensor gx = Tensor::empty(s, dt), gw = Tensor::empty({C}, dt), gb = Tensor::empty({C}, dt);
        Tensor gxg = Tensor::empty(s, dt, kGpu), gwg = Tensor::empty({C}, dt, kGpu), gbg = Tensor::empty({C}, dt, kGpu);
        cpu().batch_norm_backward(x, gy, w, mean, var, training, 1e-5, gx, gw, gb);
        gpu().batch_norm_backward(x.to(kGpu), gy.to(kGpu), w.to(kGpu), meang, varg, training, 1e-5, gxg, gwg, gbg);
        expect_close(gxg, gx, tol, tol, what + " grad x");
        expect_close(gwg, gw, tol, tol, what + " grad weight");
        expect_close(gbg, gb, tol, tol, what + " grad bias");
      }
    }
    // Batch statistics without normalising (SyncBatchNorm's local statistics), far from zero too.
    {
      const Tensor x = randn({6, 5, 7, 3}, dt) * 0.5 + 300.0;
      Tensor m = Tensor::empty({5}, dt), v = Tensor::empty({5}, dt);
      Tensor mg = Tensor::empty({5}, dt, kGpu), vg = Tensor::empty({5}, dt, kGpu);
      cpu().batch_norm_stats(x, m, v);
      gpu().batch_norm_stats(x.to(kGpu), mg, vg);
      expect_close(mg, m, 1e-6, 1e-6, std::string("batch_norm_stats mean ") + dtype_name(dt));
      expect_close(vg, v, 1e-4, 1e-6, std::string("batch_norm_stats var ") + dtype_name(dt));
    }
    // The running statistics (one fused launch on the GPU) and the batch counter.
    const int64_t C = 37;
    const Tensor mean = randn({C}, dt), var = rand({C}, dt) + 0.1;
    Tensor rm = randn({C}, dt), rv = rand({C}, dt) + 0.5;
    Tensor rmg = rm.to(kGpu), rvg = rv.to(kGpu);
    cpu().batch_norm_update_running(mean, var, rm, rv, 0.1, 50.0 / 49.0);
    gpu().batch_norm_update_running(mean.to(kGpu), var.to(kGpu), rmg, rvg, 0.1, 50.0 / 49.0);
    expect_close(rmg, rm, tol, tol, std::string("running mean ") + dtype_name(dt));
    expect_close(rvg, rv, tol, tol, std::string("running var ") + dtype_name(dt));
  }
  for (DType dt : {kInt64, kFloat32}) {
    Tensor counter = full({}, 41.0, dt).to(kGpu);
    gpu().increment(counter);
    gpu().increment(counter);
    EXPECT_EQ(counter.item<double>(), 43.0) << dtype_name(dt);
  }
}

TEST(CudaParity, Pool2d) {
  SKIP_WITHOUT_GPU();
  manual_seed(13);
  const Tensor x = randn({2, 3, 9, 8});
  struct Case {
    PoolKind kind;
    int64_t k, s, pad, oh, ow;  // oh/ow one larger than floor mode = ceil mode
  };
  for (const Case& c : {Case{PoolKind::Max, 2, 2, 0, 4, 4}, Case{PoolKind::Max, 3, 2, 1, 5, 4},
                        Case{PoolKind::Max, 3, 2, 0, 4, 4}, Case{PoolKind::AvgIncludePad, 3, 2, 1, 5, 4},
                        Case{PoolKind::AvgExcludePad, 3, 2, 1, 5, 4}, Case{PoolKind::AvgIncludePad, 2, 2, 0, 5, 4},
                        Case{PoolKind::AvgExcludePad, 3, 1, 1, 9, 8}}) {
    Pool2dParams p;
    p.kind = c.kind;
    p.kernel_h = p.kernel_w = c.k;
    p.stride_h = p.stride_w = c.s;
    p.pad_h = p.pad_w = c.pad;
    Tensor y = Tensor::empty({2, 3, c.oh, c.ow}), yg = Tensor::empty({2, 3, c.oh, c.ow}, kFloat32, kGpu), ws, wsg;
    cpu().pool2d(x, y, ws, p);
    gpu().pool2d(x.to(kGpu), yg, wsg, p);
    const std::string what = "pool2d kind " + std::to_string(static_cast<int>(c.kind)) + " k" + std::to_string(c.k) +
                             " s" + std::to_string(c.s) + " p" + std::to_string(c.pad) + " out " + std::to_string(c.oh);
    expect_close(yg, y, 1e-6, 1e-6, what);
    const Tensor gy = randn({2, 3, c.oh, c.ow});
    Tensor gx = Tensor::empty(x.shape()), gxg = Tensor::empty(x.shape(), kFloat32, kGpu);
    cpu().pool2d_backward(gy, ws, gx, p);
    gpu().pool2d_backward(gy.to(kGpu), wsg, gxg, p);
    expect_close(gxg, gx, 1e-5, 1e-6, what + " backward");
  }
}

TEST(CudaParity, AdaptiveAvgPool) {
  SKIP_WITHOUT_GPU();
  manual_seed(12);
  const Tensor x = randn({2, 3, 7, 9});
  for (const auto& [oh, ow] : {std::pair<int64_t, int64_t>{1, 1}, {3, 4}, {7, 9}, {5, 2}}) {
    Tensor y = Tensor::empty({2, 3, oh, ow}), yg = Tensor::empty({2, 3, oh, ow}, kFloat32, kGpu);
    cpu().adaptive_avg_pool2d(x, y);
    gpu().adaptive_avg_pool2d(x.to(kGpu), yg);
    const std::string what = "adaptive_avg_pool2d to " + std::to_string(oh) + "x" + std::to_string(ow);
    expect_close(yg, y, 1e-5, 1e-6, what);
    const Tensor gy = randn({2, 3, oh, ow});
    Tensor gx = Tensor::empty(x.shape()), gxg = Tensor::empty(x.shape(), kFloat32, kGpu);
    cpu().adaptive_avg_pool2d_backward(gy, gx);
    gpu().adaptive_avg_pool2d_backward(gy.to(kGpu), gxg);
    expect_close(gxg, gx, 1e-5, 1e-6, what + " backward");
  }
}

// ------------------------------------------------------------------------------ optimizers

TEST(CudaParity, FusedOptimizerSteps) {
  SKIP_WITHOUT_GPU();
  manual_seed(9);
  const Shape s{33, 7};
  auto run_both = [&](const std::string& name, auto&& step, int nstate) {
    std::vector<Tensor> c{randn(s)}, g;
    for (int k = 0; k < nstate; ++k) c.push_back(zeros(s));  // optimizer state starts at zero
    for (const Tensor& t : c) g.push_back(t.to(kGpu));
    for (int it = 0; it < 3; ++it) {
      const Tensor grad = randn(s);
      step(cpu(), c, grad, it);
      step(gpu(), g, grad.to(kGpu), it);
    }
    for (size_t k = 0; k < c.size(); ++k) expect_close(g[k], c[k], 1e-5, 1e-6, name + " tensor " + std::to_string(k));
  };
  for (bool nesterov : {false, true})
    run_both(nesterov ? "sgd nesterov" : "sgd momentum",
             [&](Backend& b, std::vector<Tensor>& t, const Tensor& grad, int it) {
               b.sgd_step(t[0], grad, t[1], SgdParams{0.1, 0.9, 0.1, 1e-3, nesterov, it == 0});
             },
             1);
  for (bool amsgrad : {false, true})
    for (bool adamw : {false, true})
      run_both(std::string("adam") + (adamw ? "w" : "") + (amsgrad ? " amsgrad" : ""),
               [&](Backend& b, std::vector<Tensor>& t, const Tensor& grad, int it) {
                 b.adam_step(t[0], grad, t[1], t[2], t[3], AdamParams{1e-2, 0.9, 0.999, 1e-8, 1e-2, adamw, amsgrad, it + 1});
               },
               3);
  run_both("adagrad",
           [&](Backend& b, std::vector<Tensor>& t, const Tensor& grad, int it) {
             b.adagrad_step(t[0], grad, t[1], AdagradParams{1e-2, 1e-3, 1e-4, 1e-10, it + 1});
           },
           1);
  for (bool centered : {false, true})
    run_both(centered ? "rmsprop centered" : "rmsprop",
             [&](Backend& b, std::vector<Tensor>& t, const Tensor& grad, int it) {
               b.rmsprop_step(t[0], grad, t[1], t[2], t[3], RmspropParams{1e-2, 0.99, 1e-8, 1e-4, 0.9, centered});
             },
             3);
}
