// Random number generation. manual_seed(s) seeds the default generator that every initialiser,
// random tensor, dropout mask and data-loader shuffle draws from, so runs are reproducible.
// A Generator has two sources: a Mersenne Twister for the host's sequential draws (shuffles,
// randint, randperm) and a Philox key and offset for tensor fills (rand, randn, uniform, normal,
// bernoulli, dropout), which every backend computes the same way in parallel (backend/philox.h):
// the same seed gives the same weights and masks on the CPU, on a GPU and inside CUDA graphs.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace magmadnn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 5489u) : engine_(seed), seed_(seed) {}
  void manual_seed(uint64_t seed) {
    engine_.seed(seed);
    seed_ = seed;
    philox_offset_ = 0;
  }
  uint64_t initial_seed() const { return seed_; }
  std::mt19937_64& engine() { return engine_; }
  uint64_t next_u64() { return engine_(); }
  // Uniform double in [0, 1).
  double next_double() { return (engine_() >> 11) * (1.0 / 9007199254740992.0); }
  // Tensor fills: the Philox key (a mix of the seed) and `n` offsets, one per fill, starting at
  // the returned one. A CUDA graph that captured k fills takes k at each replay.
  uint64_t philox_key() const;
  uint64_t philox_offset() const { return philox_offset_; }
  uint64_t take_philox_offsets(uint64_t n) {
    const uint64_t first = philox_offset_;
    philox_offset_ += n;
    return first;
  }
  // The whole engine state (and the initial seed) as text, for training checkpoints: after
  // set_state(state()) the generator draws exactly what it would have drawn. set_state throws an
  // Error on text that state() did not produce, leaving the generator unchanged.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
  uint64_t philox_offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace magmadnn
