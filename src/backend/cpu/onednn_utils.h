// Shared oneDNN plumbing for the CPU conv/pool/batch-norm kernels: one engine and one stream,
// a primitive cache keyed by shapes and parameters, and "edges" that reorder between our plain
// NCHW tensors and whatever layout a primitive chose, with every buffer (reordered copies,
// scratchpads, workspaces) taken from the caching allocator.
#pragma once

#include <dnnl.hpp>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "magmadnn/core/tensor.h"

namespace magmadnn::cpu::onednn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;

inline dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
inline dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}
// Scratchpads come from our allocator (user mode) rather than oneDNN allocating per call.
inline dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

// Cache key: the raw bytes of the integers that determine a primitive.
class Key {
 public:
  Key& operator<<(int64_t v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    s_.append(b, sizeof v);
    return *this;
  }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

// Entries are created once per key and never evicted: a network has few distinct shapes.
template <class Entry>
class PrimitiveCache {
 public:
  template <class Make>
  std::shared_ptr<Entry> get(const Key& key, Make&& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = map_.find(key.str());
    if (it != map_.end()) return it->second;
    auto e = std::make_shared<Entry>(make());
    map_.emplace(key.str(), e);
    return e;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> map_;
};

// Bytes from the caching allocator, alive as long as the returned tensor.
inline Tensor scratch_bytes(size_t bytes) {
  return Tensor::empty({static_cast<int64_t>(std::max<size_t>(bytes, 1))}, kUInt8);
}

// Between a user buffer (plain layout) and a primitive's argument (its chosen layout).
struct Edge {
  dnnl::memory::desc user, prim;
  bool same = true;
  dnnl::reorder reorder;  // user -> prim for inputs, prim -> user for outputs

  Edge() = default;
  Edge(const dnnl::memory::desc& u, const dnnl::memory::desc& p, bool input) : user(u), prim(p), same(u == p) {
    if (!same) {
      reorder = input ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), u, engine(), p))
                      : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), p, engine(), u));
    }
  }
};

// Per-call state: memories bound to tensors and the temporaries that must outlive execution.
class Exec {
 public:
  // The primitive-side memory for an input: the user buffer itself, or a reordered copy.
  dnnl::memory input(const Edge& e, const void* data) {
    dnnl::memory u(e.user, engine(), const_cast<void*>(data));
    if (e.same) return u;
    dnnl::memory p = temp(e.prim);
    e.reorder.execute(stream(), u, p);
    return p;
  }
  // The primitive-side memory for an output; finish() copies it back when layouts differ.
  dnnl::memory output(const Edge& e, void* data) {
    dnnl::memory u(e.user, engine(), data);
    if (e.same) return u;
    dnnl::memory p = temp(e.prim);
    pending_.push_back({&e, p, u});
    return p;
  }
  dnnl::memory temp(const dnnl::memory::desc& d) {
    keep_.push_back(scratch_bytes(d.get_size()));
    return dnnl::memory(d, engine(), keep_.back().raw_data());
  }
  void add_scratchpad(std::unordered_map<int, dnnl::memory>& args, const dnnl::memory::desc& d) {
    if (d.get_size() > 0) args.insert({DNNL_ARG_SCRATCHPAD, temp(d)});
  }
  void finish() {
    for (auto& p : pending_) p.edge->reorder.execute(stream(), p.prim, p.user);
    stream().wait();
  }

 private:
  struct Pending {
    const Edge* edge;
    dnnl::memory prim, user;
  };
  std::vector<Tensor> keep_;
  std::vector<Pending> pending_;
};

inline dnnl::memory::desc plain_md(const dims& d, tag t) { return dnnl::memory::desc(d, dt::f32, t); }

}  // namespace magmadnn::cpu::onednn
