// NcclProcessGroup: collectives over NCCL for contiguous CUDA tensors on one device per rank (CPU
// tensors are staged through the device, completing before the call returns).
// Every operation is queued on the group's own NCCL stream behind an event recorded on the
// compute stream (cuda::stream()), so it sees all work queued before it. Work::wait() makes the
// compute stream wait for the operation's event (no host sync); Work::synchronize() polls the
// event against the group's timeout and, past it, aborts the communicator (ncclCommAbort) and
// throws, as the MPI group does for a dead peer. nccl.h and cuda_runtime.h stay in this file.
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <thread>

#include "backend/cuda/cuda_backend.h"
#include "dist/backends.h"
#include "magmadnn/backend/cuda.h"
#include "magmadnn/core/error.h"

namespace magmadnn::dist::detail {
namespace {

using ::magmadnn::detail::str_cat;

// NCCL's message for the last error (possibly empty).
std::string last_error(ncclComm_t comm) {
  const char* s = ncclGetLastError(comm);
  return s ? s : "";
}

ncclDataType_t nccl_type(DType t, const char* op) {
  switch (t) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int64: return ncclInt64;
    case DType::Int32: return ncclInt32;
    case DType::UInt8: return ncclUint8;
  }
  MAGMADNN_ERROR("ProcessGroup(nccl)::", op, ": unsupported dtype ", t);
}

// The communicator, its stream and its state; shared by the group and its pending Works, so a
// Work can still be waited on (and its event destroyed) after the group is gone.
struct NcclComm {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;  // the NCCL stream
  cudaEvent_t ready = nullptr;    // recorded on the compute stream before each operation
  cudaEvent_t last = nullptr;     // recorded on the NCCL stream after each operation
  int device = 0, rank = 0, size = 1;
  std::chrono::milliseconds timeout{300000};
  bool aborted = false;
  std::string abort_reason;

  std::string who() const { return str_cat("ProcessGroup(nccl): rank ", rank, " of ", size); }

  // Frees the communicator without waiting for its operations; they stop on the device. Every
  // later call on the group throws, naming `reason`.
  void abort(const std::string& reason) {
    if (aborted) return;
    aborted = true;
    abort_reason = reason;
    if (comm) {
      cuda::DeviceGuard g(device);
      (void)ncclCommAbort(comm);
      comm = nullptr;
    }
  }

  void check_usable(const std::string& what) const {
    MAGMADNN_CHECK(!aborted, who(), ": ", what, ": the NCCL communicator was aborted (", abort_reason,
                   "); create a new group");
  }

  // Raises an error the communicator reported asynchronously (a failed peer, a network error),
  // aborting it first so no later operation waits on it.
  void check_async_error(const std::string& what) {
    if (aborted || !comm) return;
    ncclResult_t async = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm, &async);
    if (r == ncclSuccess && (async == ncclSuccess || async == ncclInProgress)) return;
    const ncclResult_t err = r != ncclSuccess ? r : async;
    const std::string detail = last_error(comm);
    const std::string reason = str_cat(what, " failed: ", ncclGetErrorString(err), detail.empty() ? "" : " (",
                                       detail, detail.empty() ? "" : ")");
    abort(reason);
    MAGMADNN_ERROR(who(), ": ", reason, "; the NCCL communicator was aborted");
  }

  // Throws when an NCCL call failed, naming the operation and NCCL's own last message.
  void check(ncclResult_t r, const std::string& what, const char* call) {
    if (r == ncclSuccess || r == ncclInProgress) return;
    const std::string detail = last_error(comm);
    MAGMADNN_ERROR(who(), ": ", what, ": ", call, " failed: ", ncclGetErrorString(r), detail.empty() ? "" : " (",
                   detail, detail.empty() ? "" : ")");
  }

