// LocalProcessGroup: the single-process group, so code written for distributed training runs
// (and every build links) without MPI. Collectives over one rank are copies or no-ops; send/recv
// to oneself go through a per-tag mailbox.
#include <cstring>
#include <deque>
#include <map>

#include "dist/backends.h"
#include "magmadnn/core/error.h"

namespace magmadnn::dist::detail {
namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
  bool is_completed() override { return true; }
};

class LocalProcessGroup : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  using ProcessGroup::all_gather;

  std::shared_ptr<Work> all_reduce_async(Tensor& t, ReduceOp) override {
    check_buffer(t, "all_reduce");
    return done();
  }
  std::shared_ptr<Work> broadcast_async(Tensor& t, int root) override {
    check_buffer(t, "broadcast");
    check_peer(root, "broadcast");
    return done();
  }
  std::shared_ptr<Work> all_gather_async(const Tensor& in, Tensor& out) override {
    check_buffer(in, "all_gather");
    check_buffer(out, "all_gather");
    MAGMADNN_CHECK(out.numel() == in.numel() && out.dtype() == in.dtype(), "ProcessGroup::all_gather: output needs ",
                   in.numel(), " elements of ", in.dtype(), ", got ", out.shape(), " ", out.dtype());
    std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
    return done();
  }
  void all_gather(const Tensor& in, std::vector<Tensor>& out) override {
    check_buffer(in, "all_gather");
    out = {in.clone()};
  }
  std::shared_ptr<Work> reduce_scatter_async(const Tensor& in, Tensor& out, ReduceOp) override {
    return all_gather_async(in, out);
  }
  std::shared_ptr<Work> barrier_async() override { return done(); }
  std::shared_ptr<Work> send_async(const Tensor& t, int dst, int tag) override {
    check_buffer(t, "send");
    check_peer(dst, "send");
    mailbox_[tag].push_back(t.clone());
    return done();
  }
  std::shared_ptr<Work> recv_async(Tensor& t, int src, int tag) override {
    check_buffer(t, "recv");
    check_peer(src, "recv");
    auto it = mailbox_.find(tag);
    MAGMADNN_CHECK(it != mailbox_.end() && !it->second.empty(), "ProcessGroup(local)::recv: rank 0 has no message with tag ",
                   tag, " (a single process must send before it receives)");
    Tensor m = it->second.front();
    it->second.pop_front();
    MAGMADNN_CHECK(m.numel() == t.numel() && m.dtype() == t.dtype(), "ProcessGroup(local)::recv: message of ", m.numel(),
                   " ", m.dtype(), " elements does not fit a buffer of ", t.numel(), " ", t.dtype());
    std::memcpy(t.raw_data(), m.raw_data(), t.nbytes());
    return done();
  }

 private:
  static std::shared_ptr<Work> done() { return std::make_shared<DoneWork>(); }
  static void check_peer(int r, const char* op) {
    MAGMADNN_CHECK(r == 0, "ProcessGroup(local)::", op, ": rank ", r, " out of range for a group of size 1");
  }
  std::map<int, std::deque<Tensor>> mailbox_;
};

}  // namespace

std::shared_ptr<ProcessGroup> make_local_process_group() { return std::make_shared<LocalProcessGroup>(); }

}  // namespace magmadnn::dist::detail
