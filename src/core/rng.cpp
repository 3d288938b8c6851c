// The default generator; see core/rng.h.
#include "magmadnn/core/rng.h"

namespace magmadnn {

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace magmadnn
