// Metropolis sampler throughput: decorrelated 8x8 (default) square-lattice samples per second
// on one thread, 10 sweeps between samples, for 1, 2, 4 and 8 interleaved chains per temperature.
// Prints wall-clock and CPU-time rates (the second is steadier on a shared machine).
// Usage: bench_ising_sampler [L] [samples] [sweeps_between]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "magmadnn/ising/sampler.h"

int main(int argc, char** argv) {
  using namespace magmadnn::ising;
  const int64_t L = argc > 1 ? std::atoll(argv[1]) : 8;
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 400000;
  const int64_t between = argc > 3 ? std::atoll(argv[3]) : 10;
  const Graph g = square_lattice(L);
  std::printf("square %lldx%lld, %lld samples over T = 1.0:5.0:0.5, %lld sweeps between samples, 1 thread\n",
              (long long)L, (long long)L, (long long)n, (long long)between);
  for (int64_t chains : {1, 2, 4, 8}) {
    MetropolisOptions o;
    o.temperatures = parse_temperatures("1.0:5.0:0.5");
    o.num_samples = n;
    o.burn_in_sweeps = 100;
    o.sweeps_between = between;
    o.chains = chains;
    o.seed = 1;
    o.threads = 1;
    timespec c0{}, c1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    const auto t0 = std::chrono::steady_clock::now();
    const Samples s = sample_metropolis(g, o);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    const double cpu = double(c1.tv_sec - c0.tv_sec) + 1e-9 * double(c1.tv_nsec - c0.tv_nsec);
    const double attempts = double(n) * between * L * L;  // burn-in not counted
    std::printf("chains %2lld: %9.0f samples/s wall, %9.0f per CPU second  %6.1f M flip attempts/s wall  (%.2f s, mean E %.3f)\n",
                (long long)chains, n / sec, n / cpu, attempts / sec / 1e6, sec,
                [&] { double m = 0; for (double e : s.energies) m += e; return m / s.count; }());
  }
}
