// Pipeline (see dist/pipeline.h): stage split, the GPipe schedule (all micro-batches forward,
// then all backward in reverse), activation transfer with a shape header, and the gather of the
// stages' state dicts. Tags: micro-batch m uses 4m (header), 4m + 1 (activation), 4m + 2
// (gradient); MPI keeps messages between two ranks in order, the tags make mismatches loud.
#include "magmadnn/dist/pipeline.h"

#include <algorithm>
#include <limits>

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/ops/ops.h"

namespace magmadnn::dist {

namespace {
constexpr int64_t kMaxDims = 8;
constexpr int kGatherTag = 30000;

int fwd_tag(int64_t m) {
  return static_cast<int>(4 * m);
}
int grad_tag(int64_t m) {
  return static_cast<int>(4 * m + 2);
}

// The (key, tensor) pairs of modules [begin, end) of `modules` under the whole model's names, in
// a fixed order (module by module, each module's state dict in key order).
std::vector<std::pair<std::string, Tensor>> named_state(
    const std::vector<std::shared_ptr<nn::Module>>& modules, size_t first_index) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t j = 0; j < modules.size(); ++j)
    for (auto& [name, t] : modules[j]->state_dict())
      out.emplace_back(std::to_string(first_index + j) + "." + name, t);
  return out;
}
}  // namespace

