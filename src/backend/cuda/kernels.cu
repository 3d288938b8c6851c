// CUDA kernels beyond elementwise maps: reductions (sum/mean/max/min as (outer, R, inner), the
// CPU backend's form), argmax, softmax/log_softmax forward and backward, fused cross-entropy
// forward and backward, and the fused optimizer updates (SGD, Adam/AdamW, Adagrad, RMSprop) with
// PyTorch's formulas, mirroring src/backend/cpu/{reduce,softmax}.cpp line by line (the optimizer
// formulas are shared with the CPU in backend/optim_update.h; lists of tensors: optim_multi.cu).
// Reductions were tuned on an H200 (bench/RESULTS.md); argmax, softmax and cross-entropy are
// straightforward (one thread per output row) and small next to a training step's convolutions.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"
#include "backend/cuda/device_errors.h"
#include "backend/optim_update.h"

namespace magmadnn::cuda {

int multiprocessors() {  // of the current device, asked once per device (cuda_backend.h)
  static std::atomic<int> count[64] = {};
  const int d = current_device();
  if (d < 64 && count[d].load(std::memory_order_relaxed) > 0) return count[d].load(std::memory_order_relaxed);
  int n = 0;
  MAGMADNN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d));
  if (d < 64) count[d].store(n, std::memory_order_relaxed);
  return n;
}

int blocks_per_multiprocessor(const void* kernel) {
  static std::mutex mutex;
  static std::unordered_map<const void*, int> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(kernel);
  if (it != cache.end()) return it->second;
  // A kernel first met inside a graph capture gets full occupancy's count, uncached: the capture
  // should contain nothing but its work (an eager call later asks the calculator).
  if (stream_is_capturing()) return 2048 / kThreads;
  int n = 0;
  MAGMADNN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, 0));
  return cache[kernel] = std::max(n, 1);
}

namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// ------------------------------------------------------------------------------ reductions

enum class Combine { Sum, Max, Min };

template <Combine C, typename A>
__device__ __forceinline__ A combine(A a, A b) {
  if constexpr (C == Combine::Sum) return a + b;
  else if constexpr (C == Combine::Max) return (a > b || a != a) ? a : b;  // NaN wins, as on the CPU
  else return (a < b || a != a) ? a : b;
}

// Reductions read each element once, so they are limited by memory bandwidth: enough loads
// must be in flight to saturate it whatever the shape. Three kernels over (outer, R, inner):
//  - short rows (inner == 1, R small, or rows enough to fill the GPU): a group of G lanes
//    (G a power of two <= 32) per row, reducing by warp shuffles;
//  - long rows (inner == 1, few rows): R cut into S segments per row, a block per segment,
//    partials in the accumulator type, combined by the last block of the row to finish;
//  - columns (inner > 1): a block per tile of adjacent columns, R cut into S segments when there
//    are too few tiles, partials combined by the last block of the tile to finish; optionally
//    folding each L adjacent columns into one output by warp shuffles (a second, trailing run of
//    reduced axes, as in a batch norm's (N, C, H, W) over {0, 2, 3}).
// (So a reduction is one launch; two when a capture meets them before the arrival counters
// exist.) Each has a 4-wide form (16-byte loads) used when every row or column group is 4-aligned.
// Grids are sized to one wave of resident blocks (the occupancy calculator's count) or less:
// a few blocks past a wave would take as long as a second wave. They are launched with
// programmatic dependent launch (Hopper): a reduction's blocks are scheduled while the kernel
// before it drains, and wait (pdl_wait) for its completion before touching memory, which hides
// the launch latency between back-to-back kernels (MAGMADNN_CUDA_PDL=0 turns it off).

__device__ __forceinline__ void pdl_wait() {  // no-op in a kernel launched without the attribute
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_allow_successor() {  // its loads are issued: the next may be scheduled
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

bool pdl_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("MAGMADNN_CUDA_PDL");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return on;
}

// Launches a reduction kernel on the device's stream, with programmatic dependent launch unless
// it is turned off or the stream is being captured (graph replay has no launch latency to hide).
template <typename... Params, typename... Args>
void launch_reduction(void (*kernel)(Params...), dim3 grid, Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = dim3(kThreads);
  config.stream = stream();
  cudaLaunchAttribute attribute[1] = {};
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = pdl_enabled() && !stream_is_capturing() ? 1 : 0;
  MAGMADNN_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...));
}

// W consecutive partials written by other blocks of this launch, read past L1 (__ldcg): 16-byte
// loads when W == 4 (the partial rows are 4-aligned then).
template <int W, typename A>
__device__ __forceinline__ Vec4<A> load_partials(const A* p) {
  Vec4<A> r;
  if constexpr (W == 4 && sizeof(A) == 4) {
    const float4 f = __ldcg(reinterpret_cast<const float4*>(p));
    r.v[0] = f.x, r.v[1] = f.y, r.v[2] = f.z, r.v[3] = f.w;
  } else if constexpr (W == 4) {
    const double2 a = __ldcg(reinterpret_cast<const double2*>(p)), b = __ldcg(reinterpret_cast<const double2*>(p) + 1);
    r.v[0] = a.x, r.v[1] = a.y, r.v[2] = b.x, r.v[3] = b.y;
  } else {
    r.v[0] = __ldcg(p);
  }
  return r;
}

