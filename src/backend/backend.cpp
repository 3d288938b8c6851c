// The backend registry and the CPU thread setting; see backend/backend.h.
#include "magmadnn/backend/backend.h"

#include <omp.h>

#include <array>
#include <mutex>

#include "backend/cpu/cpu_backend.h"

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
}  // namespace

Backend& backend_for(Device device) {
  Registry& r = registry();
  Backend* b = r.backends[static_cast<int>(device.type)].get();
  MAGMADNN_CHECK(b != nullptr, "no backend for device ", device,
                 device.is_cuda() ? ": this build of MagmaDNN has no CUDA backend, or no GPU was found" : "");
  return *b;
}

bool has_backend(DeviceType type) { return registry().backends[static_cast<int>(type)] != nullptr; }

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