std::vector<size_t> Pipeline::balance_by_parameters(const nn::Sequential& model, int stages) {
  const size_t n = model.size();
  MAGMADNN_CHECK(stages >= 1 && static_cast<size_t>(stages) <= n, "Pipeline: the model has ", n,
                 " modules, fewer than the ", stages, " stages (one per rank)");
  std::vector<int64_t> prefix(n + 1, 0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + model[i]->num_parameters();
  // best[s][j]: the smallest possible largest stage when modules [0, j) form s stages.
  const int64_t inf = std::numeric_limits<int64_t>::max();
  std::vector<std::vector<int64_t>> best(stages + 1, std::vector<int64_t>(n + 1, inf));
  std::vector<std::vector<size_t>> from(stages + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (size_t j = s; j <= n; ++j)
      for (size_t i = s - 1; i < j; ++i) {
        if (best[s - 1][i] == inf) continue;
        const int64_t cost = std::max(best[s - 1][i], prefix[j] - prefix[i]);
        if (cost < best[s][j]) {
          best[s][j] = cost;
          from[s][j] = i;
        }
      }
  std::vector<size_t> splits(stages - 1);
  size_t j = n;
  for (int s = stages; s > 1; --s) j = splits[s - 2] = from[s][j];
  return splits;
}

Pipeline::Pipeline(std::shared_ptr<nn::Sequential> model, std::shared_ptr<ProcessGroup> group,
                   PipelineOptions options)
    : group_(std::move(group)), options_(std::move(options)) {
  MAGMADNN_CHECK(model != nullptr, "Pipeline: the model is null");
  MAGMADNN_CHECK(group_ != nullptr, "Pipeline: the process group is null");
  MAGMADNN_CHECK(options_.micro_batches() >= 1, "Pipeline: micro_batches must be at least 1, got ",
                 options_.micro_batches());
  const size_t n = model->size();
  const int S = group_->size();
  MAGMADNN_CHECK(n >= static_cast<size_t>(S), "Pipeline: the model has ", n, " modules, fewer than the ", S,
                 " stages (one per rank)");
  std::vector<size_t> splits = options_.split_points();
  if (splits.empty() && S > 1) splits = balance_by_parameters(*model, S);
  MAGMADNN_CHECK(splits.size() == static_cast<size_t>(S - 1), "Pipeline: ", S, " stages need ", S - 1,
                 " split points, got ", splits.size());
  bounds_ = {0};
  for (size_t p : splits) {
    MAGMADNN_CHECK(p > bounds_.back() && p < n, "Pipeline: split points must be strictly increasing in (0, ",
                   n, "), got ", p, " after ", bounds_.back());
    bounds_.push_back(p);
  }
  bounds_.push_back(n);
  if (!options_.loss())
    options_.loss([](const Tensor& out, const Tensor& target) { return cross_entropy(out, target); });

  stage_ = group_->rank();
  for (int s = 0; s < S; ++s) {
    std::vector<std::shared_ptr<nn::Module>> mods;
    for (size_t i = bounds_[s]; i < bounds_[s + 1]; ++i) mods.push_back((*model)[i]);
    std::vector<TensorMeta> meta;
    for (auto& [key, t] : named_state(mods, bounds_[s])) meta.push_back({key, t.shape(), t.dtype()});
    stage_meta_.push_back(std::move(meta));
    if (s == stage_) {
      stage_module_ = std::make_shared<nn::Sequential>();
      for (auto& m : mods) stage_module_->push_back(m);
    }
  }
}

std::pair<size_t, size_t> Pipeline::stage_range(int stage) const {
  MAGMADNN_CHECK(stage >= 0 && stage < num_stages(), "Pipeline: stage ", stage, " out of range for ",
                 num_stages(), " stages");
  return {bounds_[stage], bounds_[stage + 1]};
}

std::vector<int64_t> Pipeline::agree_on_batch(const Tensor& x, const Tensor& y, bool training) {
  // [input batch (first stage), target batch (last stage)]; -1 where the tensor is missing.
  std::vector<int64_t> mine{0, 0};
  if (is_first_stage()) mine[0] = x.defined() && x.dim() >= 1 ? x.size(0) : -1;
  if (is_last_stage() && training) mine[1] = y.defined() && y.dim() >= 1 ? y.size(0) : -1;
  Tensor info = from_vector<int64_t>(mine, {2});
  group_->all_reduce(info);
  const auto v = info.to_vector<int64_t>();
  const int64_t B = v[0], M = options_.micro_batches();
  const char* op = training ? "Pipeline::train_step" : "Pipeline::forward";
  MAGMADNN_CHECK(B >= 1, op, ": the first stage (rank 0) needs a defined input batch");
  if (training) {
    MAGMADNN_CHECK(v[1] >= 0, op, ": the last stage (rank ", num_stages() - 1, ") needs defined targets");
    MAGMADNN_CHECK(v[1] == B, op, ": the input batch has ", B, " samples but the targets have ", v[1]);
    MAGMADNN_CHECK(B >= M, op, ": a batch of ", B, " samples cannot be cut into ", M, " micro-batches");
  }
  const int64_t parts = std::min(B, M);
  std::vector<int64_t> sizes(parts, B / parts);
  for (int64_t m = 0; m < B % parts; ++m) ++sizes[m];
  return sizes;
}

Tensor Pipeline::recv_activation(int tag) {
  Tensor header = Tensor::empty({kMaxDims + 2}, kInt64);
  group_->recv(header, stage_ - 1, tag);
  const auto h = header.to_vector<int64_t>();
  Tensor t = Tensor::empty(Shape(std::vector<int64_t>(h.begin() + 2, h.begin() + 2 + h[0])),
                           static_cast<DType>(h[1]));
  group_->recv(t, stage_ - 1, tag + 1);
  return t;
}

void Pipeline::send_activation(const Tensor& t, int tag, std::vector<std::shared_ptr<Work>>& pending,
                               std::vector<Tensor>& keep) {
  MAGMADNN_CHECK(t.dim() <= kMaxDims, "Pipeline: stage ", stage_, " produced an activation of ", t.dim(),
                 " dimensions; at most ", kMaxDims, " can be sent");
  std::vector<int64_t> h(kMaxDims + 2, 0);
  h[0] = t.dim();
  h[1] = static_cast<int64_t>(t.dtype());
  for (int64_t d = 0; d < t.dim(); ++d) h[2 + d] = t.size(d);
  Tensor header = from_vector<int64_t>(h, {kMaxDims + 2});
  Tensor data = t.detach().contiguous();
  pending.push_back(group_->send_async(header, stage_ + 1, tag));
  pending.push_back(group_->send_async(data, stage_ + 1, tag + 1));
  keep.push_back(header);
  keep.push_back(data);
}

namespace {
std::vector<Tensor> split_rows(const Tensor& t, const std::vector<int64_t>& sizes) {
  std::vector<Tensor> out;
  int64_t begin = 0;
  for (int64_t s : sizes) {
    out.push_back(t.slice(0, begin, begin + s).contiguous());
    begin += s;
  }
  return out;
}

void wait_all(std::vector<std::shared_ptr<Work>>& pending, std::vector<Tensor>& keep) {
  for (auto& w : pending) w->wait();
  pending.clear();
  keep.clear();
}
}  // namespace

float Pipeline::train_step(const Tensor& x, const Tensor& y) {
  const std::vector<int64_t> sizes = agree_on_batch(x, y, true);
  const int64_t M = static_cast<int64_t>(sizes.size());
  double B = 0;
  for (int64_t s : sizes) B += static_cast<double>(s);
  std::vector<Tensor> xs, ys;
  if (is_first_stage()) xs = split_rows(x, sizes);
  if (is_last_stage()) ys = split_rows(y, sizes);

  std::vector<Tensor> inputs(M), outputs(M), losses(M);
  std::vector<std::shared_ptr<Work>> pending;
  std::vector<Tensor> keep;
  double total = 0;
  // Forward: each micro-batch goes on as soon as it is computed, so stage k works on micro-batch
  // m + 1 while stage k + 1 works on m.
  for (int64_t m = 0; m < M; ++m) {
    Tensor in = is_first_stage() ? xs[m] : recv_activation(fwd_tag(m));
    if (!is_first_stage()) in.set_requires_grad(true);
    Tensor out = stage_module_->forward(in);
    if (is_last_stage()) {
      Tensor l = options_.loss()(out, ys[m]);
      MAGMADNN_CHECK(l.numel() == 1, "Pipeline: the loss must be one value, got ", l.shape());
      // Weighted by the micro-batch's share, so the sum is the mean over the whole batch.
      losses[m] = l * (static_cast<double>(sizes[m]) / B);
      total += losses[m].detach().to(kFloat64).item<double>();
    } else {
      send_activation(out, fwd_tag(m), pending, keep);
    }
    inputs[m] = in;
    outputs[m] = out;
  }
  wait_all(pending, keep);
  // Backward in reverse order; the stage's parameter gradients accumulate over micro-batches.
  for (int64_t m = M - 1; m >= 0; --m) {
    if (is_last_stage()) {
      if (losses[m].requires_grad()) losses[m].backward();
    } else {
      Tensor g = Tensor::empty(outputs[m].shape(), outputs[m].dtype());
      group_->recv(g, stage_ + 1, grad_tag(m));
      if (outputs[m].requires_grad()) outputs[m].backward(g);
    }
    if (!is_first_stage()) {
      Tensor gi = inputs[m].grad();
      if (!gi.defined()) gi = zeros(inputs[m].shape(), inputs[m].dtype());
      gi = gi.contiguous();
      keep.push_back(gi);
      pending.push_back(group_->send_async(gi, stage_ - 1, grad_tag(m)));
    }
    outputs[m] = losses[m] = inputs[m] = Tensor();  // frees the micro-batch's graph
  }
  wait_all(pending, keep);
  Tensor loss = from_vector<double>({total}, {1});
  group_->broadcast(loss, num_stages() - 1);
  return static_cast<float>(loss.to_vector<double>()[0]);
}

Tensor Pipeline::forward(const Tensor& x) {
  NoGradGuard no_grad;
  const std::vector<int64_t> sizes = agree_on_batch(x, Tensor(), false);
  std::vector<Tensor> xs, outs;
  if (is_first_stage()) xs = split_rows(x, sizes);
  std::vector<std::shared_ptr<Work>> pending;
  std::vector<Tensor> keep;
  for (size_t m = 0; m < sizes.size(); ++m) {
    Tensor out = stage_module_->forward(is_first_stage() ? xs[m] : recv_activation(fwd_tag(m)));
    if (is_last_stage())
      outs.push_back(out);
    else
      send_activation(out, fwd_tag(m), pending, keep);
  }
  wait_all(pending, keep);
  if (!is_last_stage()) return Tensor();
  return outs.size() == 1 ? outs[0] : concat(outs, 0);
}

std::map<std::string, Tensor> Pipeline::stage_state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [key, t] : named_state(stage_module_->children(), bounds_[stage_])) out.emplace(key, t);
  return out;
}

