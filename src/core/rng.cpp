// The default generator; see core/rng.h.
#include "magmadnn/core/rng.h"

#include <sstream>

#include "magmadnn/core/error.h"

namespace magmadnn {

// SplitMix64's finaliser: neighbouring seeds give unrelated keys.
uint64_t Generator::philox_key() const {
  uint64_t z = seed_ + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// "mt19937_64 <seed> <engine words...> philox <offset>": the standard library's textual engine
// form (portable across implementations) behind a tag and the initial seed, then the fills'
// offset. States saved before the offset existed (no "philox" part) restore it as 0.
std::string Generator::state() const {
  std::ostringstream os;
  os << "mt19937_64 " << seed_ << " " << engine_ << " philox " << philox_offset_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::string tag;
  uint64_t seed = 0;
  std::mt19937_64 engine;
  is >> tag >> seed >> engine;
  bool ok = tag == "mt19937_64" && !is.fail();
  uint64_t offset = 0;
  std::string philox_tag;
  if (ok && is >> philox_tag) ok = philox_tag == "philox" && (is >> offset) && (is >> std::ws).eof();
  MAGMADNN_CHECK(ok, "Generator::set_state: not a generator state (", state.size(), " bytes starting '",
                 state.substr(0, 16), "')");
  engine_ = engine;
  seed_ = seed;
  philox_offset_ = offset;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace magmadnn
