// The default generator; see core/rng.h.
#include "magmadnn/core/rng.h"

#include <sstream>

#include "magmadnn/core/error.h"

namespace magmadnn {

// "mt19937_64 <seed> <engine words...>": the standard library's textual engine form (portable
// across implementations) behind a tag and the initial seed.
std::string Generator::state() const {
  std::ostringstream os;
  os << "mt19937_64 " << seed_ << " " << engine_;
  return os.str();
}

void Generator::set_state(const std::string& state) {
  std::istringstream is(state);
  std::string tag;
  uint64_t seed = 0;
  std::mt19937_64 engine;
  is >> tag >> seed >> engine;
  MAGMADNN_CHECK(tag == "mt19937_64" && !is.fail(), "Generator::set_state: not a generator state (",
                 state.size(), " bytes starting '", state.substr(0, 16), "')");
  engine_ = engine;
  seed_ = seed;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace magmadnn
