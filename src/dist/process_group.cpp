// ProcessGroup pieces common to every backend: chunking, the backend factory, Avg scaling.
#include <cstdlib>

#include "dist/backends.h"
#include "magmadnn/core/error.h"

namespace magmadnn::dist {

std::pair<int64_t, int64_t> ProcessGroup::chunk_range(int64_t n, int r) const {
  const int64_t p = size(), base = n / p, extra = n % p;
  const int64_t begin = r * base + std::min<int64_t>(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

bool mpi_available() {
#ifdef MAGMADNN_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_available() {
#ifdef MAGMADNN_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend) {
  std::string b = backend;
  if (b == "auto") {
    const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
    b = launched && mpi_available() ? "mpi" : "local";
  }
  if (b == "local") return detail::make_local_process_group();
  if (b == "mpi") {
#ifdef MAGMADNN_WITH_MPI
    return detail::make_mpi_process_group();
#else
    MAGMADNN_ERROR("init_process_group(\"mpi\"): this MagmaDNN was built without MPI (MAGMADNN_WITH_MPI=OFF)");
#endif
  }
  if (b == "nccl") {
#ifdef MAGMADNN_WITH_NCCL
    return detail::make_nccl_process_group();
#else
    MAGMADNN_ERROR("init_process_group(\"nccl\"): this build of MagmaDNN has no NCCL (it needs the CUDA backend and "
                   "NCCL at configure time: MAGMADNN_WITH_CUDA=ON, MAGMADNN_WITH_NCCL=ON)");
#endif
  }
  MAGMADNN_ERROR("init_process_group: unknown backend \"", backend, "\" (expected mpi, nccl, local or auto)");
}

void finalize() {
#ifdef MAGMADNN_WITH_MPI
  detail::mpi_finalize();
#endif
}

namespace detail {

void divide_(Tensor& t, int divisor) {
  const int64_t n = t.numel();
  switch (t.dtype()) {
    case DType::Float32: {
      float* p = t.data<float>();
      for (int64_t i = 0; i < n; ++i) p[i] /= static_cast<float>(divisor);
      break;
    }
    case DType::Float64: {
      double* p = t.data<double>();
      for (int64_t i = 0; i < n; ++i) p[i] /= divisor;
      break;
    }
    default:
      MAGMADNN_ERROR("ReduceOp::Avg: needs a floating tensor, got ", t.dtype());
  }
}

void check_buffer(const Tensor& t, const std::string& op) {
  MAGMADNN_CHECK(t.defined(), "ProcessGroup::", op, ": undefined tensor");
  MAGMADNN_CHECK(t.device().is_cpu(), "ProcessGroup::", op, ": needs a CPU tensor, got one on ", t.device());
  MAGMADNN_CHECK(t.is_contiguous(), "ProcessGroup::", op, ": needs a contiguous tensor, got shape ", t.shape(),
                 " with strides that are not row-major (call .contiguous())");
}

}  // namespace detail
}  // namespace magmadnn::dist
