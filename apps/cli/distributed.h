// `magmadnn train --distributed ddp|pipeline`: the process group, the model wrapper, the data
// sharding, the pipeline-parallel step and evaluation. Without --distributed every helper is the
// plain single-process behaviour (rank 0 of 1), so run_train reads the same in both cases.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "magmadnn/magmadnn.h"

namespace magmadnn::cli {

class DistributedRun {
 public:
  // Starts the process group (MPI under mpirun) for --distributed ddp|pipeline, with
  // --dist-timeout as the collectives' deadline; checks the options that cannot work together.
  explicit DistributedRun(const TrainArgs& args);
  ~DistributedRun();

  bool enabled() const { return group_ != nullptr; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->size() : 1; }
  bool is_root() const { return rank() == 0; }  // prints, evaluates for the log, writes files
  std::string describe() const;                 // ", ddp over 2 ranks (64 samples per rank and step)"

  // This rank's index among the ranks on its machine: OMPI_COMM_WORLD_LOCAL_RANK (mpirun) or
  // SLURM_LOCALID (srun), else the global rank.
  int local_rank() const;
  // The device this rank trains on, given the checked --device: a plain `--device cuda` of a
  // distributed run is cuda:(local rank % devices on the machine), one GPU per rank; an
  // explicit cuda:N or cpu is taken as it is.
  Device device(Device requested) const;

  // The batch each rank loads: --batch-size / world size for ddp (floor; at least 1), the whole
  // batch for pipeline (stage 0 reads the inputs, the last stage the targets).
  int64_t per_rank_batch_size() const;
  data::DataLoaderOptions train_loader_options() const;

  // The module the Trainer calls (the DDP wrapper for ddp) and the parameters this rank's
  // optimizer updates (its stage's for pipeline). Call wrap() once, before parameters().
  std::shared_ptr<nn::Module> wrap(std::shared_ptr<nn::Module> model);
  std::vector<Tensor> parameters(const nn::Module& model) const;

  // For pipeline: Trainer step and per-epoch evaluation over `eval_loader` (collectives; every
  // rank gets the metrics). Unset otherwise.
  void configure(train::TrainerOptions& options, optim::Optimizer& optimizer, data::DataLoader& eval_loader);
  // Loss and accuracy of `model` over `loader` on every rank: through the stages for pipeline (a
  // collective), else train::evaluate of the whole model (identical replicas under ddp).
  train::EvalMetrics evaluate(nn::Module& model, data::DataLoader& loader,
                              const train::LossFn& loss = train::cross_entropy_loss()) const;

  // For pipeline: checkpoints gather every stage's weights, optimizer and generator state on
  // rank 0, and --resume gives each stage its part back. Unset otherwise.
  void configure_checkpoints(train::TrainerOptions& options, optim::Optimizer& optimizer);

  // The whole model's weights on rank 0 (gathered from the stages for pipeline; collective).
  std::map<std::string, Tensor> full_state_dict(const nn::Module& model) const;

  // Finalises MPI after the last collective (errors in teardown surface here).
  void finish();
  // Prints "magmadnn: error: <message>" (naming this rank) and exits with status 1 at once:
  // after a failed or timed-out collective MPI cannot be finalised cleanly (a peer may be dead).
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const TrainArgs& args_;
  std::shared_ptr<dist::ProcessGroup> group_;
  // The stages' weights gathered on rank 0 under the model's own names (collective).
  std::map<std::string, Tensor> gathered_state_dict() const;

  std::shared_ptr<dist::Pipeline> pipeline_;
  // Pipeline over a non-Sequential model (ResNet::as_sequential): the Sequential's state-dict
  // names -> the model's, so saved weights load into the model (`magmadnn eval`).
  std::map<std::string, std::string> model_names_;
};

}  // namespace magmadnn::cli