// Loads elements i .. i+W-1 of p and folds them into acc.
template <Combine C, int W, typename In, typename A>
__device__ __forceinline__ A fold(A acc, const In* p) {
  if constexpr (W == 4) {
    const Vec4<In> v = load4(p);
    return combine<C>(combine<C>(acc, static_cast<A>(v.v[0])),
                      combine<C>(combine<C>(static_cast<A>(v.v[1]), static_cast<A>(v.v[2])), static_cast<A>(v.v[3])));
  } else {
    return combine<C>(acc, static_cast<A>(*p));
  }
}

template <Combine C, typename A>
__device__ __forceinline__ A group_combine(A a, int G) {  // over the G lanes of a group, in every lane
  for (int o = G / 2; o > 0; o /= 2) a = combine<C>(a, __shfl_xor_sync(0xffffffffu, a, o));
  return a;
}

// Short rows: group g of G lanes reduces rows g, g + groups, ...; lane l of a group reads
// elements (or W-vectors) l, l + G, ... of its row. Loop bounds are uniform over a warp, so
// every lane takes part in the shuffles.
template <typename In, typename A, typename Out, Combine C, int W>
__global__ void reduce_short_rows_kernel(const In* x, Out* out, int64_t rows, int64_t R, int G, A init, A scale) {
  const int64_t per_warp = 32 / G, warps = int64_t(gridDim.x) * (blockDim.x / 32);
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32, member = lane % G;
  const int64_t vectors = R / W;
  pdl_wait();
  for (int64_t base = warp * per_warp; base < rows; base += warps * per_warp) {
    const int64_t row = base + lane / G;
    A a0 = init, a1 = init;
    if (row < rows) {
      const In* p = x + row * R;
      int64_t v = member;
      for (; v + G < vectors; v += 2 * G) {
        a0 = fold<C, W>(a0, p + v * W);
        a1 = fold<C, W>(a1, p + (v + G) * W);
      }
      if (v < vectors) a0 = fold<C, W>(a0, p + v * W);
    }
    const A total = group_combine<C>(combine<C>(a0, a1), G);
    if (row < rows && member == 0) out[row] = static_cast<Out>(total * scale);
  }
  pdl_allow_successor();
}

// Combines v over the block into thread 0's return value (other threads: unspecified);
// `shared` holds kThreads / 32 values. Every thread must call it.
template <Combine C, typename A>
__device__ __forceinline__ A block_combine(A v, A* shared) {
  v = group_combine<C>(v, 32);
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0)
    for (int w = 1; w < kThreads / 32; ++w) v = combine<C>(v, shared[w]);
  return v;
}

// Long rows: block b reduces segment b % S of row b / S (chunk elements, a multiple of W), two
// vectors per thread per step, into partial[b]. With S == 1 that is the row's result. Otherwise,
// with arrival counters (one per row, zero on entry), the last block of a row to finish combines
// the row's S partials and resets the counter: one launch in all. Without counters (a capture
// before they exist) the caller combines the partials in a second launch.
template <typename In, typename A, typename Out, Combine C, int W>
__global__ void reduce_long_rows_kernel(const In* x, Out* out, A* partial, unsigned* counters, int64_t rows, int64_t R,
                                        int64_t S, int64_t chunk, A init, A scale) {
  __shared__ A shared[kThreads / 32];
  __shared__ bool last;
  pdl_wait();
  for (int64_t b = blockIdx.x; b < rows * S; b += gridDim.x) {
    const int64_t o = b / S, seg = b % S;
    const int64_t begin = seg * chunk, end = begin + chunk < R ? begin + chunk : R;
    const In* row = x + o * R;
    A a0 = init, a1 = init;
    int64_t r = begin + int64_t(threadIdx.x) * W;
    const int64_t step = int64_t(blockDim.x) * W;
    for (; r + step + W <= end; r += 2 * step) {
      a0 = fold<C, W>(a0, row + r);
      a1 = fold<C, W>(a1, row + r + step);
    }
    for (; r + W <= end; r += step) a0 = fold<C, W>(a0, row + r);
    pdl_allow_successor();
    const A a = block_combine<C>(combine<C>(a0, a1), shared);
    if (threadIdx.x == 0) {
      if (S == 1) {
        out[o] = static_cast<Out>(a * scale);
        last = false;
      } else {
        partial[b] = a;
        last = false;
        if (counters) {
          __threadfence();  // the partial is visible to every block before the arrival is counted
          last = atomicAdd(counters + o, 1u) == static_cast<unsigned>(S - 1);
        }
      }
    }
    __syncthreads();
    if (last) {
      A t = init;
      for (int64_t s = threadIdx.x; s < S; s += blockDim.x) t = combine<C>(t, __ldcg(partial + o * S + s));
      t = block_combine<C>(t, shared);
      if (threadIdx.x == 0) {
        out[o] = static_cast<Out>(t * scale);
        counters[o] = 0;
      }
    }
    __syncthreads();
  }
}

