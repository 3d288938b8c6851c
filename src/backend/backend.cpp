// The backend registry and the CPU thread setting; see backend/backend.h.
#include "magmadnn/backend/backend.h"

#include <omp.h>

#include <array>
#include <mutex>

#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/cuda_register.h"
#include "magmadnn/backend/cuda.h"

namespace magmadnn {

namespace {
struct Registry {
  std::mutex mutex;
  std::array<std::unique_ptr<Backend>, 2> backends;  // indexed by DeviceType
};
Registry& registry() {
  static Registry* r = [] {
    auto* reg = new Registry();  // leaked: backends outlive static tensors
    reg->backends[static_cast<int>(DeviceType::CPU)] = cpu::make_cpu_backend();
    return reg;
  }();
  return *r;
}

// The CUDA backend registers itself on first demand, so CPU-only programs never start the CUDA
// runtime; it registers only when a device is usable (see cuda::unavailable_reason()).
void ensure_cuda(Registry& r) {
  static std::once_flag once;
  std::call_once(once, [&r] {
    std::unique_ptr<Backend> b = cuda::make_cuda_backend_if_available();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (b && !r.backends[static_cast<int>(DeviceType::CUDA)]) r.backends[static_cast<int>(DeviceType::CUDA)] = std::move(b);
  });
}
}  // namespace

Backend& backend_for(Device device) {
  Registry& r = registry();
  if (device.is_cuda()) ensure_cuda(r);
  Backend* b = r.backends[static_cast<int>(device.type)].get();
  if (device.is_cuda()) {
    MAGMADNN_CHECK(b != nullptr, "no backend for device ", device, " (no CUDA device: ", cuda::unavailable_reason(), ")");
    const int count = cuda::device_count();
    MAGMADNN_CHECK(count == 0 || (device.index >= 0 && device.index < count), "no backend for device ", device,
                   " (no CUDA device: ", device, " does not exist; ", count, count == 1 ? " device" : " devices",
                   " found)");
    if (count > 0) cuda::select_device(device.index);  // storage and kernels of this op go there
  }
  MAGMADNN_CHECK(b != nullptr, "no backend for device ", device);
  return *b;
}

bool has_backend(DeviceType type) {
  Registry& r = registry();
  if (type == DeviceType::CUDA) ensure_cuda(r);
  return r.backends[static_cast<int>(type)] != nullptr;
}

void register_backend(DeviceType type, std::unique_ptr<Backend> backend) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.backends[static_cast<int>(type)] = std::move(backend);
}

void set_num_threads(int n) {
  MAGMADNN_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  omp_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace magmadnn
