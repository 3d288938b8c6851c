// batch_norm (training with batch statistics and running-buffer updates, eval with running
// statistics; (N, C) and (N, C, H, W); float32 oneDNN against float64 loops; gradchecks) and
// dropout (scaling, drop fraction, seeding, identity cases, gradient), plus argument errors.
#include "ops_cnn/cnn_test_util.h"

using namespace cnntest;

namespace {

// Per-channel statistics of x viewed as (N, C, S): mean, biased and unbiased variance.
struct Stats {
  std::vector<double> mean, var, var_unbiased;
};
Stats channel_stats(const Tensor& x) {
  const auto v = x.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C), M = N * S;
  Stats s{std::vector<double>(C), std::vector<double>(C), std::vector<double>(C)};
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) sum += v[(n * C + c) * S + i];
    const double m = sum / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) sq += (v[(n * C + c) * S + i] - m) * (v[(n * C + c) * S + i] - m);
    s.mean[c] = m;
    s.var[c] = sq / M;
    s.var_unbiased[c] = sq / (M - 1);
  }
  return s;
}

std::vector<double> ref_normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                                  const std::vector<double>& w, const std::vector<double>& b, double eps) {
  auto v = x.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i) {
        double& e = v[(n * C + c) * S + i];
        e = (e - mean[c]) / std::sqrt(var[c] + eps) * w[c] + b[c];
      }
  return v;
}

}  // namespace

// Backend::batch_norm_stats: the CPU's two-pass loops and the backends' default (reductions and
// maps) both match a float64 reference, also for data far from zero (mean 1000, std 0.5), where
// E[x^2] - E[x]^2 in float32 would lose every digit; (N, C) input; and the shape error.
TEST(BatchNormStats, CpuAndDefaultMatchAFloat64Reference) {
  manual_seed(21);
  Backend& be = backend_for(Device::cpu());
  for (const Shape& shape : {Shape{6, 3, 5, 7}, Shape{40, 4}}) {
    for (double offset : {0.0, 1000.0}) {
      const Tensor x = randn(shape) * 0.5 + offset;
      const Stats want = channel_stats(x);
      const int64_t C = shape[1];
      Tensor m = Tensor::empty({C}), v = Tensor::empty({C}), dm = Tensor::empty({C}), dv = Tensor::empty({C});
      be.batch_norm_stats(x, m, v);
      be.Backend::batch_norm_stats(x, dm, dv);  // the default the CUDA backend uses
      for (int64_t c = 0; c < C; ++c) {
        const std::string what = shape.str() + " offset " + std::to_string(offset) + " channel " + std::to_string(c);
        EXPECT_NEAR(m.to_vector<double>()[c], want.mean[c], 1e-6 * (1 + std::abs(want.mean[c]))) << what;
        EXPECT_NEAR(dm.to_vector<double>()[c], want.mean[c], 1e-6 * (1 + std::abs(want.mean[c]))) << what;
        EXPECT_NEAR(v.to_vector<double>()[c], want.var[c], 1e-4 * want.var[c]) << what;
        EXPECT_NEAR(dv.to_vector<double>()[c], want.var[c], 1e-4 * want.var[c]) << what;
      }
    }
  }
  Tensor m = Tensor::empty({2}), v = Tensor::empty({2});
  EXPECT_THAT(error_of([&] { be.batch_norm_stats(ones({4, 3}), m, v); }),
              HasSubstr("batch_norm_stats: expected x (N, C, ...) and (C) statistics, got x (4, 3)"));
}

TEST(BatchNorm, TrainingNormalisesWithBatchStatistics) {
  for (const Shape& s : {Shape{6, 3}, Shape{4, 3, 5, 2}}) {
    for (DType dt : {kFloat64, kFloat32}) {
      Tensor x = values(s, 1, dt, -2, 3), w = values({3}, 2, dt), b = values({3}, 3, dt);
      const Stats st = channel_stats(x);
      const auto ref = ref_normalize(x, st.mean, st.var, w.to_vector<double>(), b.to_vector<double>(), 1e-5);
      const double tol = dt == kFloat64 ? 1e-12 : 2e-5;
      EXPECT_TRUE(values_near(batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, 1e-5), ref, tol, tol)) << s << dt;
      // Without affine parameters: weight 1, bias 0.
      const auto ref0 = ref_normalize(x, st.mean, st.var, {1, 1, 1}, {0, 0, 0}, 1e-3);
      EXPECT_TRUE(values_near(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-3), ref0, tol, tol))
          << s << dt;
    }
  }
}