// Columns (inner > 1): a block covers a tile of 32 column groups of W adjacent columns (group j
// = columns j*W .. j*W+W-1 of the (outer * inner) outputs) over segment blockIdx.y of R. Its
// threads are 8 row lanes x 32 groups: a warp reads one row of the tile (32 * W consecutive
// elements), row lane y takes rows y, y + 8, ... of the segment, and the 8 lanes' sums are then
// combined in shared memory. With S == 1 segment that is the result. Otherwise the tile's
// partials go to partial (S, n); with arrival counters (one per tile, zero on entry) the last
// block of a tile to finish combines its S partials (again over 8 row lanes) and resets the
// counter: one launch. Without counters the caller combines the partials in a second launch.
// With L > 1, each L adjacent columns (L / W lanes of warp 0) fold into one output, out[column / L].
constexpr int kColGroups = 32, kRowLanes = kThreads / kColGroups;

// Writes column group j's W values (lane j % 32 of warp 0; every lane of the warp calls it):
// out[j * W + k], or with L > 1 one output per L adjacent columns, combined over their L / W
// lanes by shuffles.
template <Combine C, int W, typename A, typename Out>
__device__ __forceinline__ void write_columns(const A (&acc)[W], Out* out, int64_t j, bool valid, int L, A scale) {
  if (L == 1) {
    if (valid)
#pragma unroll
      for (int k = 0; k < W; ++k) out[j * W + k] = static_cast<Out>(acc[k] * scale);
    return;
  }
  A v = acc[0];
#pragma unroll
  for (int k = 1; k < W; ++k) v = combine<C>(v, acc[k]);
  const int lanes = L / W;
  v = group_combine<C>(v, lanes);
  if (valid && j % lanes == 0) out[j * W / L] = static_cast<Out>(v * scale);
}

template <typename In, typename A, typename Out, Combine C, int W>
__global__ void __launch_bounds__(kThreads, 4)  // <= 64 registers: 4 blocks per multiprocessor
    reduce_cols_kernel(const In* x, Out* out, A* partial, unsigned* counters, int64_t outer, int64_t R, int64_t inner,
                       int L, A init, A scale) {
  __shared__ A shared[kRowLanes][kColGroups * W];
  __shared__ bool last;
  const int64_t S = gridDim.y, seg = blockIdx.y, chunk = (R + S - 1) / S, n = outer * inner, groups = n / W;
  const int64_t begin = seg * chunk, end = begin + chunk < R ? begin + chunk : R;
  const int ly = threadIdx.x / kColGroups, lx = threadIdx.x % kColGroups;
  const int64_t tiles = (groups + kColGroups - 1) / kColGroups;
  pdl_wait();
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t j = tile * kColGroups + lx;
    const bool valid = j < groups;
    A acc[W];
#pragma unroll
    for (int k = 0; k < W; ++k) acc[k] = init;
    if (valid) {
      const int64_t o = j / (inner / W), i = (j % (inner / W)) * W;
      const In* p = x + o * R * inner + i;
#pragma unroll 4
      for (int64_t r = begin + ly; r < end; r += kRowLanes) {
        if constexpr (W == 4) {
          const Vec4<In> v = load4(p + r * inner);
#pragma unroll
          for (int k = 0; k < 4; ++k) acc[k] = combine<C>(acc[k], static_cast<A>(v.v[k]));
        } else {
          acc[0] = combine<C>(acc[0], static_cast<A>(p[r * inner]));
        }
      }
    }
    pdl_allow_successor();
    // Combine the row lanes: lane 0 of each column group ends with the tile segment's value.
#pragma unroll
    for (int k = 0; k < W; ++k) shared[ly][lx * W + k] = acc[k];
    __syncthreads();
    if (ly == 0) {  // warp 0, whole: write_columns shuffles
      for (int y = 1; y < kRowLanes; ++y)
#pragma unroll
        for (int k = 0; k < W; ++k) acc[k] = combine<C>(acc[k], shared[y][lx * W + k]);
      if (S == 1) {
        write_columns<C, W>(acc, out, j, valid, L, scale);
      } else if (valid) {
#pragma unroll
        for (int k = 0; k < W; ++k) partial[seg * n + j * W + k] = acc[k];
        __threadfence();  // visible to every block before the arrival is counted
      }
    }
    __syncthreads();
    if (S == 1 || !counters) continue;
    if (threadIdx.x == 0) last = atomicAdd(counters + tile, 1u) == static_cast<unsigned>(S - 1);
    __syncthreads();
    if (!last) continue;
    // The last block of this tile: the S partials of its columns, over the 8 row lanes.
#pragma unroll
    for (int k = 0; k < W; ++k) acc[k] = init;
    // (On the critical path after every other block: up to 8 rows' 16-byte loads in flight.)
    if (valid) {
      const A* column = partial + j * W;
#pragma unroll 8
      for (int64_t s = ly; s < S; s += kRowLanes) {
        const Vec4<A> v = load_partials<W>(column + s * n);
#pragma unroll
        for (int k = 0; k < W; ++k) acc[k] = combine<C>(acc[k], v.v[k]);
      }
    }
#pragma unroll
    for (int k = 0; k < W; ++k) shared[ly][lx * W + k] = acc[k];
    __syncthreads();
    if (ly == 0) {  // invalid lanes hold init
      for (int y = 1; y < kRowLanes; ++y)
#pragma unroll
        for (int k = 0; k < W; ++k) acc[k] = combine<C>(acc[k], shared[y][lx * W + k]);
      write_columns<C, W>(acc, out, j, valid, L, scale);
    }
    if (threadIdx.x == 0) counters[tile] = 0;
    __syncthreads();
  }
}

