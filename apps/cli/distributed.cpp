// `magmadnn train --distributed ddp|pipeline`; see distributed.h.
#include "cli/distributed.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "magmadnn/backend/cuda.h"

namespace magmadnn::cli {

namespace {

// The process group that carries a run's collectives, chosen by the device its tensors live on.
// "auto" is MPI under mpirun, which moves host memory only: a run on CUDA devices needs a group
// that moves device memory, named here when the library has one.
struct GroupChoice {
  std::string backend;         // the name init_process_group() takes
  bool moves_device_memory;    // whether it takes CUDA tensors
};

GroupChoice choose_process_group(DeviceType device) {
  switch (device) {
    case DeviceType::CPU:
      return {"auto", false};
    case DeviceType::CUDA:  // NCCL between GPUs when built with it; MPI (CPU tensors only) otherwise
      return dist::nccl_available() ? GroupChoice{"nccl", true} : GroupChoice{"auto", false};
  }
  return {"auto", false};
}

// A non-negative integer from the environment variable `name`, or -1.
int env_index(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n >= 0 && n < (1 << 20)) ? static_cast<int>(n) : -1;
}

}  // namespace

DistributedRun::DistributedRun(const TrainArgs& a) : args_(a) {
  MAGMADNN_CHECK(!a.sync_batchnorm || a.distributed == "ddp", "--sync-batchnorm needs --distributed ddp, got --distributed ",
                 a.distributed);
  if (a.distributed == "none") return;
  MAGMADNN_CHECK(a.distributed == "ddp" || a.distributed == "pipeline", "--distributed ", a.distributed,
                 ": expected ddp or pipeline");
  MAGMADNN_CHECK(a.dist_timeout > 0, "--dist-timeout must be positive, got ", a.dist_timeout);
  if (a.distributed == "pipeline") {
    MAGMADNN_CHECK(a.checkpoint_minutes == 0,
                   "--checkpoint-minutes is not supported with --distributed pipeline "
                   "(its checkpoints gather every stage: use --checkpoint-every N steps)");
  }
  const Device requested = Device::parse(a.device);
  const GroupChoice group = choose_process_group(requested.type);
  MAGMADNN_CHECK(requested.is_cpu() || group.moves_device_memory, "--distributed ", a.distributed, " --device ",
                 a.device, ": the ", group.backend == "auto" ? "MPI" : group.backend,
                 " process group of this build moves CPU tensors only; use --device cpu");
  if (group.backend == "nccl") {
    // NCCL binds the group to the current device: select this rank's GPU before creating it (the
    // global rank is not known yet; the launcher's local rank is, or this is the only rank).
    (void)backend_for(device(requested));
  }
  group_ = dist::init_process_group(group.backend);
  group_->set_timeout(std::chrono::milliseconds(static_cast<int64_t>(a.dist_timeout * 1000)));
  if (a.distributed == "pipeline") {
    MAGMADNN_CHECK(group_->size() >= 2, "--distributed pipeline needs at least 2 ranks (mpirun -np N), got ",
                   group_->size());
  }
  MAGMADNN_CHECK(per_rank_batch_size() >= 1, "--batch-size ", a.batch_size, " is smaller than the ",
                 world_size(), " ranks");
}

DistributedRun::~DistributedRun() = default;

std::string DistributedRun::describe() const {
  if (!enabled()) return "";
  std::ostringstream os;
  os << ", " << args_.distributed << " over " << world_size() << " ranks";
  if (args_.device != "cpu") os << " (rank 0 on " << device(Device::parse(args_.device)).str() << ")";
  if (args_.distributed == "ddp") os << " (" << per_rank_batch_size() << " samples per rank and step)";
  if (args_.distributed == "pipeline") os << " (" << args_.micro_batches << " micro-batches per step)";
  return os.str();
}

int DistributedRun::local_rank() const {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
    const int r = env_index(name);
    if (r >= 0) return r;
  }
  return rank();
}

Device DistributedRun::device(Device requested) const {
  if (args_.distributed == "none" || !requested.is_cuda() || args_.device != "cuda") return requested;
  const int n = cuda::device_count();
  MAGMADNN_CHECK(n > 0, "--device cuda: no CUDA device: ", cuda::unavailable_reason());
  return Device::cuda(local_rank() % n);
}

