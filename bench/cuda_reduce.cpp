// Reduction bandwidth on a CUDA device against its measured copy bandwidth (issue 4: sum, mean,
// max over any axes reach at least 80% of copy bandwidth for tensors of 64 MB and more).
//
//   bench_cuda_reduce [--device N] [--reps R] [--mib 64,256,1024]
//
// Copy bandwidth = 2 * bytes / time of a device-to-device tensor copy (it reads and writes every
// byte); reduction bandwidth = bytes / time (it reads every byte once; the output is small). Each
// time is the best of R repetitions, after one warm-up, of 20 calls issued back to back (as in a
// training step), divided by 20, timed on the device's stream by CUDA events
// (cuda::device_seconds): the host's latency to the first launch and from the last kernel to the
// synchronisation is not device time, while any gap between the kernels (host work the device
// waits for) is. The "graph" columns time the same 20 calls captured in a CUDA graph and
// replayed: the kernels alone, with no host work between them (what a --cuda-graph training step
// sees). Prints a Markdown table and the smallest ratios.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "magmadnn/backend/cuda.h"
#include "magmadnn/backend/cuda_graph.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;

namespace {
constexpr int kCalls = 20;

double best_seconds(int device, int reps, const std::function<void()>& fn) {
  fn();  // warm-up (allocations, first launch)
  cuda::synchronize(device);
  double best = 1e30;
  for (int r = 0; r < reps; ++r)
    best = std::min(best, cuda::device_seconds(device, [&] {
                      for (int c = 0; c < kCalls; ++c) fn();
                    }) / kCalls);
  return best;
}
// The same, with the kCalls calls captured once and the graph replayed.
double best_graphed_seconds(int device, int reps, const std::function<void()>& fn) {
  cuda::Graph graph(device);
  graph.capture([&] {
    for (int c = 0; c < kCalls; ++c) fn();
  });
  graph.replay();  // warm-up
  cuda::synchronize(device);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) best = std::min(best, cuda::device_seconds(device, [&] { graph.replay(); }) / kCalls);
  return best;
}
// "64,256": sizes in whole MiB (every one divides into the shapes below).
bool parse_sizes(const std::string& text, std::vector<int64_t>& out) {
  std::vector<int64_t> sizes;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    char* rest = nullptr;
    const long long v = std::strtoll(item.c_str(), &rest, 10);
    if (item.empty() || *rest != '\0' || v <= 0 || v > (int64_t(1) << 20)) return false;
    sizes.push_back(v);
    start = end + 1;
  }
  out = sizes;
  return !out.empty();
}
}  // namespace

int main(int argc, char** argv) {
  int device = 0, reps = 10;
  std::vector<int64_t> sizes_mib = {64, 256, 1024};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    bool ok = true;
    if (a == "--device" && i + 1 < argc) device = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--mib" && i + 1 < argc) ok = parse_sizes(argv[++i], sizes_mib);
    else ok = false;
    if (!ok) {
      std::fprintf(stderr, "usage: %s [--device N] [--reps R] [--mib 64,256,1024]\n", argv[0]);
      return 2;
    }
  }
  if (device >= cuda::device_count()) {
    std::fprintf(stderr, "bench_cuda_reduce: no CUDA device %d (%s)\n", device, cuda::unavailable_reason().c_str());
    return 1;
  }
  try {
    const Device gpu = Device::cuda(device);
    std::printf("device: %s\n", cuda::device_properties(device).name.c_str());
    std::printf("| elements (fp32) | MiB | reduction | GB/s | graph GB/s | copy GB/s | ratio | graph ratio |\n"
                "|---|---|---|---|---|---|---|---|\n");
    double worst = 1e30, worst_graphed = 1e30;
    for (const int64_t mib : sizes_mib) {
      const int64_t n = mib * (int64_t(1) << 20) / 4;
      const double bytes = static_cast<double>(n) * 4;
      const Tensor x = randn({n}).to(gpu);
      Tensor y = Tensor::empty({n}, kFloat32, gpu);
      const double copy_gbs = 2 * bytes / best_seconds(device, reps, [&] { y.copy_(x); }) / 1e9;
      Tensor out;
      const Tensor rows = x.reshape({n / 1024, 1024}), cols = x.reshape({n / 1024, 1024});
      const Tensor wide = x.reshape({64, n / 64}), cube = x.reshape({256, n / (256 * 64), 64});
      const std::vector<std::pair<std::string, std::function<void()>>> cases = {
          {"sum (all)", [&] { out = sum(x); }},
          {"mean (all)", [&] { out = mean(x); }},
          {"max (all)", [&] { out = max(x); }},
          {"sum rows (N/1024, 1024) dim 1", [&] { out = sum(rows, {1}); }},
          {"sum cols (N/1024, 1024) dim 0", [&] { out = sum(cols, {0}); }},
          {"mean (64, N/64) dim 1", [&] { out = mean(wide, {1}); }},
          {"max (256, M, 64) dim 1", [&] { out = max(cube, {1}); }},
          {"sum (256, M, 64) dims 0,2", [&] { out = sum(cube, {0, 2}); }},
      };
      for (const auto& [name, fn] : cases) {
        const double gbs = bytes / best_seconds(device, reps, fn) / 1e9;
        const double graphed = bytes / best_graphed_seconds(device, reps, fn) / 1e9;
        worst = std::min(worst, gbs / copy_gbs);
        worst_graphed = std::min(worst_graphed, graphed / copy_gbs);
        std::printf("| %lld | %lld | %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", static_cast<long long>(n),
                    static_cast<long long>(mib), name.c_str(), gbs, graphed, copy_gbs, gbs / copy_gbs,
                    graphed / copy_gbs);
      }
    }
    std::printf("smallest ratio of reduction to copy bandwidth: %.2f (target 0.80)\n", worst);
    std::printf("smallest ratio with the calls replayed from a CUDA graph: %.2f\n", worst_graphed);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_reduce: %s\n", e.what());
    return 1;
  }
}
