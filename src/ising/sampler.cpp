// Uniform and Metropolis spin samplers (see ising/sampler.h). The hot loop takes one 64-bit draw
// per flip attempt: the high 32 bits pick the site, the low 32 bits decide acceptance against a
// precomputed threshold (uniform couplings on a regular graph: the local field is an integer).
#include "magmadnn/ising/sampler.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "magmadnn/core/error.h"

namespace magmadnn::ising {

void sample_uniform(const Graph& g, int64_t n, uint64_t seed, int8_t* out) {
  MAGMADNN_CHECK(n >= 0, "sample_uniform: negative sample count ", n);
  Xoshiro256 rng(seed);
  const int64_t total = n * g.num_nodes;
  int64_t i = 0;
  while (i < total) {
    uint64_t r = rng.next();
    for (int b = 0; b < 64 && i < total; ++b, r >>= 1) out[i++] = (r & 1) ? 1 : -1;
  }
}

namespace {

struct Chains {
  int64_t nodes, count;
  std::vector<int8_t> spins;  // count * nodes, chain after chain
  std::vector<Xoshiro256> rng;
  std::vector<uint64_t> draws;  // scratch: one sweep's random numbers (sized once)
};

// Regular graph of degree D, uniform coupling: dE = 2 J s_i h_i with integer h_i in [-D, D].
// thr[s_i h_i + D] = P(accept) * 2^32 (2^32 = always), compared with 32 random bits.
template <int D>
void sweeps_table(Chains& c, const int32_t* nbr, const uint64_t* thr, int64_t sweeps) {
  const uint64_t n = static_cast<uint64_t>(c.nodes);
  const int64_t K = c.count;
  // Draws for one sweep of every chain, made first (a local generator copy stays in registers,
  // which the int8 spin stores below would otherwise force back to memory), then consumed.
  c.draws.resize(n * K);
  uint64_t* draws = c.draws.data();
  for (int64_t sweep = 0; sweep < sweeps; ++sweep) {
    for (int64_t k = 0; k < K; ++k) {
      Xoshiro256 rng = c.rng[k];
      for (uint64_t a = 0; a < n; ++a) draws[a * K + k] = rng.next();
      c.rng[k] = rng;
    }
    int8_t* spins = c.spins.data();
    for (uint64_t a = 0; a < n; ++a) {
      for (int64_t k = 0; k < K; ++k) {
        int8_t* s = spins + k * c.nodes;
        const uint64_t r = draws[a * K + k];
        const uint64_t i = ((r >> 32) * n) >> 32;
        const int32_t* nb = nbr + i * D;
        int h = 0;
        for (int d = 0; d < D; ++d) h += s[nb[d]];
        const int8_t si = s[i];
        const bool accept = (r & 0xFFFFFFFFull) < thr[si * h + D];
        s[i] = static_cast<int8_t>(si ^ (accept ? 0xFE : 0));
      }
    }
  }
}

// Any graph and couplings: real-valued local field, exp only for uphill moves.
void sweeps_general(Chains& c, const NeighbourTable& t, double beta, int64_t sweeps) {
  const uint64_t n = static_cast<uint64_t>(c.nodes);
  for (int64_t sweep = 0; sweep < sweeps; ++sweep) {
    for (uint64_t a = 0; a < n; ++a) {
      for (int64_t k = 0; k < c.count; ++k) {
        int8_t* s = c.spins.data() + k * c.nodes;
        const uint64_t r = c.rng[k].next();
        const uint64_t i = ((r >> 32) * n) >> 32;
        double h = 0;
        for (int64_t q = t.offsets[i]; q < t.offsets[i + 1]; ++q) h += t.coupling[q] * s[t.index[q]];
        const double de = 2.0 * s[i] * h;
        if (de <= 0 || static_cast<double>(r & 0xFFFFFFFFull) * 0x1.0p-32 < std::exp(-beta * de))
          s[i] = static_cast<int8_t>(-s[i]);
      }
    }
  }
}

using SweepFn = void (*)(Chains&, const int32_t*, const uint64_t*, int64_t);

SweepFn table_kernel(int64_t degree) {
  switch (degree) {
    case 2: return sweeps_table<2>;
    case 3: return sweeps_table<3>;
    case 4: return sweeps_table<4>;
    case 6: return sweeps_table<6>;
    case 8: return sweeps_table<8>;
    default: return nullptr;
  }
}

}  // namespace

Samples sample_metropolis(const Graph& g, const MetropolisOptions& o) {
  const size_t T = o.temperatures.size();
  MAGMADNN_CHECK(T >= 1, "sample_metropolis: no temperatures given");
  for (double t : o.temperatures)
    MAGMADNN_CHECK(std::isfinite(t) && t > 0, "sample_metropolis: temperatures must be finite and > 0, got ", t);
  MAGMADNN_CHECK(o.num_samples >= 0 && o.burn_in_sweeps >= 0 && o.sweeps_between >= 1 && o.chains >= 1,
                 "sample_metropolis: expected num_samples >= 0, burn_in_sweeps >= 0, sweeps_between >= 1, "
                 "chains >= 1; got ", o.num_samples, ", ", o.burn_in_sweeps, ", ", o.sweeps_between, ", ", o.chains);
  MAGMADNN_CHECK(g.num_nodes >= 1, "sample_metropolis: the graph has no nodes");
  const NeighbourTable table = neighbour_table(g);
  double j = 0;
  const bool uniform = g.uniform_coupling(&j);
  const int64_t D = table.max_degree;
  const SweepFn fast = uniform && table.regular ? table_kernel(D) : nullptr;
  const int64_t nodes = g.num_nodes;

  Samples out;
  out.count = o.num_samples;
  out.spins.resize(static_cast<size_t>(o.num_samples * nodes));
  out.energies.resize(o.num_samples);
  out.temperatures.resize(o.num_samples);
  std::vector<int64_t> first(T + 1, 0);  // samples of temperature t: [first[t], first[t+1])
  for (size_t t = 0; t < T; ++t)
    first[t + 1] = first[t] + o.num_samples / static_cast<int64_t>(T) +
                   (static_cast<int64_t>(t) < o.num_samples % static_cast<int64_t>(T) ? 1 : 0);

  const int threads = std::max(1, std::min<int>(o.threads, static_cast<int>(T)));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (size_t t = 0; t < T; ++t) {
    const int64_t begin = first[t], want = first[t + 1] - first[t];
    const double beta = 1.0 / o.temperatures[t];
    uint64_t seed_state = o.seed ^ (0xA24BAED4963EE407ull * (t + 1));
    Chains c;
    c.nodes = nodes;
    c.count = std::max<int64_t>(1, std::min<int64_t>(o.chains, want));
    c.spins.resize(c.count * nodes);
    for (int64_t k = 0; k < c.count; ++k) c.rng.emplace_back(splitmix64(seed_state));
    sample_uniform(g, c.count, splitmix64(seed_state), c.spins.data());
    std::vector<uint64_t> thr(2 * D + 1);
    for (int64_t x = -D; x <= D; ++x) {
      const double p = std::exp(-2.0 * beta * j * static_cast<double>(x));
      thr[x + D] = p >= 1.0 ? (uint64_t(1) << 32) : static_cast<uint64_t>(p * 4294967296.0);
    }
    auto run = [&](int64_t sweeps) {
      if (fast) fast(c, table.index.data(), thr.data(), sweeps);
      else sweeps_general(c, table, beta, sweeps);
    };
    run(o.burn_in_sweeps);
    int64_t made = 0;
    while (made < want) {
      run(o.sweeps_between);
      for (int64_t k = 0; k < c.count && made < want; ++k, ++made) {
        int8_t* dst = out.spins.data() + (begin + made) * nodes;
        std::memcpy(dst, c.spins.data() + k * nodes, nodes);
        out.energies[begin + made] = energy(g, dst);
        out.temperatures[begin + made] = o.temperatures[t];
      }
    }
  }
  return out;
}

std::vector<double> parse_temperatures(const std::string& text) {
  auto number = [&](const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    MAGMADNN_CHECK(!s.empty() && end == s.c_str() + s.size() && std::isfinite(v) && v > 0, "temperatures '", text,
                   "': '", s, "' is not a positive number");
    return v;
  };
  std::vector<double> out;
  if (text.find(':') != std::string::npos) {
    std::vector<std::string> parts;
    size_t pos = 0;
    for (size_t c; (c = text.find(':', pos)) != std::string::npos; pos = c + 1) parts.push_back(text.substr(pos, c - pos));
    parts.push_back(text.substr(pos));
    MAGMADNN_CHECK(parts.size() == 3, "temperatures '", text, "': a range is start:stop:step");
    const double a = number(parts[0]), b = number(parts[1]), step = number(parts[2]);
    MAGMADNN_CHECK(a <= b, "temperatures '", text, "': start ", a, " is above stop ", b);
    const int64_t n = static_cast<int64_t>(std::floor((b - a) / step + 1e-9)) + 1;
    MAGMADNN_CHECK(n <= 100000, "temperatures '", text, "': more than 100000 temperatures");
    for (int64_t i = 0; i < n; ++i) out.push_back(a + static_cast<double>(i) * step);
  } else {
    size_t pos = 0;
    for (;;) {
      const size_t c = text.find(',', pos);
      out.push_back(number(text.substr(pos, c == std::string::npos ? std::string::npos : c - pos)));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  }
  return out;
}

}  // namespace magmadnn::ising
