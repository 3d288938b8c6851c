// ProcessGroup: collectives (all-reduce, broadcast, all-gather, reduce-scatter, barrier, send/recv)
// between the processes of one training run, blocking or non-blocking through a Work handle.
// Backends: "mpi" (CPU tensors, built when MPI is found), "nccl" (CUDA tensors, built with the
// CUDA backend when NCCL is found) and "local" (one process). mpi.h and nccl.h never appear here,
// so a CPU-only user builds against MagmaDNN without MPI or CUDA.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::dist {

enum class ReduceOp { Sum, Avg };

// A pending operation. wait() blocks until it completes or the group's timeout passes, in which
// case it throws an Error naming the rank and the operation instead of hanging. On the NCCL
// group, wait() only orders the device's compute stream after the operation (no host sync), and
// synchronize() is the host wait with the deadline (past it the communicator is aborted).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool is_completed() = 0;
  // Blocks the calling thread until the operation has completed or the group's timeout passes
  // (then throws). The same as wait() for the CPU groups.
  virtual void synchronize() { wait(); }
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;

  // How long wait() lets a collective or send/recv run before giving up (default 300 s).
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // Non-blocking variants. Tensors are contiguous CPU tensors (CUDA tensors on the group's device
  // for "nccl") and must stay alive (the Work keeps a handle) and untouched until wait() returns.
  virtual std::shared_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op = ReduceOp::Sum) = 0;
  virtual std::shared_ptr<Work> broadcast_async(Tensor& t, int root) = 0;
  // out: size() * in.numel() elements, rank r's tensor at [r*n, (r+1)*n).
  virtual std::shared_ptr<Work> all_gather_async(const Tensor& in, Tensor& out) = 0;
  // in: any numel; rank r receives the reduction of its chunk: chunk sizes differ by at most one,
  // the first numel % size() ranks get the larger ones (see chunk_range). out: that many elements.
  virtual std::shared_ptr<Work> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op = ReduceOp::Sum) = 0;
  virtual std::shared_ptr<Work> barrier_async() = 0;
  virtual std::shared_ptr<Work> send_async(const Tensor& t, int dst, int tag = 0) = 0;
  virtual std::shared_ptr<Work> recv_async(Tensor& t, int src, int tag = 0) = 0;

  // Blocking forms.
  void all_reduce(Tensor& t, ReduceOp op = ReduceOp::Sum) { all_reduce_async(t, op)->wait(); }
  void broadcast(Tensor& t, int root = 0) { broadcast_async(t, root)->wait(); }
  void all_gather(const Tensor& in, Tensor& out) { all_gather_async(in, out)->wait(); }
  // Gathers tensors whose first dimension may differ between ranks (the others must agree).
  virtual void all_gather(const Tensor& in, std::vector<Tensor>& out) = 0;
  void reduce_scatter(const Tensor& in, Tensor& out, ReduceOp op = ReduceOp::Sum) {
    reduce_scatter_async(in, out, op)->wait();
  }
  void barrier() { barrier_async()->wait(); }
  void send(const Tensor& t, int dst, int tag = 0) { send_async(t, dst, tag)->wait(); }
  void recv(Tensor& t, int src, int tag = 0) { recv_async(t, src, tag)->wait(); }

  // [begin, end) of rank r's chunk when n elements are split over size() ranks.
  std::pair<int64_t, int64_t> chunk_range(int64_t n, int r) const;

 protected:
  std::chrono::milliseconds timeout_{300000};
};

// "mpi", "local", "nccl" or "auto": mpi when launched under mpirun (OMPI_COMM_WORLD_SIZE or
// PMI_SIZE set) and built with MPI, else local ("auto" never picks nccl). "nccl" uses the current
// CUDA device (select it first, e.g. with backend_for(Device::cuda(local_rank)); one GPU per
// rank); with more than one rank its id is broadcast over MPI, with one it needs no MPI.
std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend = "auto");

// True when this build has the MPI backend.
bool mpi_available();
// True when this build has the NCCL backend (a GPU is still needed to create the group).
bool nccl_available();

// Finalises MPI now if this library initialised it (otherwise it happens at exit). Call after
// the last collective, e.g. at the end of main, so errors in teardown surface while the caller
// can still report them.
void finalize();

}  // namespace magmadnn::dist