template <typename A>
constexpr DType dtype_of() {
  return std::is_same_v<A, double> ? kFloat64 : kFloat32;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

int64_t wave_of(const void* kernel) { return int64_t(multiprocessors()) * blocks_per_multiprocessor(kernel); }

template <typename In, typename A, typename Out, Combine C>
void launch_rows(const In* x, Out* out, int64_t rows, int64_t R, A init, A scale) {
  const bool wide = R % 4 == 0 && aligned16(x);
  const auto grid = [](int64_t blocks) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65535 * 8))); };
  const void* short_kernel = wide ? reinterpret_cast<const void*>(reduce_short_rows_kernel<In, A, Out, C, 4>)
                                  : reinterpret_cast<const void*>(reduce_short_rows_kernel<In, A, Out, C, 1>);
  const int64_t wave = wave_of(short_kernel);
  if (R <= 4096 || rows >= wave * 8) {
    const int64_t per_lane = wide ? R / 4 : R;
    int G = 1;
    while (G < 32 && G * 4 < per_lane) G *= 2;  // about 4+ loads per lane, at most a warp per row
    const int64_t warps = (rows * G + 31) / 32;
    // Enough blocks for every row's group, at most four waves (the loop strides over the rest).
    const int64_t blocks = std::min<int64_t>((warps + kThreads / 32 - 1) / (kThreads / 32), wave * 4);
    if (wide)
      launch_reduction(reduce_short_rows_kernel<In, A, Out, C, 4>, grid(blocks), x, out, rows, R, G, init, scale);
    else
      launch_reduction(reduce_short_rows_kernel<In, A, Out, C, 1>, grid(blocks), x, out, rows, R, G, init, scale);
    return;
  }
  // Long rows, few of them: S segments per row, S * rows about one wave (at least 32 vectors a
  // thread), in one launch where arrival counters exist.
  const void* kernel = wide ? reinterpret_cast<const void*>(reduce_long_rows_kernel<In, A, Out, C, 4>)
                            : reinterpret_cast<const void*>(reduce_long_rows_kernel<In, A, Out, C, 1>);
  int64_t S = std::max<int64_t>(1, wave_of(kernel) / rows);
  S = std::max<int64_t>(1, std::min<int64_t>(S, R / (kThreads * 32)));
  int64_t chunk = (R + S - 1) / S;
  chunk = (chunk + 3) / 4 * 4;  // whole vectors per segment
  S = (R + chunk - 1) / chunk;
  Tensor partial;
  A* p = nullptr;
  unsigned* counters = nullptr;
  if (S > 1) {
    partial = Tensor::empty(Shape{rows * S}, dtype_of<A>(), Device::cuda(current_device()));
    p = static_cast<A*>(partial.raw_data());
    if (rows <= kArrivalCounters) counters = arrival_counters();
  }
  if (wide)
    launch_reduction(reduce_long_rows_kernel<In, A, Out, C, 4>, grid(rows * S), x, out, p, counters, rows, R, S, chunk,
                     init, scale);
  else
    launch_reduction(reduce_long_rows_kernel<In, A, Out, C, 1>, grid(rows * S), x, out, p, counters, rows, R, S, chunk,
                     init, scale);
  if (S > 1 && !counters) launch_rows<A, A, Out, C>(p, out, rows, S, init, scale);  // pass 2: rows of S partials
  // partial goes back to the cache; stream order keeps it alive for the kernels above
}

// Whether the column kernel can fold each L adjacent columns of x's rows of `inner` into one
// output (L / W lanes of a warp, W as launch_cols picks it).
bool columns_fold(int64_t L, int64_t inner, const void* x) {
  if (L < 2 || (L & (L - 1)) != 0 || inner % L != 0) return false;
  const bool wide = inner % 4 == 0 && aligned16(x) && L % 4 == 0;
  return L <= (wide ? 4 : 1) * kColGroups;
}