int64_t DistributedRun::per_rank_batch_size() const {
  return args_.distributed == "ddp" ? args_.batch_size / world_size() : args_.batch_size;
}

data::DataLoaderOptions DistributedRun::train_loader_options() const {
  auto o = data::DataLoaderOptions(per_rank_batch_size()).shuffle(true).seed(args_.seed);
  if (args_.distributed == "ddp") o.num_shards(world_size()).shard(rank());
  return o;
}

std::shared_ptr<nn::Module> DistributedRun::wrap(std::shared_ptr<nn::Module> model) {
  if (args_.distributed == "ddp") {
    // The batch norms are replaced inside the model's tree; the root stays `model`, so the
    // optimizer (made afterwards) and the checkpoints see the new layers under the same names.
    if (args_.sync_batchnorm) {
      const bool same_root = dist::convert_sync_batchnorm(model, group_) == model;
      MAGMADNN_CHECK(same_root, "--sync-batchnorm: ", args_.model, " is a bare batch-norm layer");
    }
    return std::make_shared<dist::DistributedDataParallel>(model, group_);
  }
  if (args_.distributed == "pipeline") {
    auto seq = std::dynamic_pointer_cast<nn::Sequential>(model);
    if (auto resnet = std::dynamic_pointer_cast<models::ResNet>(model)) {
      // Stages of stem / residual blocks / pool+fc; each block stays whole on one rank.
      seq = resnet->as_sequential();
      std::map<const void*, std::string> by_storage;
      for (const auto& [name, t] : model->state_dict()) by_storage[t.raw_data()] = name;
      for (const auto& [name, t] : seq->state_dict()) model_names_[name] = by_storage.at(t.raw_data());
    }
    MAGMADNN_CHECK(seq != nullptr, "--distributed pipeline: ", args_.model, " is not a Sequential model");
    const int64_t micro = std::max<int64_t>(1, std::min<int64_t>(args_.micro_batches, args_.batch_size));
    pipeline_ = std::make_shared<dist::Pipeline>(seq, group_, dist::PipelineOptions().micro_batches(micro).loss(loss_for(args_.dataset)));
  }
  return model;
}

std::vector<Tensor> DistributedRun::parameters(const nn::Module& model) const {
  if (!pipeline_) return model.parameters();
  std::vector<Tensor> params = pipeline_->parameters();
  // A stage without weights (the balanced split may give one rank a lone Flatten) still runs an
  // optimizer: over a placeholder that never gets a gradient, so it is never changed.
  if (params.empty()) params.push_back(zeros({1}).requires_grad_(true));
  return params;
}

void DistributedRun::configure(train::TrainerOptions& options, optim::Optimizer& optimizer,
                               data::DataLoader& eval_loader) {
  if (!pipeline_) return;
  MAGMADNN_CHECK(args_.label_smoothing == 0,
                 "--label-smoothing is not supported with --distributed pipeline");
  auto pipe = pipeline_;
  // Each rank steps its own stage; the loss (mean over the batch) arrives on every rank. The
  // last stage alone sees the logits, so train accuracy is not counted (reported as 0).
  // --clip-grad-norm: the norm over the whole model, each stage's sum of squares added over the ranks.
  auto group = group_;
  const double clip = args_.clip_grad_norm;
  options.step = [pipe, group, clip, &optimizer](const data::Example& batch, int64_t* correct) {
    optimizer.zero_grad();
    const double loss = pipe->train_step(batch.input, batch.target);
    if (clip > 0)
      nn::utils::clip_grad_norm_(pipe->parameters(), clip, 2.0, /*error_if_nonfinite=*/false,
                                 [&group](Tensor& partial) { group->all_reduce(partial, dist::ReduceOp::Sum); });
    optimizer.step();
    if (correct) *correct = 0;
    return loss;
  };
  options.evaluate = [this, &eval_loader, loss = loss_for(args_.dataset)] {
    return evaluate(*pipeline_->stage(), eval_loader, loss);
  };
}

