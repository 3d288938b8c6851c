// The magmadnn CLI's subcommands: arguments as parsed by main.cpp, and the functions that run
// them. Each returns the process exit code; errors are thrown as magmadnn::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/datasets.h"
#include "magmadnn/core/device.h"
#include "magmadnn/data/dataloader.h"
#include "magmadnn/data/dataset.h"
#include "magmadnn/data/transforms.h"
#include "magmadnn/models/models.h"
#include "magmadnn/optim/lr_scheduler.h"
#include "magmadnn/optim/optimizer.h"
#include "magmadnn/train/trainer.h"

namespace magmadnn::cli {

struct CommonArgs {
  std::string model = "mlp";
  std::string dataset = "fashion-mnist";
  std::string data_dir;  // defaults per dataset
  int64_t batch_size = 128;
  int threads = 0;  // 0: OpenMP's default
  uint64_t seed = 0;
  std::string device = "cpu";
  bool tf32 = false;        // TF32 in cuDNN convolutions and cuBLAS matmuls (CUDA only)
  bool cudnn_benchmark = false;  // time cuDNN's convolution algorithms once per shape (CUDA only)
  bool bf16 = false;        // bf16 inputs, fp32 accumulation in oneDNN convolutions and matmuls (CPU only)
  std::string metrics_out;  // JSON object written at the end
};

struct TrainArgs : CommonArgs {
  int64_t epochs = 1;
  std::string optimizer = "sgd";
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 0;
  std::string save;         // safetensors weights
  std::string log;          // JSON lines, one per epoch
  std::string progress = "auto";
  std::string scheduler = "none";  // none, step, cosine, plateau (per epoch); onecycle (per batch)
  int64_t step_size = 10;          // step: epochs between decays
  double gamma = 0.1;              // step, plateau: decay factor
  int64_t max_batches = 0;         // per epoch, 0 = all
  double label_smoothing = 0;      // cross-entropy against (1 - e) one-hot + e uniform
  std::string augment;             // random crops / flips of training images (data::parse_augmentation)
  double clip_grad_norm = 0;       // rescale the gradients to this total 2-norm at most (0: off)
  int64_t accumulate_grad_batches = 1;  // optimizer step after the gradients of this many batches
  double val_fraction = 0;         // hold out this share of the training set for per-epoch evaluation
  int64_t early_stopping = 0;      // stop after this many epochs without a better validation loss (0: off)
  std::string save_best;           // weights of the epoch with the lowest validation loss
  std::string checkpoint;          // full training checkpoint (train/checkpoint.h), rank 0 writes
  int64_t checkpoint_every = 0;    // steps between checkpoints (0: at epoch ends only)
  double checkpoint_minutes = 0;   // minutes between checkpoints (0: off)
  std::string resume;              // continue from this checkpoint
  int64_t stop_after_steps = 0;    // end the run (after a checkpoint) at this global step
  std::string distributed = "none";  // none, ddp, pipeline (under mpirun)
  double dist_timeout = 300;       // seconds a collective may take before the run stops
  int64_t micro_batches = 4;       // pipeline
  bool sync_batchnorm = false;     // ddp: batch-norm statistics over all ranks (SyncBatchNorm)
  bool cuda_graph = false;         // capture the training step into a CUDA graph and replay it
};

struct EvalArgs : CommonArgs {
  std::string weights;
  bool fuse = false;    // fold BatchNorm into convolutions, fuse bias + ReLU
  bool report = false;  // per-class precision / recall / F1 and the confusion matrix
};

struct BenchArgs : CommonArgs {
  int64_t batches = 100;
  int64_t warmup = 10;
  double lr = 0.05;
  double momentum = 0.9;
  bool cuda_graph = false;
};

struct PredictArgs : CommonArgs {
  std::string weights;
  std::string input;   // .npy, or an IDX images file (gzipped or not)
  std::string output;  // CSV; standard output when empty
  int64_t top = 1;     // classes per sample, most probable first
};

struct ExportArgs : CommonArgs {
  std::string weights;
  std::string output;  // .onnx
  bool fuse = false;   // fold BatchNorm into convolutions first
};

struct HpoArgs : TrainArgs {
  std::string space;         // "lr=log:1e-4:0.1,optimizer=sgd|adam" (train/hpo.h)
  int64_t trials = 9;
  int64_t eta = 3;           // successive halving: keep the best 1/eta, eta times the epochs
  int64_t min_epochs = 1;    // rung 0's budget
  int64_t max_epochs = 0;    // cap (0: none)
  double val_fraction = 0.1; // of the training set, held out to score the trials
  std::string out;           // JSON lines, one per trial
};

// The math a command's flags ask for on its device: --tf32 and --cudnn-benchmark (CUDA only),
// --bf16 (CPU only, on CPUs with bf16 dot products).
struct MathFlags {
  bool tf32 = false;             // TF32 in cuDNN convolutions and cuBLAS matmuls
  bool cudnn_benchmark = false;  // convolution algorithms chosen by timing them
  bool bf16 = false;             // float32 convolutions and matmuls on bf16 inputs (set_allow_bf16)
};

// The device a --device flag names ("cpu", "cuda", "cuda:N"), checked usable on this machine and
// build, with `math` checked against it and applied (one clear error otherwise).
Device parse_device_flag(const std::string& text, const MathFlags& math = {});

// The help text of --bf16, shared by the commands that take it.
extern const char* const kBf16Help;
extern const char* const kAugmentHelp;
extern const char* const kClipGradNormHelp;
extern const char* const kAccumulateHelp;

// Shared by the subcommands: threads and seed from the arguments, then --device (as above; "cuda"
// is cuda:0 here, a distributed run picks its rank's device). The data sets: cli/datasets.h.
Device setup(const CommonArgs& a);
// The optimizer --optimizer names, with --lr, --momentum and --weight-decay.
std::shared_ptr<optim::Optimizer> make_optimizer(const TrainArgs& a, const std::vector<Tensor>& params);
// Writes `j` (indented) to `path` atomically: the --metrics-out files of every subcommand.
void write_json_atomic(const std::string& path, const nlohmann::json& j);

// A seeded split of n samples for the applications' --test-fraction: a random permutation's first
// round(test_fraction * n) rows are the test rows, the rest the training rows. Throws Error naming
// `op` when either part would be empty.
struct RowSplit {
  std::vector<int64_t> train, test;
};
RowSplit split_rows(int64_t n, double test_fraction, uint64_t seed, const std::string& op);

// One epoch of the applications' plain training loop (ising, spacegroup): for each batch (at most
// max_batches; 0 = all) loss_fn(batch), zero_grad, backward, optimizer step, scheduler step. The
// losses are summed on `device` and read once at the end: no host synchronisation per step.
struct EpochStats {
  double mean_loss = 0;
  int64_t batches = 0;
  double seconds = 0;
};
EpochStats train_epoch(data::DataLoader& loader, optim::Optimizer& optimizer, optim::LRScheduler& schedule,
                       Device device, const std::function<Tensor(const data::Example&)>& loss_fn,
                       int64_t max_batches = 0);

int run_train(const TrainArgs& args);
int run_eval(const EvalArgs& args);
int run_bench(const BenchArgs& args);
int run_predict(const PredictArgs& args);
int run_hpo(const HpoArgs& args);
int run_info();
int run_export(const ExportArgs& args);

struct SummaryArgs {
  std::string model = "mlp";
  std::string dataset = "fashion-mnist";  // its input shape
  int64_t batch_size = 1;
  std::string metrics_out;  // the table as JSON
};
// The model's layers, output shapes, parameters and multiply-accumulates (nn::summarize).
int run_summary(const SummaryArgs& args);

}  // namespace magmadnn::cli