// Reduces x, (outer, R, inner), over R into out (outer * inner / L): with L > 1, also over each
// L adjacent columns (columns_fold(L, inner, x) must hold).
template <typename In, typename A, typename Out, Combine C>
void launch_cols(const In* x, Out* out, int64_t outer, int64_t R, int64_t inner, int64_t L, A init, A scale) {
  const bool wide = inner % 4 == 0 && aligned16(x) && (L == 1 || L % 4 == 0);
  MAGMADNN_CHECK(L == 1 || columns_fold(L, inner, x), "reduce: cannot fold ", L, " columns of ", inner);
  const int64_t W = wide ? 4 : 1, tiles = (outer * inner / W + kColGroups - 1) / kColGroups;
  // Segments: tiles * S about one wave of blocks, at least 4 rows per row lane each.
  const void* kernel = wide ? reinterpret_cast<const void*>(reduce_cols_kernel<In, A, Out, C, 4>)
                            : reinterpret_cast<const void*>(reduce_cols_kernel<In, A, Out, C, 1>);
  int64_t S = std::max<int64_t>(1, wave_of(kernel) / tiles);
  S = std::max<int64_t>(1, std::min<int64_t>({S, R / (4 * kRowLanes), 65535}));
  const unsigned bx = static_cast<unsigned>(std::min<int64_t>(tiles, INT32_MAX));
  const dim3 g(bx, static_cast<unsigned>(S));
  Tensor partial;
  A* p = nullptr;
  unsigned* counters = nullptr;
  if (S > 1) {
    partial = Tensor::empty(Shape{S * outer * inner}, dtype_of<A>(), Device::cuda(current_device()));
    p = static_cast<A*>(partial.raw_data());
    if (tiles <= kArrivalCounters) counters = arrival_counters();
  }
  const int Li = static_cast<int>(L);
  if (wide)
    launch_reduction(reduce_cols_kernel<In, A, Out, C, 4>, g, x, out, p, counters, outer, R, inner, Li, init, scale);
  else
    launch_reduction(reduce_cols_kernel<In, A, Out, C, 1>, g, x, out, p, counters, outer, R, inner, Li, init, scale);
  if (S > 1 && !counters) launch_cols<A, A, Out, C>(p, out, 1, S, outer * inner, L, init, scale);  // pass 2: over S
}

// (outer, R, inner) over R, and with L > 1 over each L adjacent columns too (inner > 1).
template <typename T, typename A, Combine C>
void launch_reduce(const T* x, T* out, int64_t outer, int64_t R, int64_t inner, int64_t L, A init, double scale_d) {
  const A scale = static_cast<A>(scale_d);
  if (inner == 1) launch_rows<T, A, T, C>(x, out, outer, R, init, scale);
  else launch_cols<T, A, T, C>(x, out, outer, R, inner, L, init, scale);
}

template <typename T>
__global__ void argmax_kernel(const T* x, int64_t* out, int64_t outer, int64_t R, int64_t inner) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* p = x + o * R * inner + i;
    int64_t best = 0;
    for (int64_t r = 1; r < R; ++r)
      if (p[r * inner] > p[best * inner]) best = r;
    out[j] = best;
  }
}

// ------------------------------------------------------------------------------ softmax

template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* xr = x + o * C * inner + i;
    T* yr = y + o * C * inner + i;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < C; ++c) m = m > xr[c * inner] ? m : xr[c * inner];
    T s = 0;
    for (int64_t c = 0; c < C; ++c) s += dm::exp(xr[c * inner] - m);
    if (log) {
      const T lse = m + dm::log(s);
      for (int64_t c = 0; c < C; ++c) yr[c * inner] = xr[c * inner] - lse;
    } else {
      const T inv = T(1) / s;
      for (int64_t c = 0; c < C; ++c) yr[c * inner] = dm::exp(xr[c * inner] - m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* g, T* gx, int64_t outer, int64_t C, int64_t inner,
                                        bool log) {
  GRID_STRIDE(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const int64_t base = o * C * inner + i;
    T s = 0;
    if (log) {  // gx = g - exp(y) * sum(g)
      for (int64_t c = 0; c < C; ++c) s += g[base + c * inner];
      for (int64_t c = 0; c < C; ++c) gx[base + c * inner] = g[base + c * inner] - dm::exp(y[base + c * inner]) * s;
    } else {  // gx = y * (g - sum(g * y))
      for (int64_t c = 0; c < C; ++c) s += g[base + c * inner] * y[base + c * inner];
      for (int64_t c = 0; c < C; ++c) gx[base + c * inner] = y[base + c * inner] * (g[base + c * inner] - s);
    }
  }
}

// ------------------------------------------------------------------------------ cross-entropy

// One block: per-sample losses (Reduction::None) or their (weighted) sum/mean; a label outside
// [0, C) is skipped and reported as a deferred device error.
template <typename T>
__global__ void cross_entropy_kernel(const T* lp, const int64_t* t, const T* w, int64_t N, int64_t C,
                                     Reduction reduction, T* out, DeviceErrorSink bad) {
  __shared__ double tot[kThreads], ws[kThreads];
  double total = 0, wsum = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t ti = t[i];
    if (ti < 0 || ti >= C) {
      report_device_error(bad, DeviceErrorOp::CrossEntropy, ti, i, C);
      continue;
    }
    const double wi = w ? static_cast<double>(w[ti]) : 1.0;
    const double li = -wi * static_cast<double>(lp[i * C + ti]);
    if (reduction == Reduction::None) out[i] = static_cast<T>(li);
    total += li;
    wsum += wi;
  }
  tot[threadIdx.x] = total;
  ws[threadIdx.x] = wsum;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) {
      tot[threadIdx.x] += tot[threadIdx.x + s];
      ws[threadIdx.x] += ws[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (reduction == Reduction::Sum) out[0] = static_cast<T>(tot[0]);
    if (reduction == Reduction::Mean) out[0] = static_cast<T>(tot[0] / ws[0]);
  }
}

