// Shared by the NCCL tests (tests/cuda/test_nccl.cpp: one process on one GPU;
// tests/mpi/test_nccl_mpi.cpp: one rank per GPU): a process group on a device, and a tensor's
// values read back to the host.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "magmadnn/magmadnn.h"

namespace nccltest {

// An NCCL group bound to `gpu`: selected first, since NCCL takes the current device.
inline std::shared_ptr<magmadnn::dist::ProcessGroup> group_on(magmadnn::Device gpu) {
  magmadnn::backend_for(gpu);  // makes `gpu` the current device
  auto g = magmadnn::dist::init_process_group("nccl");
  g->set_timeout(std::chrono::seconds(60));
  return g;
}

template <typename T>
std::vector<T> host(const magmadnn::Tensor& t) {
  return t.to(magmadnn::Device::cpu()).to_vector<T>();
}

}  // namespace nccltest
