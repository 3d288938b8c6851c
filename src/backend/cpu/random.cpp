// CPU random fills: Philox blocks (backend/philox.h) split over OpenMP threads. Each block is a
// function of its index, so the values do not depend on the thread count and equal the CUDA
// backend's (random.cu) for the same generator state.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/loops.h"
#include "backend/philox.h"

namespace magmadnn::cpu {

namespace {
template <typename Dist>
void philox_fill(const char* op, Tensor& dst, const Dist& dist, Generator& gen) {
  MAGMADNN_CHECK(dst.device().is_cpu(), "cpu backend ", op, ": tensor is on ", dst.device());
  MAGMADNN_CHECK(dst.is_contiguous(), op, ": expected a contiguous tensor, got shape ", dst.shape(), " strides ",
                 Shape(dst.strides()));
  const detail::PhiloxStream stream{gen.philox_key(), gen.take_philox_offsets(1)};
  dispatch_float(dst.dtype(), op, [&](auto tag_) {
    using scalar_t = decltype(tag_);
    scalar_t* d = dst.data<scalar_t>();
    const int64_t n = dst.numel(), blocks = (n + detail::per_block<scalar_t>() - 1) / detail::per_block<scalar_t>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t b = 0; b < blocks; ++b) detail::fill_block(dist, stream, static_cast<uint64_t>(b), d, n);
  });
}
}  // namespace

void CpuBackend::uniform(Tensor& dst, double low, double high, Generator& gen) {
  philox_fill("uniform", dst, detail::UniformDist{low, high - low}, gen);
}

void CpuBackend::normal(Tensor& dst, double mean, double std, Generator& gen) {
  philox_fill("normal", dst, detail::NormalDist{mean, std}, gen);
}

void CpuBackend::bernoulli(Tensor& dst, double p, Generator& gen) {
  philox_fill("bernoulli", dst, detail::BernoulliDist::with_probability(p), gen);
}

}  // namespace magmadnn::cpu