// One block: the Mean reduction's scale 1 / sum_i w[t_i] (1 without Mean).
template <typename T>
__global__ void ce_scale_kernel(const int64_t* t, const T* w, int64_t N, int64_t C, Reduction reduction,
                                double* scale) {
  __shared__ double ws[kThreads];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const int64_t ti = t[i];
    acc += (w && ti >= 0 && ti < C) ? static_cast<double>(w[ti]) : 1.0;
  }
  ws[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) ws[threadIdx.x] += ws[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *scale = reduction == Reduction::Mean ? 1.0 / ws[0] : 1.0;
}

template <typename T>
__global__ void ce_backward_kernel(const T* lp, const int64_t* t, const T* w, const T* g, const double* scale,
                                   int64_t N, int64_t C, Reduction reduction, T* gx) {
  GRID_STRIDE(j, N * C) {
    const int64_t i = j / C, c = j % C;
    const int64_t ti = t[i];
    const bool valid = ti >= 0 && ti < C;
    const double wi = (w && valid) ? static_cast<double>(w[ti]) : 1.0;
    const T gi = static_cast<T>(static_cast<double>(reduction == Reduction::None ? g[i] : g[0]) * *scale * wi);
    T v = dm::exp(lp[j]) * gi;
    if (valid && c == ti) v -= gi;
    gx[j] = v;
  }
}

// ------------------------------------------------------------------------------ optimizers

// One thread per element; the formulas are shared with the CPU loops and the multi-tensor
// kernels (backend/optim_update.h).
template <typename T>
__global__ void sgd_kernel(int64_t n, T* w, const T* g, T* m, optim_update::SgdScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::sgd_update(i, w, g, m, s); }
}

template <typename T>
__global__ void adam_kernel(int64_t n, T* w, const T* g, T* m, T* v, T* vmax,
                            optim_update::AdamScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::adam_update(i, w, g, m, v, vmax, s); }
}

template <typename T>
__global__ void adagrad_kernel(int64_t n, T* w, const T* g, T* sum, optim_update::AdagradScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::adagrad_update(i, w, g, sum, s); }
}

template <typename T>
__global__ void rmsprop_kernel(int64_t n, T* w, const T* g, T* sq, T* buf, T* ga,
                               optim_update::RmspropScalars<T> s) {
  GRID_STRIDE(i, n) { optim_update::rmsprop_update(i, w, g, sq, buf, ga, s); }
}

void geometry(const Tensor& x, int64_t axis, int64_t& outer, int64_t& C, int64_t& inner) {
  outer = 1;
  inner = 1;
  C = x.shape()[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape()[d];
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.shape()[d];
}

void check_step(const Tensor& param, const Tensor& grad, const char* op) {
  check_cuda_tensor(param, op);
  check_cuda_tensor(grad, op);
  MAGMADNN_CHECK(param.is_contiguous() && grad.is_contiguous(), op, ": expected contiguous parameter and gradient");
  MAGMADNN_CHECK(param.shape() == grad.shape(), op, ": gradient shape ", grad.shape(), " differs from parameter ",
                 param.shape());
}

template <typename T>
T* ptr_or_null(const Tensor& t, bool use) {
  return use ? static_cast<T*>(t.raw_data()) : nullptr;
}

}  // namespace

// ------------------------------------------------------------------------------ backend methods

