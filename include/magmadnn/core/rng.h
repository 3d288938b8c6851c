// Random number generation. manual_seed(s) seeds the default generator that every initialiser,
// random tensor, dropout mask and data-loader shuffle draws from, so runs are reproducible.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace magmadnn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 5489u) : engine_(seed), seed_(seed) {}
  void manual_seed(uint64_t seed) { engine_.seed(seed); seed_ = seed; }
  uint64_t initial_seed() const { return seed_; }
  std::mt19937_64& engine() { return engine_; }
  uint64_t next_u64() { return engine_(); }
  // Uniform double in [0, 1).
  double next_double() { return (engine_() >> 11) * (1.0 / 9007199254740992.0); }
  // The whole engine state (and the initial seed) as text, for training checkpoints: after
  // set_state(state()) the generator draws exactly what it would have drawn. set_state throws an
  // Error on text that state() did not produce, leaving the generator unchanged.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace magmadnn