train::EvalMetrics DistributedRun::evaluate(nn::Module& model, data::DataLoader& loader,
                                            const train::LossFn& loss) const {
  if (!pipeline_) return train::evaluate(model, loader, loss);
  const auto& pipe = pipeline_;
  const bool was_training = pipe->stage()->is_training();
  pipe->stage()->eval();
  double loss_sum = 0, correct = 0, samples = 0;
  for (const data::Example& batch : loader) {
    Tensor out = pipe->forward(batch.input);
    if (pipe->is_last_stage()) {
      const int64_t n = batch.input.size(0);
      loss_sum += loss(out, batch.target).item<double>() * n;
      correct += static_cast<double>(train::count_correct(out, batch.target));
      samples += static_cast<double>(n);
    }
  }
  pipe->stage()->train(was_training);
  Tensor sums = from_vector<double>({loss_sum, correct, samples});
  group_->broadcast(sums, pipe->num_stages() - 1);  // the last stage's figures to every rank
  const std::vector<double> s = sums.to_vector<double>();
  train::EvalMetrics m;
  m.samples = static_cast<int64_t>(s[2]);
  if (s[2] > 0) {
    m.loss = s[0] / s[2];
    m.accuracy = s[1] / s[2];
  }
  return m;
}

namespace {

Tensor bytes_tensor(const std::string& bytes) {
  Tensor t = empty({static_cast<int64_t>(bytes.size())}, DType::UInt8);
  if (!bytes.empty()) std::memcpy(t.raw_data(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_bytes(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.numel()));
}

}  // namespace

void DistributedRun::configure_checkpoints(train::TrainerOptions& options, optim::Optimizer& optimizer) {
  if (!pipeline_) return;
  // The stages' weights are gathered on rank 0; each stage's optimizer state and generator state
  // (dropout masks differ between stages) are gathered as "stage<s>.<key>" and "stage<s>.rng".
  // Both are collectives on the same steps on every rank. (`this` outlives the trainer.)
  auto group = group_;
  options.model_state = [this] { return gathered_state_dict(); };
  options.optimizer_state = [group, &optimizer] {
    auto mine = optimizer.state_dict();
    mine["rng"] = bytes_tensor(default_generator().state());
    std::vector<Tensor> all;
    group->all_gather(bytes_tensor(io::serialize_safetensors(mine)), all);
    train::StateDict out;
    for (size_t s = 0; s < all.size(); ++s)
      for (auto& [k, v] : io::parse_safetensors(tensor_bytes(all[s]), "stage " + std::to_string(s)))
        out["stage" + std::to_string(s) + "." + k] = v;
    return out;
  };
  const int rank = group_->rank();
  options.load_optimizer_state = [rank, &optimizer](const train::StateDict& all) {
    const std::string prefix = "stage" + std::to_string(rank) + ".";
    train::StateDict mine;
    for (const auto& [k, v] : all)
      if (k.rfind(prefix, 0) == 0) mine[k.substr(prefix.size())] = v;
    auto rng = mine.find("rng");
    MAGMADNN_CHECK(rng != mine.end(), "no optimizer state for pipeline stage ", rank,
                   " (written with fewer ranks, or without --distributed pipeline?)");
    const std::string rng_state = tensor_bytes(rng->second);
    mine.erase(rng);
    optimizer.load_state_dict(mine);
    default_generator().set_state(rng_state);
  };
}

std::map<std::string, Tensor> DistributedRun::full_state_dict(const nn::Module& model) const {
  return pipeline_ ? gathered_state_dict() : model.state_dict();
}

std::map<std::string, Tensor> DistributedRun::gathered_state_dict() const {
  std::map<std::string, Tensor> whole = pipeline_->gather_state_dict(0);
  if (model_names_.empty()) return whole;
  std::map<std::string, Tensor> renamed;
  for (auto& [name, t] : whole) renamed[model_names_.at(name)] = t;
  return renamed;
}

void DistributedRun::finish() {
  if (!group_) return;
  group_->barrier();
  dist::finalize();
}

void DistributedRun::fail(const std::string& message) const {
  std::cout.flush();
  std::cerr << "magmadnn: error: " << message << std::endl;
  std::_Exit(1);
}

}  // namespace magmadnn::cli
