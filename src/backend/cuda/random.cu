// CUDA random fills (uniform, normal, bernoulli; dropout masks): the Philox blocks of
// backend/philox.h, one block per thread, so a seed gives exactly the CPU backend's values
// (random.cpp) with no host work and no copy. A fill inside a CUDA graph capture reads the
// generator's key and its offset base from device memory that cuda::Graph::replay sets before
// each replay (cuda_backend.h, CapturedRandom): every replay draws the numbers that the same
// step, run uncaptured at that point, would have drawn.
#include "backend/cuda/cuda_backend.h"
#include "backend/philox.h"

namespace magmadnn::cuda {

namespace {
// dst[0, n) = the fill of stream s; with graph_state, key and offset base come from the device.
template <typename T, typename Dist>
__global__ void philox_fill_kernel(T* dst, int64_t n, Dist dist, detail::PhiloxStream s, const uint64_t* graph_state) {
  if (graph_state) {
    s.key = graph_state[0];
    s.offset += graph_state[1];
  }
  const int64_t blocks = (n + detail::per_block<T>() - 1) / detail::per_block<T>();
  for (int64_t b = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; b < blocks; b += int64_t(gridDim.x) * blockDim.x)
    detail::fill_block(dist, s, static_cast<uint64_t>(b), dst, n);
}

__global__ void set_random_state_kernel(uint64_t* state, uint64_t key, uint64_t offset) {
  state[0] = key;
  state[1] = offset;
}

template <typename Dist>
void philox_fill(const char* op, Tensor& dst, const Dist& dist, Generator& gen) {
  check_cuda_tensor(dst, op);
  MAGMADNN_CHECK(dst.is_contiguous(), op, ": expected a contiguous tensor, got shape ", dst.shape(), " strides ",
                 Shape(dst.strides()));
  detail::PhiloxStream s{gen.philox_key(), 0};
  const uint64_t* graph_state = nullptr;
  if (stream_is_capturing()) {
    CapturedRandom* capture = captured_random();
    MAGMADNN_CHECK(capture != nullptr, op, ": random numbers drawn in a CUDA graph capture not made by cuda::Graph");
    MAGMADNN_CHECK(capture->generator == nullptr || capture->generator == &gen, op,
                   ": a captured CUDA graph draws from one generator; this capture already used another");
    capture->generator = &gen;
    s.offset = capture->fills++;  // added to the offset base that each replay sets
    graph_state = random_state();
  } else {
    s.offset = gen.take_philox_offsets(1);
  }
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_float(dst.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const int64_t blocks = (n + detail::per_block<T>() - 1) / detail::per_block<T>();
    philox_fill_kernel<T, Dist><<<blocks_for(blocks), kThreads, 0, stream()>>>(static_cast<T*>(dst.raw_data()), n,
                                                                                 dist, s, graph_state);
  });
  MAGMADNN_CUDA_CHECK_LAUNCH(op);
}
}  // namespace

CapturedRandom*& captured_random() {
  static thread_local CapturedRandom* capture = nullptr;
  return capture;
}

void set_random_state(uint64_t key, uint64_t offset) {
  set_random_state_kernel<<<1, 1, 0, stream()>>>(random_state(), key, offset);
  MAGMADNN_CUDA_CHECK_LAUNCH("set_random_state");
}

void CudaBackend::uniform(Tensor& dst, double low, double high, Generator& gen) {
  philox_fill("uniform", dst, detail::UniformDist{low, high - low}, gen);
}

void CudaBackend::normal(Tensor& dst, double mean, double std, Generator& gen) {
  philox_fill("normal", dst, detail::NormalDist{mean, std}, gen);
}

void CudaBackend::bernoulli(Tensor& dst, double p, Generator& gen) {
  philox_fill("bernoulli", dst, detail::BernoulliDist::with_probability(p), gen);
}

}  // namespace magmadnn::cuda