std::map<std::string, Tensor> Pipeline::gather_state_dict(int root) const {
  MAGMADNN_CHECK(root >= 0 && root < num_stages(), "Pipeline::gather_state_dict: root ", root,
                 " out of range for ", num_stages(), " ranks");
  std::map<std::string, Tensor> result;
  if (stage_ != root) {
    for (auto& [key, t] : named_state(stage_module_->children(), bounds_[stage_]))
      group_->send(t.contiguous(), root, kGatherTag);
    return result;
  }
  for (auto& [key, t] : stage_state_dict()) result.emplace(key, t.clone());
  for (int s = 0; s < num_stages(); ++s) {
    if (s == root) continue;
    for (const TensorMeta& meta : stage_meta_[s]) {
      Tensor t = Tensor::empty(meta.shape, meta.dtype);
      group_->recv(t, s, kGatherTag);
      result.emplace(meta.key, t);
    }
  }
  return result;
}

void Pipeline::load_state_dict(const std::map<std::string, Tensor>& whole_model) {
  // "12.weight" -> module 12, key "weight"; stage_module_ names module 12 "12 - first index".
  std::map<std::string, Tensor> mine;
  const auto [begin, end] = stage_range(stage_);
  for (auto& [key, t] : whole_model) {
    const size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || key.find_first_not_of("0123456789") != dot) continue;
    const size_t index = std::stoul(key.substr(0, dot));
    if (index < begin || index >= end) continue;
    mine.emplace(std::to_string(index - begin) + key.substr(dot), t);
  }
  stage_module_->load_state_dict(mine);
}

}  // namespace magmadnn::dist
