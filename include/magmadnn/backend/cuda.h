// Queries about the CUDA backend: is it built, how many devices, their properties, the library
// versions, and the device memory manager's statistics. No vendor headers: every build has these
// functions; a build without CUDA (or a machine without a GPU) reports 0 devices and says why.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "magmadnn/core/allocator.h"

namespace magmadnn::cuda {

// Whether this library was compiled with the CUDA backend (MAGMADNN_WITH_CUDA).
bool is_built();
// Number of usable CUDA devices; 0 when not built, no driver, or no GPU (never throws).
int device_count();
// True when at least one device can be used.
bool is_available();
// Why no device can be used ("not built with CUDA", "cudaGetDeviceCount: no CUDA-capable device
// is detected", ...); empty when a device is available.
std::string unavailable_reason();

struct DeviceProperties {
  int index = 0;
  std::string name;          // "NVIDIA H100 80GB HBM3"
  size_t total_memory = 0;   // bytes
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
};
// Throws Error when index is not in [0, device_count()).
DeviceProperties device_properties(int index);

// Versions as "major.minor[.patch]"; "not built with CUDA" or "unavailable" where unknown.
struct LibraryVersions {
  std::string driver;   // the CUDA version the installed driver supports
  std::string runtime;  // cudart
  std::string cublas, cudnn, cusparse;
};
LibraryVersions library_versions();

// The caching device allocator of device `index` (statistics and cache release); throws Error
// when index names no usable device.
MemoryStats memory_stats(int index = 0);
void empty_cache(int index = 0);

// Waits for all queued work on device `index`.
void synchronize(int index = 0);
// Device time of the work that `work` enqueues on device `index`'s stream (what
// torch.cuda.Event(enable_timing=True) pairs measure): seconds between CUDA events recorded on the
// stream just before and just after it, so the host's launch latency before the first kernel and
// the synchronisation after the last are not counted, while any gap between kernels (a host that
// cannot keep up) is. Waits for the work to finish; throws Error without a device, or when `work`
// throws (after waiting).
double device_seconds(int index, const std::function<void()>& work);

// Page-locked ("pinned") host memory, for host tensors bound for a CUDA device: a copy from it
// to the device runs asynchronously on the device's stream instead of being staged through a
// driver buffer (DataLoaderOptions::pin_memory allocates batches here). Its tensors are CPU
// tensors (device() is the CPU). A caching allocator over cudaHostAlloc/cudaFreeHost: a freed
// block is reused only after an event recorded on the freeing thread's current device stream at
// free time has completed, so a copy still reading a freed batch is never overwritten (free a
// pinned tensor on the thread that queued its copies, as a training loop does). empty_cache()
// returns the reusable blocks to the driver. Throws Error ("no CUDA device: ...") when no CUDA
// device can be used, and in a build without CUDA.
Allocator& pinned_host_allocator();

// TF32 tensor-core math for float32 on the GPU (Ampere and newer): when allowed, cuDNN
// convolutions and cuBLAS matmuls may round their fp32 inputs to TF32 (10-bit mantissa, fp32
// accumulation), several times faster with relative errors around 1e-3. Default false: full fp32,
// so CUDA results match the CPU's to ~1e-6. PyTorch's default for convolutions is true
// (torch.backends.cudnn.allow_tf32), so benchmarks against PyTorch set it. float64 is never
// affected. Applies to calls made after the change; every build has these (the flag is only
// stored without CUDA).
void set_allow_tf32(bool enabled);
bool allow_tf32();

// cuDNN convolution algorithm choice (torch.backends.cudnn.benchmark): when on, the first call of
// each convolution shape times every algorithm cuDNN offers for it (in the math mode allowed) and
// keeps the fastest; when off (the default), cuDNN's heuristics choose without running anything.
// Either way the choice is made once per shape and cached. Timing makes the first step slower and
// may pick different (equally valid) kernels from run to run. Not while a CUDA graph is being
// captured: a shape first seen there gets the heuristics' choice. Every build has these.
void set_cudnn_benchmark(bool enabled);
bool cudnn_benchmark();

// Lines for `magmadnn info`: one per device with name, memory, compute capability, and a line
// with the library versions; or one line saying why there is none.
std::vector<std::string> describe_lines();

}  // namespace magmadnn::cuda
