// MpiProcessGroup: collectives over MPI (non-blocking MPI_I* calls on a duplicated communicator)
// for CPU tensors. wait() polls MPI_Test against the group's deadline so a peer that never joins
// gives an Error naming the rank and the operation rather than a hang.
#include <mpi.h>

#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "dist/backends.h"
#include "magmadnn/core/error.h"

namespace magmadnn::dist::detail {
namespace {

// Initialises MPI once per process (if the program has not) and finalises it at exit, or at
// dist::finalize(), only if it was the one that initialised it.
struct MpiEnv {
  bool owned = false;
  int thread_level = MPI_THREAD_SINGLE;
  std::vector<MPI_Request> orphans;  // timed-out requests whose buffers the group keeps alive
  std::vector<Tensor> orphan_buffers;
  std::mutex mutex;

  void ensure_init() {
    std::lock_guard<std::mutex> lock(mutex);
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    MAGMADNN_CHECK(!finalized, "init_process_group(\"mpi\"): MPI was already finalised");
    if (!inited) {
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &thread_level);
      owned = true;
    } else {
      MPI_Query_thread(&thread_level);
    }
  }
  void finalize() {
    std::lock_guard<std::mutex> lock(mutex);
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!owned || !inited || finalized) return;
    // Requests abandoned after a timeout: give their peers one more chance, then leave them
    // (finalising with them pending could block).
    for (MPI_Request& r : orphans) {
      int done = 0;
      for (int i = 0; i < 2000 && !done; ++i) {
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
        if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (!done) MPI_Request_free(&r);
    }
    orphans.clear();
    orphan_buffers.clear();
    MPI_Finalize();
  }
  ~MpiEnv() { finalize(); }
};

MpiEnv& env() {
  static MpiEnv e;
  return e;
}

MPI_Datatype mpi_type(DType t, const char* op) {
  switch (t) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    case DType::Int32: return MPI_INT32_T;
    case DType::UInt8: return MPI_UINT8_T;
  }
  MAGMADNN_ERROR("ProcessGroup(mpi)::", op, ": unsupported dtype ", t);
}

int to_int(int64_t n, const char* op) {
  MAGMADNN_CHECK(n <= INT32_MAX, "ProcessGroup(mpi)::", op, ": ", n, " elements exceed MPI's int count");
  return static_cast<int>(n);
}

class MpiWork : public Work {
 public:
  MpiWork(std::string what, int rank, int size, std::chrono::milliseconds timeout, std::vector<Tensor> keep)
      : what_(std::move(what)), rank_(rank), size_(size), timeout_(timeout), keep_(std::move(keep)) {}
  ~MpiWork() override {
    // Dropped without wait(): the buffers must outlive the request, so hand both to the env.
    if (!done_ && request_ != MPI_REQUEST_NULL) orphan();
  }
  MPI_Request* request() { return &request_; }
  void on_complete(std::function<void()> f) { finish_ = std::move(f); }

