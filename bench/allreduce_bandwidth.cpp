// All-reduce bandwidth against message size through magmadnn::dist (the MPI backend under
// mpirun): mpirun -np N build/bench/bench_allreduce_bandwidth [max_bytes] [iterations] [repeats].
// Prints per size the time per all-reduce (mean over the iterations of one timed block, mean over
// ranks, best of `repeats` blocks: the minimum filters out other processes on shared cores),
// algorithm bandwidth S/t and bus bandwidth 2(n-1)/n * S/t (the ring model's per-link figure), in GB/s.
// bench/allreduce_fit.py fits the ring model to this output.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "magmadnn/magmadnn.h"

using namespace magmadnn;

int main(int argc, char** argv) {
  const size_t max_bytes = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : size_t(256) << 20;
  const int base_iters = argc > 2 ? std::atoi(argv[2]) : 20;
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  auto pg = dist::init_process_group("auto");
  const int n = pg->size();
  if (pg->rank() == 0)
    std::printf("all-reduce (%s, %d ranks)\n%12s %12s %12s %12s\n", pg->backend().c_str(), n, "bytes",
                "time_us", "algbw_GB/s", "busbw_GB/s");
  for (size_t bytes = 4096; bytes <= max_bytes; bytes *= 4) {
    Tensor t = ones({int64_t(bytes / sizeof(float))});
    // Fewer repetitions for large messages so the whole sweep stays short.
    const int iters = std::max(2, int(base_iters * std::min<double>(1.0, double(1 << 20) / double(bytes))));
    pg->all_reduce(t);  // warm-up (connection setup, page faults)
    double s = 0.0;
    for (int r = 0; r < repeats; ++r) {
      pg->barrier();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) pg->all_reduce(t);
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
      Tensor mean = from_vector<double>({sec});
      pg->all_reduce(mean);  // the mean over ranks
      const double block = mean.to_vector<double>()[0] / n;
      s = r == 0 ? block : std::min(s, block);
    }
    const double algbw = double(bytes) / s / 1e9;
    if (pg->rank() == 0)
      std::printf("%12zu %12.1f %12.3f %12.3f\n", bytes, s * 1e6, algbw,
                  n > 1 ? algbw * 2.0 * (n - 1) / n : algbw);
  }
  pg.reset();
  dist::finalize();
  return 0;
}