TEST(BatchNorm, RunningStatisticsFollowMomentumRule) {
  for (DType dt : {kFloat64, kFloat32}) {
    Tensor rm = zeros({2}, dt), rv = ones({2}, dt);
    std::vector<double> em = {0, 0}, ev = {1, 1};
    const double momentum = 0.3;
    for (int step = 0; step < 4; ++step) {
      Tensor x = values({5, 2, 3, 3}, 10 + step, dt, -1 + step, 2 + 2 * step);
      const Stats st = channel_stats(x);
      batch_norm(x, rm, rv, Tensor(), Tensor(), true, momentum, 1e-5);
      for (int c = 0; c < 2; ++c) {
        em[c] = (1 - momentum) * em[c] + momentum * st.mean[c];
        ev[c] = (1 - momentum) * ev[c] + momentum * st.var_unbiased[c];
      }
    }
    const double tol = dt == kFloat64 ? 1e-12 : 1e-5;
    EXPECT_TRUE(values_near(rm, em, tol, tol)) << dt;
    EXPECT_TRUE(values_near(rv, ev, tol, tol)) << dt;
    // Eval uses (and does not change) the running statistics.
    Tensor x = values({3, 2, 2, 2}, 20, dt), w = values({2}, 21, dt), b = values({2}, 22, dt);
    const auto ref = ref_normalize(x, em, ev, w.to_vector<double>(), b.to_vector<double>(), 1e-5);
    EXPECT_TRUE(values_near(batch_norm(x, rm, rv, w, b, false, momentum, 1e-5), ref, tol, tol)) << dt;
    EXPECT_TRUE(values_near(rm, em, tol, tol)) << dt;
  }
}

TEST(BatchNorm, GradcheckTrainingAndEval) {
  for (const Shape& s : {Shape{5, 3}, Shape{3, 2, 3, 2}}) {
    const int64_t C = s[1];
    Tensor x = leaf(s, 31, -2, 2), w = leaf({C}, 32), b = leaf({C}, 33);
    EXPECT_TRUE(gradcheck_ok(
        [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true, 0.1, 1e-5); },
        {x, w, b}))
        << s;
    Tensor rm = values({C}, 34), rv = values({C}, 35, kFloat64, 0.5, 2);
    EXPECT_TRUE(gradcheck_ok(
        [&](const std::vector<Tensor>& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false, 0.1, 1e-5); },
        {x, w, b}))
        << s;
    // Gradient through x alone, no affine parameters.
    EXPECT_TRUE(gradcheck_ok(
        [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
        {x}))
        << s;
  }
}

TEST(BatchNorm, Float32GradientsMatchFloat64) {
  for (const Shape& s : {Shape{8, 4}, Shape{4, 16, 5, 5}}) {
    for (bool training : {true, false}) {
      const int64_t C = s[1];
      Tensor x = leaf(s, 41, -2, 2), w = leaf({C}, 42), b = leaf({C}, 43);
      Tensor rm = values({C}, 44), rv = values({C}, 45, kFloat64, 0.5, 2);
      Tensor x32 = x.detach().to(kFloat32).set_requires_grad(), w32 = w.detach().to(kFloat32).set_requires_grad(),
             b32 = b.detach().to(kFloat32).set_requires_grad();
      Tensor y = batch_norm(x, rm.clone(), rv.clone(), w, b, training, 0.1, 1e-5);
      Tensor coef = values(s, 46);
      sum(y * coef).backward();
      sum(batch_norm(x32, rm.to(kFloat32), rv.to(kFloat32), w32, b32, training, 0.1, 1e-5) * coef.to(kFloat32))
          .backward();
      EXPECT_TRUE(tensors_near(x32.grad(), x.grad(), 1e-4, 1e-4)) << s << " training " << training;
      EXPECT_TRUE(tensors_near(w32.grad(), w.grad(), 1e-4, 1e-4)) << s << " training " << training;
      EXPECT_TRUE(tensors_near(b32.grad(), b.grad(), 1e-4, 1e-4)) << s << " training " << training;
    }
  }
}