  bool is_completed() override {
    if (done_) return true;
    int flag = 0;
    MPI_Test(&request_, &flag, MPI_STATUS_IGNORE);
    if (flag) complete();
    return done_;
  }
  void wait() override {
    MAGMADNN_CHECK(!failed_, "ProcessGroup(mpi): rank ", rank_, " of ", size_, ": ", what_, " already timed out");
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout_, spin_until = start + std::chrono::milliseconds(5);
    while (!is_completed()) {
      const auto now = std::chrono::steady_clock::now();
      if (now > deadline) {
        failed_ = true;
        orphan();
        MAGMADNN_ERROR("ProcessGroup(mpi): rank ", rank_, " of ", size_, ": ", what_, " did not complete within ",
                       timeout_.count(), " ms (a peer rank did not join it, died, or is stuck)");
      }
      // MPI advances a non-blocking collective only inside MPI_Test, so a sleeping rank delays
      // its peers. Poll with yields for the first 5 ms (a yield hands the core to a peer when
      // ranks oversubscribe the cores, and returns at once otherwise), then sleep between polls
      // so a long wait does not burn a core. (Sleeping after 100 polls cost ~300 us per small
      // all-reduce with 2 ranks.)
      if (now < spin_until) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  void complete() {
    done_ = true;
    if (finish_) finish_();
  }
  void orphan() {
    auto& e = env();
    std::lock_guard<std::mutex> lock(e.mutex);
    e.orphans.push_back(request_);
    for (auto& t : keep_) e.orphan_buffers.push_back(t);
    request_ = MPI_REQUEST_NULL;
    done_ = true;
  }

  std::string what_;
  int rank_, size_;
  std::chrono::milliseconds timeout_;
  std::vector<Tensor> keep_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  std::function<void()> finish_;
  bool done_ = false, failed_ = false;
};

class MpiProcessGroup : public ProcessGroup {
 public:
  MpiProcessGroup() {
    env().ensure_init();
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiProcessGroup() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  using ProcessGroup::all_gather;

  std::shared_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    check_buffer(t, "all_reduce");
    auto w = work("all_reduce(" + std::to_string(t.numel()) + " elements)", {t});
    MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), to_int(t.numel(), "all_reduce"), mpi_type(t.dtype(), "all_reduce"),
                   MPI_SUM, comm_, w->request());
    if (op == ReduceOp::Avg) {
      Tensor tt = t;
      const int p = size_;
      w->on_complete([tt, p]() mutable { divide_(tt, p); });
    }
    return w;
  }
  std::shared_ptr<Work> broadcast_async(Tensor& t, int root) override {
    check_buffer(t, "broadcast");
    check_peer(root, "broadcast");
    auto w = work("broadcast(root " + std::to_string(root) + ", " + std::to_string(t.numel()) + " elements)", {t});
    MPI_Ibcast(t.raw_data(), to_int(t.numel(), "broadcast"), mpi_type(t.dtype(), "broadcast"), root, comm_,
               w->request());
    return w;
  }
  std::shared_ptr<Work> all_gather_async(const Tensor& in, Tensor& out) override {
    check_buffer(in, "all_gather");
    check_buffer(out, "all_gather");
    MAGMADNN_CHECK(out.numel() == in.numel() * size_ && out.dtype() == in.dtype(), "ProcessGroup::all_gather: output needs ",
                   in.numel() * size_, " elements of ", in.dtype(), ", got ", out.shape(), " ", out.dtype());
    auto w = work("all_gather(" + std::to_string(in.numel()) + " elements)", {in, out});
    const MPI_Datatype ty = mpi_type(in.dtype(), "all_gather");
    const int n = to_int(in.numel(), "all_gather");
    MPI_Iallgather(in.raw_data(), n, ty, out.raw_data(), n, ty, comm_, w->request());
    return w;
  }
  void all_gather(const Tensor& in, std::vector<Tensor>& out) override {
    check_buffer(in, "all_gather");
    MAGMADNN_CHECK(in.dim() >= 1, "ProcessGroup::all_gather: needs at least one dimension, got a scalar");
    // Exchange first dimensions, then gather the rows with counts per rank.
    Tensor rows = empty({size_}, kInt64);
    Tensor mine = empty({1}, kInt64);
    mine.data<int64_t>()[0] = in.shape()[0];
    all_gather(mine, rows);
    const int64_t row = in.shape()[0] == 0 ? 0 : in.numel() / in.shape()[0];
    std::vector<int> counts(size_), displs(size_);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      counts[r] = to_int(rows.data<int64_t>()[r] * row, "all_gather");
      displs[r] = to_int(total, "all_gather");
      total += counts[r];
    }
    Tensor all = empty({total}, in.dtype());
    auto w = work("all_gather(" + std::to_string(in.numel()) + " of " + std::to_string(total) + " elements)", {in, all});
    const MPI_Datatype ty = mpi_type(in.dtype(), "all_gather");
    MPI_Iallgatherv(in.raw_data(), counts[rank_], ty, all.raw_data(), counts.data(), displs.data(), ty, comm_,
                    w->request());
    w->wait();
    out.clear();
    std::vector<int64_t> dims(in.shape().begin(), in.shape().end());
    for (int r = 0; r < size_; ++r) {
      dims[0] = rows.data<int64_t>()[r];
      out.push_back(all.slice(0, displs[r], displs[r] + counts[r]).reshape(Shape(dims)).clone());
    }
  }
  std::shared_ptr<Work> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp op) override {
    check_buffer(in, "reduce_scatter");
    check_buffer(out, "reduce_scatter");
    std::vector<int> counts(size_);
    for (int r = 0; r < size_; ++r) {
      auto [b, e] = chunk_range(in.numel(), r);
      counts[r] = to_int(e - b, "reduce_scatter");
    }
    MAGMADNN_CHECK(out.numel() == counts[rank_] && out.dtype() == in.dtype(), "ProcessGroup::reduce_scatter: rank ",
                   rank_, " needs an output of ", counts[rank_], " ", in.dtype(), " elements, got ", out.shape(), " ",
                   out.dtype());
    auto w = work("reduce_scatter(" + std::to_string(in.numel()) + " elements)", {in, out});
    MPI_Ireduce_scatter(in.raw_data(), out.raw_data(), counts.data(), mpi_type(in.dtype(), "reduce_scatter"), MPI_SUM,
                        comm_, w->request());
    if (op == ReduceOp::Avg) {
      Tensor tt = out;
      const int p = size_;
      w->on_complete([tt, p]() mutable { divide_(tt, p); });
    }
    return w;
  }
  std::shared_ptr<Work> barrier_async() override {
    auto w = work("barrier", {});
    MPI_Ibarrier(comm_, w->request());
    return w;
  }
  std::shared_ptr<Work> send_async(const Tensor& t, int dst, int tag) override {
    check_buffer(t, "send");
    check_peer(dst, "send");
    auto w = work("send(to rank " + std::to_string(dst) + ", tag " + std::to_string(tag) + ")", {t});
    MPI_Isend(t.raw_data(), to_int(t.numel(), "send"), mpi_type(t.dtype(), "send"), dst, tag, comm_, w->request());
    return w;
  }
  std::shared_ptr<Work> recv_async(Tensor& t, int src, int tag) override {
    check_buffer(t, "recv");
    check_peer(src, "recv");
    auto w = work("recv(from rank " + std::to_string(src) + ", tag " + std::to_string(tag) + ")", {t});
    MPI_Irecv(t.raw_data(), to_int(t.numel(), "recv"), mpi_type(t.dtype(), "recv"), src, tag, comm_, w->request());
    return w;
  }

 private:
  std::shared_ptr<MpiWork> work(const std::string& what, std::vector<Tensor> keep) {
    return std::make_shared<MpiWork>(what, rank_, size_, timeout_, std::move(keep));
  }
  void check_peer(int r, const char* op) const {
    MAGMADNN_CHECK(r >= 0 && r < size_, "ProcessGroup(mpi)::", op, ": rank ", r, " out of range for a group of size ",
                   size_);
  }
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::shared_ptr<ProcessGroup> make_mpi_process_group() { return std::make_shared<MpiProcessGroup>(); }
void mpi_finalize() { env().finalize(); }

}  // namespace magmadnn::dist::detail
