// Counter-based tensor fills (backend/philox.h, backend/cpu/random.cpp): the Philox4x32-10
// known-answer vectors published with Random123, the block layout of a fill, independence of the
// thread count, the distributions' moments and histograms, and the generator's offsets and state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/philox.h"
#include "common/error_of.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using detail::PhiloxWords;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {
std::vector<uint32_t> words(const PhiloxWords& r) { return {r.w[0], r.w[1], r.w[2], r.w[3]}; }
// n draws of Bernoulli(p) from the default generator.
Tensor bernoulli(int64_t n, double p, DType dtype = kFloat32) {
  Tensor t = Tensor::empty({n}, dtype);
  backend_for(t.device()).bernoulli(t, p, default_generator());
  return t;
}
}  // namespace

TEST(Philox, KnownAnswerVectors) {
  // Random123's kat_vectors for philox4x32_10: (counter, key) -> output.
  EXPECT_EQ(words(detail::philox4x32_10(PhiloxWords{{0, 0, 0, 0}}, 0, 0)),
            (std::vector<uint32_t>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(words(detail::philox4x32_10(PhiloxWords{{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u)),
            (std::vector<uint32_t>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(words(detail::philox4x32_10(PhiloxWords{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                                        0xa4093822u, 0x299f31d0u)),
            (std::vector<uint32_t>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, BlockCounterAndKeyWords) {
  // Block b and offset o fill the counter's low and high words in order; the key splits likewise.
  const detail::PhiloxStream s{0x299f31d0a4093822ull, 0x0370734413198a2eull};
  EXPECT_EQ(words(detail::philox_block(s, 0x85a308d3243f6a88ull)),
            (std::vector<uint32_t>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, FillUsesOneBlockPerFourFloatsOrTwoDoubles) {
  manual_seed(11);
  const uint64_t key = default_generator().philox_key(), offset = default_generator().philox_offset();
  const std::vector<float> f = rand({7}).to_vector<float>();  // blocks 0 and 1 of `offset`
  const std::vector<double> d = rand({3}, kFloat64).to_vector<double>();  // blocks 0 and 1 of offset + 1
  EXPECT_EQ(default_generator().philox_offset(), offset + 2);
  for (int e = 0; e < 7; ++e) {
    const PhiloxWords r = detail::philox_block({key, offset}, e / 4);
    EXPECT_EQ(f[e], static_cast<float>((r.w[e % 4] >> 8) * 0x1p-24)) << e;
  }
  for (int e = 0; e < 3; ++e) {
    const PhiloxWords r = detail::philox_block({key, offset + 1}, e / 2);
    const uint64_t bits = (uint64_t(r.w[2 * (e % 2)]) << 21) ^ (r.w[2 * (e % 2) + 1] >> 11);
    EXPECT_EQ(d[e], static_cast<double>(bits) * 0x1p-53) << e;
  }
}

TEST(Philox, FillsDoNotDependOnTheThreadCount) {
  const int threads = omp_get_max_threads();
  auto draw = [](int t) {
    omp_set_num_threads(t);
    manual_seed(3);
    std::vector<float> v = randn({300001}).to_vector<float>();
    const std::vector<float> u = uniform({100003}, -1.0, 2.0).to_vector<float>();
    const std::vector<float> b = bernoulli(70001, 0.25).to_vector<float>();
    v.insert(v.end(), u.begin(), u.end());
    v.insert(v.end(), b.begin(), b.end());
    return v;
  };
  const std::vector<float> one = draw(1), two = draw(2), five = draw(5);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, five);
}

TEST(Philox, UniformMomentsRangeAndHistogram) {
  manual_seed(1);
  for (DType dt : {kFloat32, kFloat64}) {
    const std::vector<double> u = uniform({200000}, -2.0, 3.0, dt).to(kFloat64).to_vector<double>();
    double mean = 0, var = 0;
    for (double v : u) {
      ASSERT_TRUE(v >= -2.0 && v < 3.0) << v;
      mean += v;
    }
    mean /= u.size();
    for (double v : u) var += (v - mean) * (v - mean);
    var /= u.size();
    EXPECT_NEAR(mean, 0.5, 4 * std::sqrt(25.0 / 12 / u.size())) << dt;  // 4 standard errors
    EXPECT_NEAR(var, 25.0 / 12, 0.03) << dt;
    // 20 equal bins: chi-square with 19 degrees of freedom below its 0.999 quantile (43.8).
    std::vector<double> bins(20, 0);
    for (double v : u) bins[std::min(19, static_cast<int>((v + 2.0) / 5.0 * 20))] += 1;
    double chi2 = 0;
    for (double c : bins) chi2 += (c - u.size() / 20.0) * (c - u.size() / 20.0) / (u.size() / 20.0);
    EXPECT_LT(chi2, 43.8) << dt;
  }
}

TEST(Philox, NormalMomentsAndTails) {
  manual_seed(2);
  for (DType dt : {kFloat32, kFloat64}) {
    const std::vector<double> z = normal({400001}, 1.5, 2.0, dt).to(kFloat64).to_vector<double>();
    double mean = 0;
    for (double v : z) mean += v;
    mean /= z.size();
    double m2 = 0, m4 = 0;
    int64_t beyond2 = 0, beyond4 = 0;
    for (double v : z) {
      const double c = v - mean;
      m2 += c * c;
      m4 += c * c * c * c;
      beyond2 += std::abs(v - 1.5) > 2 * 2.0;
      beyond4 += std::abs(v - 1.5) > 4 * 2.0;
    }
    m2 /= z.size();
    m4 /= z.size();
    EXPECT_NEAR(mean, 1.5, 4 * 2.0 / std::sqrt(z.size())) << dt;
    EXPECT_NEAR(std::sqrt(m2), 2.0, 0.01) << dt;
    EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.05) << dt;  // a normal's kurtosis
    // P(|Z| > 2) = 0.0455 and P(|Z| > 4) = 6.3e-5: the tails are there, and not too heavy.
    EXPECT_NEAR(beyond2 / double(z.size()), 0.0455, 0.0015) << dt;
    EXPECT_GT(beyond4, 5) << dt;
    EXPECT_LT(beyond4, 60) << dt;
  }
}

TEST(Philox, BernoulliFrequenciesAndEdges) {
  manual_seed(4);
  for (double p : {0.1, 0.5, 0.9}) {
    const std::vector<float> b = bernoulli(200000, p).to_vector<float>();
    double ones = 0;
    for (float v : b) {
      ASSERT_TRUE(v == 0.0f || v == 1.0f);
      ones += v;
    }
    EXPECT_NEAR(ones / b.size(), p, 4 * std::sqrt(p * (1 - p) / b.size())) << p;
  }
  const std::vector<double> none = bernoulli(1000, 0.0, kFloat64).to_vector<double>();
  const std::vector<double> all = bernoulli(1000, 1.0, kFloat64).to_vector<double>();
  EXPECT_EQ(std::accumulate(none.begin(), none.end(), 0.0), 0.0);
  EXPECT_EQ(std::accumulate(all.begin(), all.end(), 0.0), 1000.0);
}

TEST(Philox, SuccessiveFillsAndSeedsAreUncorrelated) {
  manual_seed(5);
  const std::vector<double> a = rand({100000}, kFloat64).to_vector<double>();
  const std::vector<double> b = rand({100000}, kFloat64).to_vector<double>();
  manual_seed(6);
  const std::vector<double> c = rand({100000}, kFloat64).to_vector<double>();
  auto correlation = [](const std::vector<double>& x, const std::vector<double>& y) {
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    const double n = x.size();
    for (size_t i = 0; i < x.size(); ++i) {
      sx += x[i], sy += y[i], sxy += x[i] * y[i], sxx += x[i] * x[i], syy += y[i] * y[i];
    }
    return (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
  };
  EXPECT_LT(std::abs(correlation(a, b)), 4 / std::sqrt(100000.0));
  EXPECT_LT(std::abs(correlation(a, c)), 4 / std::sqrt(100000.0));
  // Neighbouring elements of one fill, too.
  const std::vector<double> a0(a.begin(), a.end() - 1), a1(a.begin() + 1, a.end());
  EXPECT_LT(std::abs(correlation(a0, a1)), 4 / std::sqrt(100000.0));
}

TEST(Philox, GeneratorStateKeepsTheOffset) {
  Generator g(9);
  EXPECT_EQ(g.philox_offset(), 0u);
  EXPECT_EQ(g.take_philox_offsets(3), 0u);
  EXPECT_EQ(g.take_philox_offsets(1), 3u);
  const std::string saved = g.state();
  EXPECT_THAT(saved, HasSubstr(" philox 4"));
  Generator h(1);
  h.set_state(saved);
  EXPECT_EQ(h.philox_offset(), 4u);
  EXPECT_EQ(h.philox_key(), g.philox_key());
  EXPECT_EQ(h.next_u64(), g.next_u64());
  // A state saved before the offset existed restores offset 0; junk after it is refused.
  const std::string old_format = saved.substr(0, saved.find(" philox"));
  h.set_state(old_format);
  EXPECT_EQ(h.philox_offset(), 0u);
  EXPECT_EQ(h.initial_seed(), 9u);
  EXPECT_THAT(error_of([&] { h.set_state(old_format + " philox x"); }), HasSubstr("not a generator state"));
  EXPECT_THAT(error_of([&] { h.set_state(saved + " 7"); }), HasSubstr("not a generator state"));
  EXPECT_EQ(h.philox_offset(), 0u);  // unchanged by the refused states
  // manual_seed starts the offsets again; different seeds give different keys.
  g.manual_seed(9);
  EXPECT_EQ(g.philox_offset(), 0u);
  EXPECT_NE(Generator(1).philox_key(), Generator(2).philox_key());
}