  ~NcclComm() {
    try {
      cuda::DeviceGuard g(device);
      if (comm) {
        // Let queued operations finish (bounded by the timeout), then free the communicator;
        // abort it when they do not (a peer died), since destroying would wait for them.
        bool done = last == nullptr;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done) {
          const cudaError_t q = cudaEventQuery(last);
          if (q == cudaErrorNotReady) (void)cudaGetLastError();  // also the thread's last error: clear it
          if (q != cudaErrorNotReady) {
            done = q == cudaSuccess;
            break;
          }
          ncclResult_t async = ncclSuccess;
          if (ncclCommGetAsyncError(comm, &async) != ncclSuccess || (async != ncclSuccess && async != ncclInProgress))
            break;
          if (std::chrono::steady_clock::now() > deadline) break;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        if (done) (void)ncclCommDestroy(comm);
        else (void)ncclCommAbort(comm);
        comm = nullptr;
      }
      if (ready) (void)cudaEventDestroy(ready);
      if (last) (void)cudaEventDestroy(last);
      if (stream) (void)cudaStreamDestroy(stream);
    } catch (...) {
      // Teardown never throws (the CUDA runtime may already be shutting down at exit).
    }
  }
};

class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<NcclComm> comm, std::string what, std::vector<Tensor> keep, bool host_wait)
      : comm_(std::move(comm)), what_(std::move(what)), keep_(std::move(keep)), timeout_(comm_->timeout),
        host_wait_(host_wait) {
    cuda::DeviceGuard g(comm_->device);
    MAGMADNN_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
  }
  ~NcclWork() override {
    try {
      cuda::DeviceGuard g(comm_->device);
      // Dropped without wait(): later compute-stream work may reuse the kept tensors' memory
      // (the caching allocator orders reuse by the compute stream), so order it after the op.
      if (!ordered_ && recorded_) (void)cudaStreamWaitEvent(cuda::stream(), event_, 0);
      (void)cudaEventDestroy(event_);
    } catch (...) {
    }
  }

  cudaEvent_t event() const { return event_; }
  // Records the completion event on `s` (the NCCL stream, or the compute stream for local work).
  void record(cudaStream_t s) {
    MAGMADNN_CUDA_CHECK(cudaEventRecord(event_, s));
    recorded_ = true;
  }

  bool is_completed() override {
    if (done_) return true;
    cuda::DeviceGuard g(comm_->device);
    const cudaError_t q = cudaEventQuery(event_);
    if (q == cudaErrorNotReady) {
      // cudaErrorNotReady is also stored as the thread's last error: clear it, or the next kernel's
      // launch check (cudaGetLastError) would report it as a failure.
      (void)cudaGetLastError();
      comm_->check_async_error(what_);
      return false;
    }
    MAGMADNN_CUDA_CHECK(q);
    done_ = true;
    return true;
  }

  void wait() override {
    MAGMADNN_CHECK(!failed_, comm_->who(), ": ", what_, " already timed out");
    if (!ordered_) {
      cuda::DeviceGuard g(comm_->device);
      MAGMADNN_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), event_, 0));
      ordered_ = true;
    }
    if (host_wait_) return synchronize();
    comm_->check_async_error(what_);
  }

  void synchronize() override {
    MAGMADNN_CHECK(!failed_, comm_->who(), ": ", what_, " already timed out");
    if (!ordered_) {
      cuda::DeviceGuard g(comm_->device);
      MAGMADNN_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(), event_, 0));
      ordered_ = true;
    }
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout_, spin_until = start + std::chrono::milliseconds(2);
    while (!is_completed()) {
      const auto now = std::chrono::steady_clock::now();
      if (now > deadline) {
        failed_ = true;
        const std::string reason = str_cat(what_, " did not complete within ", timeout_.count(), " ms");
        comm_->abort(reason);
        MAGMADNN_ERROR(comm_->who(), ": ", reason,
                       " (a peer rank did not join it, died, or is stuck); the NCCL communicator was aborted");
      }
      if (now < spin_until) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  std::shared_ptr<NcclComm> comm_;
  std::string what_;
  std::vector<Tensor> keep_;
  std::chrono::milliseconds timeout_;
  bool host_wait_;
  cudaEvent_t event_ = nullptr;
  bool recorded_ = false, ordered_ = false, done_ = false, failed_ = false;
};

