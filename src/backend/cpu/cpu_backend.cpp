// CPU backend: construction, copies with dtype conversion, fills (random fills: random.cpp).
#include "backend/cpu/cpu_backend.h"

#include <cmath>
#include <cstring>

#include <dnnl.h>

#include "backend/cpu/loops.h"

namespace magmadnn::cpu {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

std::string CpuBackend::describe() const {
  const dnnl_version_t* v = dnnl_version();
  return detail::str_cat("cpu: oneDNN ", v->major, ".", v->minor, ".", v->patch, " (", v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
                         " runtime), ", omp_get_max_threads(), " threads, bf16 math ",
                         cpu_has_bf16() ? "available (--bf16)" : "not available (oneDNN cannot use AVX512_BF16 or AMX-BF16 here)");
}

namespace {
void check_cpu(const Tensor& t, const char* op) {
  MAGMADNN_CHECK(t.device().is_cpu(), "cpu backend ", op, ": tensor is on ", t.device());
}
}  // namespace

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  check_cpu(src, "copy");
  check_cpu(dst, "copy");
  MAGMADNN_CHECK(src.shape() == dst.shape(), "copy: source shape ", src.shape(), " differs from destination ",
                 dst.shape());
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    // memmove: x.narrow(0, 0, n).copy_(x.narrow(0, 1, n)) overlaps.
    if (src.raw_data() != dst.raw_data()) std::memmove(dst.raw_data(), src.raw_data(), src.nbytes());
    return;
  }
  dispatch_all(src.dtype(), "copy", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    using src_t = scalar_t;
    const src_t* s = static_cast<const src_t*>(src.raw_data());
    dispatch_all(dst.dtype(), "copy", [&](auto tag_) {
    using scalar_t = decltype(tag_);
      scalar_t* d = static_cast<scalar_t*>(dst.raw_data());
      for_each_strided<2>(dst.shape(), {&dst.strides(), &src.strides()}, [&](auto off, int64_t n, auto st) {
        scalar_t* pd = d + off[0];
        const src_t* ps = s + off[1];
        for (int64_t i = 0; i < n; ++i) pd[i * st[0]] = static_cast<scalar_t>(ps[i * st[1]]);
      });
    });
  });
}

void CpuBackend::fill(Tensor& dst, double value) {
  check_cpu(dst, "fill");
  dispatch_all(dst.dtype(), "fill", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    scalar_t* d = static_cast<scalar_t*>(dst.raw_data());
    const scalar_t v = static_cast<scalar_t>(value);
    for_each_strided<1>(dst.shape(), {&dst.strides()}, [&](auto off, int64_t n, auto st) {
      scalar_t* p = d + off[0];
      if (st[0] == 1) std::fill(p, p + n, v);
      else for (int64_t i = 0; i < n; ++i) p[i * st[0]] = v;
    });
  });
}

void CpuBackend::arange(Tensor& dst, double start, double step) {
  check_cpu(dst, "arange");
  dispatch_all(dst.dtype(), "arange", [&](auto tag_) {
    using scalar_t = decltype(tag_);
    scalar_t* d = dst.data<scalar_t>();
    for (int64_t i = 0; i < dst.numel(); ++i) d[i] = static_cast<scalar_t>(start + step * static_cast<double>(i));
  });
}

}  // namespace magmadnn::cpu
