// Deferred errors of CUDA kernels: bad input that only a kernel sees (an index or a class label
// out of range) is recorded on the device and raised as the CPU backend's Error at the host's next
// synchronisation with the device (a read to the host, synchronize()), so a training step never
// waits for the host to check its inputs, and it can be captured into a CUDA graph. Work queued
// between the bad kernel and that point has run on partly skipped data; the error still says
// which op and which value.
#pragma once

#include <cstdint>

namespace magmadnn::cuda {

enum class DeviceErrorOp : int { None = 0, IndexSelect, IndexAdd, Gather, ScatterAdd, CrossEntropy };

// Written once, by the first kernel thread that claims the device's error slot.
struct DeviceErrorRecord {
  volatile int op;  // DeviceErrorOp; None until a kernel reports
  volatile long long value, position, limit;
};

// What a kernel needs to report: a claim word in device memory (atomicCAS there, never on host
// memory) and the record in mapped, page-locked host memory (so the host reads it without a copy).
struct DeviceErrorSink {
  unsigned int* claim;
  DeviceErrorRecord* record;  // device-side alias of the host record
};

// The sink of the current device (created on first use).
DeviceErrorSink device_error_sink();
// After the host has synchronised with the current device's stream: throws the recorded error, if
// any, and clears it. Cheap when there is none (one read of page-locked memory).
void raise_device_errors();

#ifdef __CUDACC__
__device__ __forceinline__ void report_device_error(DeviceErrorSink sink, DeviceErrorOp op, long long value,
                                                    long long position, long long limit) {
  if (atomicCAS(sink.claim, 0u, 1u) != 0u) return;  // an earlier error is already recorded
  sink.record->value = value;
  sink.record->position = position;
  sink.record->limit = limit;
  __threadfence_system();
  sink.record->op = static_cast<int>(op);  // last: the host treats op != None as "recorded"
  __threadfence_system();
}
#endif

}  // namespace magmadnn::cuda
