// Spin samplers for the Ising model: uniform random configurations, and single-spin-flip
// Metropolis at a list of temperatures (burn-in, then decorrelation sweeps between samples),
// built for speed: xoshiro256** draws, acceptance tables for integer local fields, no
// allocation in the sweep loop, several chains interleaved per temperature.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/ising/lattice.h"

namespace magmadnn::ising {

// splitmix64 step: seeds generators and derives independent per-chain seeds.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman & Vigna): fast, 256-bit state, seeded through splitmix64.
class Xoshiro256 {
 public:
  explicit Xoshiro256(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// n configurations of g.num_nodes independent uniform +1/-1 spins, written to out (n * nodes).
void sample_uniform(const Graph& g, int64_t n, uint64_t seed, int8_t* out);

struct MetropolisOptions {
  std::vector<double> temperatures;  // each > 0; samples are split evenly (remainder to the first)
  int64_t num_samples = 0;           // in all, over every temperature
  int64_t burn_in_sweeps = 1000;     // sweeps before the first sample of each chain
  int64_t sweeps_between = 10;       // sweeps between two samples of one chain
  int64_t chains = 4;                // independent chains per temperature, interleaved for speed
  uint64_t seed = 0;
  int threads = 1;                   // temperatures run in parallel on this many threads
};

// Sampled configurations in temperature order, with exact energies and each sample's temperature.
struct Samples {
  int64_t count = 0;
  std::vector<int8_t> spins;  // count * num_nodes
  std::vector<double> energies;
  std::vector<double> temperatures;
};

// Metropolis single-spin-flip: a sweep is num_nodes attempts at uniformly random sites (so
// detailed balance holds exactly); a flip with energy change dE is accepted with probability
// min(1, exp(-dE / T)). Chains start from uniform random spins. Deterministic for a seed,
// independent of `threads`.
Samples sample_metropolis(const Graph& g, const MetropolisOptions& options);

// Temperatures from "1.0,2.269,3.5" or a range "start:stop:step" (stop included when it lies on
// the grid). Bad text throws an Error quoting it.
std::vector<double> parse_temperatures(const std::string& text);

}  // namespace magmadnn::ising