class NcclProcessGroup : public ProcessGroup {
 public:
  NcclProcessGroup(const ncclUniqueId& id, int rank, int size, int device) : comm_(std::make_shared<NcclComm>()) {
    comm_->rank = rank;
    comm_->size = size;
    comm_->device = device;
    cuda::DeviceGuard g(device);
    MAGMADNN_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_->stream, cudaStreamNonBlocking));
    MAGMADNN_CUDA_CHECK(cudaEventCreateWithFlags(&comm_->ready, cudaEventDisableTiming));
    MAGMADNN_CUDA_CHECK(cudaEventCreateWithFlags(&comm_->last, cudaEventDisableTiming));
    const ncclResult_t r = ncclCommInitRank(&comm_->comm, size, id, rank);
    if (r != ncclSuccess) {
      comm_->comm = nullptr;
      MAGMADNN_ERROR("init_process_group(\"nccl\"): ncclCommInitRank (rank ", rank, " of ", size, " on cuda:", device,
                     ") failed: ", ncclGetErrorString(r), " (", last_error(nullptr), ")");
    }
  }

  int rank() const override { return comm_->rank; }
  int size() const override { return comm_->size; }
  std::string backend() const override { return "nccl"; }
  using ProcessGroup::all_gather;

  std::shared_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    if (on_host(t)) {
      Tensor d = staged(t);
      all_reduce_async(d, op)->synchronize();
      return copied_back(t, d, "all_reduce");
    }
    check_tensor(t, "all_reduce");
    if (op == ReduceOp::Avg) check_floating(t, "all_reduce");
    const ncclDataType_t ty = nccl_type(t.dtype(), "all_reduce");
    const std::string what = "all_reduce(" + std::to_string(t.numel()) + " elements)";
    return launch(what, {t}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclAllReduce(t.raw_data(), t.raw_data(), t.numel(), ty, reduce_op(op), c, s), what, "ncclAllReduce");
    }, t.numel() == 0);
  }

  std::shared_ptr<Work> broadcast_async(Tensor& t, int root) override {
    if (on_host(t)) {
      Tensor d = staged(t);
      broadcast_async(d, root)->synchronize();
      return copied_back(t, d, "broadcast");
    }
    check_tensor(t, "broadcast");
    check_peer(root, "broadcast");
    const ncclDataType_t ty = nccl_type(t.dtype(), "broadcast");
    const std::string what = "broadcast(root " + std::to_string(root) + ", " + std::to_string(t.numel()) + " elements)";
    return launch(what, {t}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclBroadcast(t.raw_data(), t.raw_data(), t.numel(), ty, root, c, s), what, "ncclBroadcast");
    }, t.numel() == 0);
  }

  std::shared_ptr<Work> all_gather_async(const Tensor& in, Tensor& out) override {
    if (on_host(in) || on_host(out)) {
      Tensor d_in = staged(in), d_out = empty(out.shape(), out.dtype(), Device::cuda(comm_->device));
      all_gather_async(d_in, d_out)->synchronize();
      return copied_back(out, d_out, "all_gather");
    }
    check_tensor(in, "all_gather");
    check_tensor(out, "all_gather");
    MAGMADNN_CHECK(out.numel() == in.numel() * size() && out.dtype() == in.dtype(),
                   "ProcessGroup::all_gather: output needs ", in.numel() * size(), " elements of ", in.dtype(),
                   ", got ", out.shape(), " ", out.dtype());
    const ncclDataType_t ty = nccl_type(in.dtype(), "all_gather");
    const std::string what = "all_gather(" + std::to_string(in.numel()) + " elements)";
    return launch(what, {in, out}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclAllGather(in.raw_data(), out.raw_data(), in.numel(), ty, c, s), what, "ncclAllGather");
    }, in.numel() == 0);
  }

  // First dimensions may differ: exchange them (one small host read), gather rows padded to the
  // longest, then cut each rank's rows out on the device.
  void all_gather(const Tensor& in, std::vector<Tensor>& out) override {
    if (on_host(in)) {
      all_gather(staged(in), out);
      for (Tensor& t : out) t = t.to(Device::cpu());
      return;
    }
    check_tensor(in, "all_gather");
    MAGMADNN_CHECK(in.dim() >= 1, "ProcessGroup::all_gather: needs at least one dimension, got a scalar");
    const Device dev = Device::cuda(comm_->device);
    const int p = size();
    int64_t row = 1;
    for (int64_t d = 1; d < in.dim(); ++d) row *= in.shape()[d];
    Tensor mine = from_vector<int64_t>({in.shape()[0]}).to(dev);
    Tensor rows_dev = empty({p}, kInt64, dev);
    all_gather_async(mine, rows_dev)->synchronize();
    const std::vector<int64_t> rows = rows_dev.to(Device::cpu()).to_vector<int64_t>();
    int64_t most = 0;
    for (int64_t r : rows) most = std::max(most, r);
    Tensor padded = in;
    if (in.shape()[0] != most) {
      padded = zeros({most * row}, in.dtype(), dev);
      if (in.numel() > 0) padded.slice(0, 0, in.numel()).copy_(in.reshape({in.numel()}));
    }
    Tensor all = empty({p * most * row}, in.dtype(), dev);
    all_gather_async(padded.reshape({most * row}), all)->wait();
    out.clear();
    std::vector<int64_t> dims(in.shape().begin(), in.shape().end());
    for (int r = 0; r < p; ++r) {
      dims[0] = rows[r];
      const int64_t begin = r * most * row;
      out.push_back(all.slice(0, begin, begin + rows[r] * row).reshape(Shape(dims)).clone());
    }
  }

  // NCCL's reduce-scatter gives every rank the same count: when numel % size() != 0 the input is
  // laid out in chunks padded to the largest (zeros), and each rank copies its part out.
  std::shared_ptr<Work> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) override {
    if (on_host(in) || on_host(out)) {
      Tensor d_in = staged(in), d_out = empty(out.shape(), out.dtype(), Device::cuda(comm_->device));
      reduce_scatter_async(d_in, d_out, op)->synchronize();
      return copied_back(out, d_out, "reduce_scatter");
    }
    check_tensor(in, "reduce_scatter");
    check_tensor(out, "reduce_scatter");
    if (op == ReduceOp::Avg) check_floating(in, "reduce_scatter");
    const int p = size(), me = rank();
    const int64_t n = in.numel();
    const auto my_range = chunk_range(n, me);
    const int64_t count = my_range.second - my_range.first;
    MAGMADNN_CHECK(out.numel() == count && out.dtype() == in.dtype(), "ProcessGroup::reduce_scatter: rank ", me,
                   " needs an output of ", count, " ", in.dtype(), " elements, got ", out.shape(), " ", out.dtype());
    const ncclDataType_t ty = nccl_type(in.dtype(), "reduce_scatter");
    const std::string what = "reduce_scatter(" + std::to_string(n) + " elements)";
    const size_t es = in.element_size();
    if (n % p == 0) {
      return launch(what, {in, out}, [&](ncclComm_t c, cudaStream_t s) {
        comm_->check(ncclReduceScatter(in.raw_data(), out.raw_data(), n / p, ty, reduce_op(op), c, s), what,
                     "ncclReduceScatter");
      }, n == 0);
    }
    const int64_t chunk = (n + p - 1) / p;
    const Device dev = Device::cuda(comm_->device);
    Tensor padded = empty({chunk * p}, in.dtype(), dev);
    Tensor mine = empty({chunk}, in.dtype(), dev);
    {
      // Laid out on the compute stream, so the launch's ready event orders the NCCL op after it.
      cuda::DeviceGuard g(comm_->device);
      cudaStream_t cs = cuda::stream();
      auto* dst = static_cast<char*>(padded.raw_data());
      const auto* src = static_cast<const char*>(in.raw_data());
      MAGMADNN_CUDA_CHECK(cudaMemsetAsync(dst, 0, padded.nbytes(), cs));
      for (int r = 0; r < p; ++r) {
        auto [b, e] = chunk_range(n, r);
        if (e > b)
          MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(dst + r * chunk * es, src + b * es, (e - b) * es,
                                              cudaMemcpyDeviceToDevice, cs));
      }
    }
    return launch(what, {in, out, padded, mine}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclReduceScatter(padded.raw_data(), mine.raw_data(), chunk, ty, reduce_op(op), c, s), what,
                   "ncclReduceScatter");
      if (count > 0)
        MAGMADNN_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), mine.raw_data(), count * es, cudaMemcpyDeviceToDevice, s));
    });
  }

  // A one-element all-reduce; its wait() blocks the host (with the deadline), as a barrier should.
  std::shared_ptr<Work> barrier_async() override {
    if (!barrier_buf_.defined()) barrier_buf_ = zeros({1}, kFloat32, Device::cuda(comm_->device));
    Tensor b = barrier_buf_;
    return launch("barrier", {b}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclAllReduce(b.raw_data(), b.raw_data(), 1, ncclFloat32, ncclSum, c, s), "barrier", "ncclAllReduce");
    }, false, /*host_wait=*/true);
  }

  // NCCL has no tags: messages between two ranks arrive in the order they were sent, whatever
  // their tags. Messages to oneself go through a per-tag mailbox (device copies), as in the
  // local group (NCCL only pairs a send to self with a recv in the same group call).
  std::shared_ptr<Work> send_async(const Tensor& t, int dst, int tag) override {
    if (on_host(t)) {
      send_async(staged(t), dst, tag)->synchronize();
      return local_work("send", {});
    }
    check_tensor(t, "send");
    check_peer(dst, "send");
    const std::string what = "send(to rank " + std::to_string(dst) + ", tag " + std::to_string(tag) + ")";
    if (dst == rank()) {
      comm_->check_usable(what);
      mailbox_[tag].push_back(t.clone());
      return local_work(what, {});
    }
    const ncclDataType_t ty = nccl_type(t.dtype(), "send");
    return launch(what, {t}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclSend(t.raw_data(), t.numel(), ty, dst, c, s), what, "ncclSend");
    }, t.numel() == 0);
  }

  std::shared_ptr<Work> recv_async(Tensor& t, int src, int tag) override {
    if (on_host(t)) {
      Tensor d = empty(t.shape(), t.dtype(), Device::cuda(comm_->device));
      recv_async(d, src, tag)->synchronize();
      return copied_back(t, d, "recv");
    }
    check_tensor(t, "recv");
    check_peer(src, "recv");
    const std::string what = "recv(from rank " + std::to_string(src) + ", tag " + std::to_string(tag) + ")";
    if (src == rank()) {
      comm_->check_usable(what);
      auto it = mailbox_.find(tag);
      MAGMADNN_CHECK(it != mailbox_.end() && !it->second.empty(), comm_->who(), ": ", what,
                     ": no message to itself with tag ", tag, " (send to oneself before receiving)");
      Tensor m = it->second.front();
      MAGMADNN_CHECK(m.numel() == t.numel() && m.dtype() == t.dtype(), comm_->who(), ": ", what, ": message of ",
                     m.numel(), " ", m.dtype(), " elements does not fit a buffer of ", t.numel(), " ", t.dtype());
      it->second.pop_front();
      t.copy_(m.reshape(t.shape()));
      return local_work(what, {});
    }
    const ncclDataType_t ty = nccl_type(t.dtype(), "recv");
    return launch(what, {t}, [&](ncclComm_t c, cudaStream_t s) {
      comm_->check(ncclRecv(t.raw_data(), t.numel(), ty, src, c, s), what, "ncclRecv");
    }, t.numel() == 0);
  }

 private:
  static ncclRedOp_t reduce_op(ReduceOp op) { return op == ReduceOp::Avg ? ncclAvg : ncclSum; }

  // Queues `enqueue` on the NCCL stream after everything queued so far on the compute stream and
  // returns its Work. `empty`: nothing to move (NCCL is not called; every rank skips alike).
  std::shared_ptr<Work> launch(const std::string& what, std::vector<Tensor> keep,
                               const std::function<void(ncclComm_t, cudaStream_t)>& enqueue, bool empty = false,
                               bool host_wait = false) {
    comm_->check_usable(what);
    comm_->check_async_error(what);
    comm_->timeout = timeout_;
    cuda::DeviceGuard g(comm_->device);
    auto w = std::make_shared<NcclWork>(comm_, what, std::move(keep), host_wait);
    MAGMADNN_CUDA_CHECK(cudaEventRecord(comm_->ready, cuda::stream()));
    MAGMADNN_CUDA_CHECK(cudaStreamWaitEvent(comm_->stream, comm_->ready, 0));
    if (!empty) enqueue(comm_->comm, comm_->stream);
    w->record(comm_->stream);
    MAGMADNN_CUDA_CHECK(cudaEventRecord(comm_->last, comm_->stream));
    return w;
  }

  // Work done on the compute stream only (messages to oneself): complete in stream order.
  std::shared_ptr<Work> local_work(const std::string& what, std::vector<Tensor> keep) {
    comm_->timeout = timeout_;
    cuda::DeviceGuard g(comm_->device);
    auto w = std::make_shared<NcclWork>(comm_, what, std::move(keep), false);
    w->record(cuda::stream());
    return w;
  }

  // CPU tensors (the small ones of the CLI's bookkeeping: metrics, sizes, serialised state) go
  // through a device copy: the operation completes before returning, and the result is copied
  // back; the returned Work is already done.
  static bool on_host(const Tensor& t) { return t.defined() && t.device().is_cpu(); }
  Tensor staged(const Tensor& t) const { return t.contiguous().to(Device::cuda(comm_->device)); }
  std::shared_ptr<Work> copied_back(Tensor& host, const Tensor& device_copy, const char* what) {
    host.copy_(device_copy);  // a device-to-host copy: waits for it
    return local_work(what, {});
  }

  void check_tensor(const Tensor& t, const char* op) const {
    const Device want = Device::cuda(comm_->device);
    MAGMADNN_CHECK(t.defined(), "ProcessGroup(nccl)::", op, ": undefined tensor");
    MAGMADNN_CHECK(t.device() == want, "ProcessGroup(nccl)::", op, ": needs a contiguous CUDA tensor on ", want,
                   " (the group's device) or a CPU tensor, got one on ", t.device(), " with shape ", t.shape());
    MAGMADNN_CHECK(t.is_contiguous(), "ProcessGroup(nccl)::", op, ": needs a contiguous tensor on ", want,
                   ", got shape ", t.shape(), " with strides that are not row-major (call .contiguous())");
  }
  static void check_floating(const Tensor& t, const char* op) {
    MAGMADNN_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, "ProcessGroup(nccl)::", op,
                   ": ReduceOp::Avg needs a floating tensor, got ", t.dtype());
  }
  void check_peer(int r, const char* op) const {
    MAGMADNN_CHECK(r >= 0 && r < size(), "ProcessGroup(nccl)::", op, ": rank ", r, " out of range for a group of size ",
                   size());
  }

  std::shared_ptr<NcclComm> comm_;
  Tensor barrier_buf_;
  std::map<int, std::deque<Tensor>> mailbox_;
};