void CudaBackend::reduce(ReduceOp op, const Tensor& x_in, const std::vector<int64_t>& axes, Tensor& out) {
  check_cuda_tensor(x_in, "reduce");
  check_cuda_tensor(out, "reduce");
  MAGMADNN_CHECK(out.is_contiguous(), "reduce: output must be contiguous");
  const int64_t nd = x_in.dim();
  const Shape& shape = x_in.shape();
  std::vector<bool> reduced(nd, false);
  for (int64_t a : axes) reduced[a] = true;
  int64_t R = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (reduced[d]) R *= shape[d];
  if (out.numel() == 0) return;
  if (R == 0) {
    MAGMADNN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Mean, "max/min: cannot reduce over an empty dimension");
    fill(out, op == ReduceOp::Sum ? 0.0 : std::numeric_limits<double>::quiet_NaN());
    return;
  }
  // Runs of consecutive reduced axes, size-1 axes ignored: (outer, run, kept, run, ...).
  std::vector<int64_t> extents;  // alternating kept / reduced extents from the first axis
  std::vector<bool> is_reduced;
  for (int64_t d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (is_reduced.empty() || is_reduced.back() != reduced[d]) {
      extents.push_back(1);
      is_reduced.push_back(reduced[d]);
    }
    extents.back() *= shape[d];
  }
  const int reduced_runs = static_cast<int>(std::count(is_reduced.begin(), is_reduced.end(), true));
  Tensor x = x_in;
  if (!x.is_contiguous() && reduced_runs <= 2) {
    x = Tensor::empty(shape, x_in.dtype(), x_in.device());
    copy_device(x_in, x);
  }
  // (outer, R1, inner) over R1, each L adjacent columns of inner folded too (L == 1: none).
  const auto run = [&](int64_t outer, int64_t R1, int64_t inner, int64_t L) {
    dispatch_float(x.dtype(), "reduce", [&](auto tag) {
      using T = decltype(tag);
      const T* px = static_cast<const T*>(x.raw_data());
      T* po = static_cast<T*>(out.raw_data());
      switch (op) {
        case ReduceOp::Sum: return launch_reduce<T, double, Combine::Sum>(px, po, outer, R1, inner, L, 0.0, 1.0);
        case ReduceOp::Mean:
          return launch_reduce<T, double, Combine::Sum>(px, po, outer, R1, inner, L, 0.0,
                                                        1.0 / static_cast<double>(R));
        case ReduceOp::Max:
          return launch_reduce<T, T, Combine::Max>(px, po, outer, R1, inner, L, -std::numeric_limits<T>::infinity(),
                                                   1.0);
        case ReduceOp::Min:
          return launch_reduce<T, T, Combine::Min>(px, po, outer, R1, inner, L, std::numeric_limits<T>::infinity(),
                                                   1.0);
      }
    });
    MAGMADNN_CUDA_CHECK_LAUNCH("reduce");
  };
  if (reduced_runs <= 1) {  // (outer, R, inner); a scalar's or size-1 axes' "reduction" is a copy
    int64_t outer = 1, inner = 1;
    bool seen = false;
    for (size_t i = 0; i < extents.size(); ++i)
      if (is_reduced[i]) seen = true;
      else (seen ? inner : outer) *= extents[i];
    return run(outer, R, inner, 1);
  }
  // Two runs, the second trailing: (outer, R1, kept, L), e.g. (N, C, H, W) over {0, 2, 3} (a batch
  // norm's statistics). One launch of the column kernel, folding each L columns, where L fits.
  if (reduced_runs == 2 && is_reduced.back()) {
    const size_t k = extents.size();
    const int64_t L = extents[k - 1], kept = extents[k - 2], R1 = extents[k - 3];
    const int64_t outer = k == 4 ? extents[0] : 1;
    if (columns_fold(L, kept * L, x.raw_data())) return run(outer, R1, kept * L, L);
  }
  // Otherwise reduce one run first (one read of everything into a smaller tensor), then the rest
  // from that result. The run with the most elements goes first, so the intermediate is as small
  // as it can be (ties: the last run). Sum, mean (equal-sized groups), max and min compose so.
  std::vector<int64_t> first, rest;
  int64_t best = 0;
  for (int64_t d = nd - 1; d >= 0;) {
    if (!(reduced[d] && shape[d] != 1)) {
      --d;
      continue;
    }
    std::vector<int64_t> axes_of_run;
    int64_t extent = 1;
    for (; d >= 0 && (reduced[d] || shape[d] == 1); --d)
      if (reduced[d]) axes_of_run.push_back(d), extent *= shape[d];
    if (extent > best) best = extent, first = axes_of_run;
  }
  for (int64_t a : axes)
    if (std::find(first.begin(), first.end(), a) == first.end()) rest.push_back(a);
  std::vector<int64_t> mid_shape = shape.vec();
  for (int64_t a : first) mid_shape[a] = 1;
  Tensor mid = Tensor::empty(Shape(mid_shape), out.dtype(), out.device());
  reduce(op, x, first, mid);
  reduce(op, mid, rest, out);
}

void CudaBackend::argmax(const Tensor& x_in, int64_t axis, Tensor& out) {
  check_cuda_tensor(x_in, "argmax");
  check_cuda_tensor(out, "argmax");
  Tensor x = x_in;
  if (!x.is_contiguous()) {
    x = Tensor::empty(x_in.shape(), x_in.dtype(), x_in.device());
    copy_device(x_in, x);
  }
  int64_t outer, R, inner;
  geometry(x, axis, outer, R, inner);
  MAGMADNN_CHECK(R > 0, "argmax: cannot reduce over an empty dimension");
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    argmax_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), out.data<int64_t>(), outer, R, inner);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("argmax");
}