TEST(BatchNorm, ErrorsNameOpAndShapes) {
  EXPECT_THAT(error_of([] { batch_norm(zeros({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true); }),
              HasSubstr("batch_norm: expected input (N, C) or (N, C, H, W), got (2, 3, 4)"));
  EXPECT_THAT(error_of([] { batch_norm(zeros({2, 3, 4, 4}), zeros({4}), ones({4}), Tensor(), Tensor(), true); }),
              HasSubstr("batch_norm: expected running_mean of shape (3) for input (2, 3, 4, 4), got (4)"));
  EXPECT_THAT(error_of([] { batch_norm(zeros({2, 3}), Tensor(), Tensor(), ones({2}), Tensor(), true); }),
              HasSubstr("batch_norm: expected weight of shape (3) for input (2, 3), got (2)"));
  EXPECT_THAT(error_of([] { batch_norm(zeros({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), false); }),
              HasSubstr("batch_norm: eval mode needs running_mean and running_var"));
  EXPECT_THAT(error_of([] { batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); }),
              HasSubstr("batch_norm: expected more than 1 value per channel when training, got input (1, 3)"));
}

TEST(Dropout, ScalesKeptElementsAndDropsAboutP) {
  Tensor x = values({200, 500}, 1, kFloat32, 1, 2);  // no zeros in x
  for (double p : {0.1, 0.5, 0.8}) {
    manual_seed(7);
    Tensor y = dropout(x, p, true);
    const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    int64_t zeros_seen = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      if (yv[i] == 0) {
        ++zeros_seen;
      } else {
        ASSERT_NEAR(yv[i], xv[i] / (1 - p), 1e-5) << i;
      }
    }
    const double frac = static_cast<double>(zeros_seen) / xv.size();
    EXPECT_NEAR(frac, p, 0.01) << p;  // 100k draws: the standard error is below 0.002
  }
}

TEST(Dropout, DeterministicUnderManualSeed) {
  Tensor x = ones({1000});
  manual_seed(123);
  Tensor a = dropout(x, 0.5, true);
  Tensor b = dropout(x, 0.5, true);
  manual_seed(123);
  Tensor c = dropout(x, 0.5, true);
  EXPECT_TRUE(tensors_near(a, c, 0, 0));
  EXPECT_FALSE(tensors_near(a, b, 0, 0));  // consecutive draws differ
}

TEST(Dropout, IdentityCasesAndAllDropped) {
  Tensor x = values({4, 5}, 2);
  EXPECT_TRUE(tensors_near(dropout(x, 0.7, false), x, 0, 0));
  EXPECT_TRUE(tensors_near(dropout(x, 0.0, true), x, 0, 0));
  EXPECT_TRUE(values_near(dropout(x, 1.0, true), std::vector<double>(20, 0.0), 0, 0));
  Tensor l = leaf({4, 5}, 3);
  sum(dropout(l, 1.0, true)).backward();
  EXPECT_TRUE(values_near(l.grad(), std::vector<double>(20, 0.0), 0, 0));
}

TEST(Dropout, GradientIsTheScaledMask) {
  Tensor x = leaf({50, 40}, 4, 1, 2);
  manual_seed(9);
  Tensor y = dropout(x, 0.3, true);
  sum(y).backward();
  // y = x * m / (1 - p), so dy/dx = y / x elementwise.
  const auto yv = y.to_vector<double>(), xv = x.detach().to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) ASSERT_NEAR(gv[i], yv[i] / xv[i], 1e-12) << i;
}

TEST(Dropout, ProbabilityOutsideUnitIntervalIsAnError) {
  EXPECT_THAT(error_of([] { dropout(ones({2, 3}), 1.5, true); }),
              HasSubstr("dropout: probability must be in [0, 1], got 1.5 for input (2, 3)"));
  EXPECT_THAT(error_of([] { dropout(ones({2, 3}), -0.1, false); }), HasSubstr("dropout: probability must be in [0, 1]"));
}