// The world size mpirun (OpenMPI or a PMI launcher) gave this process; 1 when not launched.
int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

}  // namespace

std::shared_ptr<ProcessGroup> make_nccl_process_group() {
  MAGMADNN_CHECK(cuda::device_count() > 0, "init_process_group(\"nccl\"): no CUDA device (", cuda::unavailable_reason(),
                 ")");
  int device = 0;
  MAGMADNN_CUDA_CHECK(cudaGetDevice(&device));
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  int rank = 0, size = 1;
  const int world = launched_world_size();
  if (world > 1) {
#ifdef MAGMADNN_WITH_MPI
    // Rank 0 makes the id and broadcasts it over MPI (with a trailing ok byte, so a failure on
    // rank 0 is an error on every rank instead of a hang).
    auto mpi = make_mpi_process_group();
    rank = mpi->rank();
    size = mpi->size();
    Tensor bytes = zeros({static_cast<int64_t>(sizeof(id)) + 1}, kUInt8);
    std::string failure;
    if (rank == 0) {
      const ncclResult_t r = ncclGetUniqueId(&id);
      if (r == ncclSuccess) {
        std::memcpy(bytes.raw_data(), &id, sizeof(id));
        bytes.data<uint8_t>()[sizeof(id)] = 1;
      } else {
        failure = ncclGetErrorString(r);
      }
    }
    mpi->broadcast(bytes, 0);
    MAGMADNN_CHECK(bytes.data<uint8_t>()[sizeof(id)] == 1, "init_process_group(\"nccl\"): ncclGetUniqueId failed on rank 0",
                   failure.empty() ? "" : ": ", failure);
    std::memcpy(&id, bytes.raw_data(), sizeof(id));
#else
    MAGMADNN_ERROR("init_process_group(\"nccl\"): launched with ", world,
                   " ranks, but this build of MagmaDNN has no MPI to bootstrap NCCL with (MAGMADNN_WITH_MPI=OFF)");
#endif
  } else {
    const ncclResult_t r = ncclGetUniqueId(&id);
    MAGMADNN_CHECK(r == ncclSuccess, "init_process_group(\"nccl\"): ncclGetUniqueId failed: ", ncclGetErrorString(r));
  }
  return std::make_shared<NcclProcessGroup>(id, rank, size, device);
}

}  // namespace magmadnn::dist::detail