void CudaBackend::softmax(const Tensor& x, int64_t axis, bool log, Tensor& out) {
  check_cuda_tensor(x, "softmax");
  check_cuda_tensor(out, "softmax");
  MAGMADNN_CHECK(x.is_contiguous() && out.is_contiguous(), "softmax kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(x, axis, outer, C, inner);
  if (outer * inner == 0) return;
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), outer, C, inner, log);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("softmax");
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& gy, int64_t axis, bool log, Tensor& gx) {
  check_cuda_tensor(y, "softmax_backward");
  check_cuda_tensor(gy, "softmax_backward");
  check_cuda_tensor(gx, "softmax_backward");
  MAGMADNN_CHECK(y.is_contiguous() && gy.is_contiguous() && gx.is_contiguous(),
                 "softmax_backward kernel: expected contiguous tensors");
  int64_t outer, C, inner;
  geometry(y, axis, outer, C, inner);
  if (outer * inner == 0) return;
  dispatch_float(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
        static_cast<const T*>(y.raw_data()), static_cast<const T*>(gy.raw_data()), static_cast<T*>(gx.raw_data()),
        outer, C, inner, log);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("softmax_backward");
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                Reduction reduction, Tensor& log_probs, Tensor& loss) {
  check_cuda_tensor(target, "cross_entropy");
  check_cuda_tensor(loss, "cross_entropy");
  MAGMADNN_CHECK(target.is_contiguous(), "cross_entropy: expected a contiguous target");
  softmax(logits, 1, /*log=*/true, log_probs);
  const int64_t N = logits.size(0), C = logits.size(1);
  // Labels are checked in the same pass; a bad one is raised at the next host synchronisation.
  const DeviceErrorSink bad = device_error_sink();
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_kernel<T><<<1, kThreads, 0, stream()>>>(
        static_cast<const T*>(log_probs.raw_data()), target.data<int64_t>(), ptr_or_null<const T>(weight, weight.defined()),
        N, C, reduction, static_cast<T*>(loss.raw_data()), bad);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("cross_entropy");
}

void CudaBackend::cross_entropy_backward(const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                                         Reduction reduction, const Tensor& grad_loss, Tensor& grad_logits) {
  check_cuda_tensor(log_probs, "cross_entropy_backward");
  check_cuda_tensor(target, "cross_entropy_backward");
  check_cuda_tensor(grad_loss, "cross_entropy_backward");
  check_cuda_tensor(grad_logits, "cross_entropy_backward");
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  if (N * C == 0) return;
  Tensor scale = Tensor::empty(Shape{1}, kFloat64, log_probs.device());
  dispatch_float(log_probs.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* w = ptr_or_null<const T>(weight, weight.defined());
    ce_scale_kernel<T><<<1, kThreads, 0, stream()>>>(target.data<int64_t>(), w, N, C, reduction,
                                                     static_cast<double*>(scale.raw_data()));
    ce_backward_kernel<T><<<blocks_for(N * C), kThreads, 0, stream()>>>(
        static_cast<const T*>(log_probs.raw_data()), target.data<int64_t>(), w,
        static_cast<const T*>(grad_loss.raw_data()), static_cast<const double*>(scale.raw_data()), N, C, reduction,
        static_cast<T*>(grad_logits.raw_data()));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("cross_entropy_backward");
}

void CudaBackend::sgd_step(Tensor& param, const Tensor& grad, Tensor& buf, const SgdParams& p) {
  check_step(param, grad, "SGD");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        ptr_or_null<T>(buf, p.momentum != 0), optim_update::sgd_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("SGD");
}

void CudaBackend::adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq,
                            Tensor& max_exp_avg_sq, const AdamParams& p) {
  check_step(param, grad, p.decoupled_weight_decay ? "AdamW" : "Adam");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "Adam", [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(exp_avg.raw_data()), static_cast<T*>(exp_avg_sq.raw_data()),
        ptr_or_null<T>(max_exp_avg_sq, p.amsgrad), optim_update::adam_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("Adam");
}

void CudaBackend::adagrad_step(Tensor& param, const Tensor& grad, Tensor& sum, const AdagradParams& p) {
  check_step(param, grad, "Adagrad");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "Adagrad", [&](auto tag) {
    using T = decltype(tag);
    adagrad_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(sum.raw_data()), optim_update::adagrad_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("Adagrad");
}

void CudaBackend::rmsprop_step(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& momentum_buffer,
                               Tensor& grad_avg, const RmspropParams& p) {
  check_step(param, grad, "RMSprop");
  if (param.numel() == 0) return;
  dispatch_float(param.dtype(), "RMSprop", [&](auto tag) {
    using T = decltype(tag);
    rmsprop_kernel<T><<<blocks_for(param.numel()), kThreads, 0, stream()>>>(
        param.numel(), static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()),
        static_cast<T*>(square_avg.raw_data()), ptr_or_null<T>(momentum_buffer, p.momentum > 0),
        ptr_or_null<T>(grad_avg, p.centered), optim_update::rmsprop_scalars<T>(p));
  });
  MAGMADNN_CUDA_CHECK_LAUNCH("RMSprop");
}

}  // namespace magmadnn::cuda
