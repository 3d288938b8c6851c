// magmadnn: the command-line tool. Parses arguments with CLI11 and runs one subcommand;
// any error becomes one line on stderr and a non-zero exit status.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

#include "cli/validators.h"
#include "cli/commands.h"
#include "ising/ising_cli.h"
#include "spacegroup/spacegroup_cli.h"
#include "magmadnn/core/error.h"

namespace {

const char* const kModelHelp =
    "mlp, mlp:W1,W2,... (hidden widths, e.g. mlp:256,128), lenet, resnet18 or resnet34";

// --dataset: a built-in name or a NumPy archive (checked here by name; the file when it is read).
const CLI::Validator kDatasetFlag(
    [](std::string& value) { return magmadnn::cli::check_dataset_flag(value); }, "DATASET", "");

// A CSV table's flags, on every command that reads --dataset (one TableOptions for the process:
// one command runs). `flags` collects them, to tell whether any was passed.
magmadnn::cli::TableOptions table_options;
std::vector<CLI::Option*> table_flags;

void add_table_options(CLI::App* cmd) {
  table_flags.push_back(cmd->add_option("--target", table_options.target,
                                        "CSV tables: the target column, or columns comma-separated for a "
                                        "regression of several (default: the last column)"));
  table_flags.push_back(cmd->add_option("--ignore-columns", table_options.ignore,
                                        "CSV tables: columns that are neither features nor targets, "
                                        "comma-separated (an id, a date)"));
  table_flags.push_back(cmd->add_option("--task", table_options.task,
                                        "CSV tables: classification, regression, or auto (text labels or integers "
                                        "with at most 20 distinct values classify)")
                            ->check(CLI::IsMember({"auto", "classification", "regression"}))
                            ->capture_default_str());
  table_flags.push_back(cmd->add_option("--test-fraction", table_options.test_fraction,
                                        "CSV tables: the share of rows in the test split, chosen with a fixed seed "
                                        "(the same for every command)")
                            ->check(CLI::Validator(
                                [](std::string& text) -> std::string {
                                  char* end = nullptr;
                                  const double v = std::strtod(text.c_str(), &end);
                                  if (text.empty() || *end != '\0' || !(v > 0 && v < 1))
                                    return "must be a number between 0 and 1 (exclusive), got '" + text + "'";
                                  return "";
                                },
                                "FRACTION"))
                            ->capture_default_str());
}

void add_common(CLI::App* cmd, magmadnn::cli::CommonArgs& a, bool with_dataset = true) {
  cmd->add_option("--model", a.model, kModelHelp)->capture_default_str();
  cmd->add_option("--dataset", a.dataset,
                  with_dataset ? std::string(magmadnn::cli::kDatasetHelp)
                               : std::string("the data set whose input shape, outputs and normalisation to use: ") +
                                     magmadnn::cli::kDatasetHelp)
      ->check(kDatasetFlag)
      ->capture_default_str();
  add_table_options(cmd);
  if (with_dataset) {
    cmd->add_option("--data-dir", a.data_dir,
                    "folder with the IDX files or CIFAR-10 batches (default /usr/share/datasets/fashion-mnist "
                    "for fashion-mnist)");
  }
  cmd->add_option("--batch-size", a.batch_size, "samples per batch")->check(magmadnn::cli::Positive)->capture_default_str();
  cmd->add_option("--threads", a.threads, "CPU threads (default: all cores)")->check(magmadnn::cli::Positive);
  cmd->add_option("--seed", a.seed, "random seed")->capture_default_str();
  cmd->add_option("--device", a.device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--tf32", a.tf32,
                "CUDA: allow TensorFloat-32 in cuDNN convolutions and cuBLAS matmuls (PyTorch's default for "
                "convolutions); plain fp32 otherwise");
  cmd->add_flag("--bf16", a.bf16, magmadnn::cli::kBf16Help);
  cmd->add_flag("--cudnn-benchmark", a.cudnn_benchmark,
                "CUDA: choose each convolution's cuDNN algorithm by timing them all on its first call "
                "(torch.backends.cudnn.benchmark); cuDNN's heuristics otherwise");
  cmd->add_option("--metrics-out", a.metrics_out, "write final metrics to this JSON file");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace magmadnn::cli;
  CLI::App app{"MagmaDNN: train, evaluate, tune, apply and benchmark neural networks on CPUs and GPUs"};
  app.require_subcommand(1);

  TrainArgs train_args;
  CLI::App* train = app.add_subcommand("train", "train a model on a data set");
  add_common(train, train_args);
  train->add_option("--epochs", train_args.epochs, "passes over the training set")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--optimizer", train_args.optimizer, "sgd, adam, adamw, adagrad or rmsprop")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "adagrad", "rmsprop"}))
      ->capture_default_str();
  train->add_option("--lr", train_args.lr, "learning rate")->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--momentum", train_args.momentum, "momentum (sgd, rmsprop)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  train->add_option("--weight-decay", train_args.weight_decay, "L2 penalty (decoupled for adamw)")->check(magmadnn::cli::NonNegative);
  train->add_option("--save", train_args.save, "save the trained weights (safetensors)");
  train->add_option("--log", train_args.log, "append per-epoch metrics as JSON lines");
  train->add_option("--progress", train_args.progress, "auto, bar, lines or none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}))
      ->capture_default_str();

  train->add_option("--scheduler", train_args.scheduler,
                    "learning-rate schedule: none, step, cosine (per epoch, to 0 over --epochs), plateau (on test loss) or "
                    "onecycle (per batch, peaking at --lr after 30% of the steps)")
      ->check(CLI::IsMember({"none", "step", "cosine", "plateau", "onecycle"}))
      ->capture_default_str();
  train->add_option("--step-size", train_args.step_size, "epochs between decays (--scheduler step)")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--gamma", train_args.gamma, "decay factor (--scheduler step, plateau)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();

  train->add_option("--label-smoothing", train_args.label_smoothing, "cross-entropy label smoothing in [0, 1)")
      ->check(CLI::Range(0.0, 0.99))->capture_default_str();
  train->add_option("--augment", train_args.augment, kAugmentHelp);
  train->add_option("--clip-grad-norm", train_args.clip_grad_norm, kClipGradNormHelp)->check(magmadnn::cli::NonNegative);
  train->add_option("--accumulate-grad-batches", train_args.accumulate_grad_batches, kAccumulateHelp)
      ->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--val-fraction", train_args.val_fraction,
                    "hold out this share of the training set (seeded by --seed): the per-epoch evaluation, "
                    "--scheduler plateau, --early-stopping and --save-best use it, the test set is evaluated once "
                    "at the end")
      ->check(CLI::Range(0.0, 0.9));
  train->add_option("--early-stopping", train_args.early_stopping,
                    "stop after this many epochs without a lower validation loss (needs --val-fraction)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--save-best", train_args.save_best,
                    "save the weights of the epoch with the lowest validation loss here (needs --val-fraction)");
  train->add_option("--max-batches", train_args.max_batches, "stop each epoch after this many batches (0: all)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--checkpoint", train_args.checkpoint,
                    "write a full training checkpoint here (atomically) at each epoch end and every --checkpoint-every steps");
  train->add_option("--checkpoint-every", train_args.checkpoint_every, "steps between checkpoints (0: epoch ends only)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--checkpoint-minutes", train_args.checkpoint_minutes, "minutes between checkpoints (0: off)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--resume", train_args.resume, "continue the run saved in this checkpoint (same arguments)");
  train->add_option("--stop-after-steps", train_args.stop_after_steps,
                    "stop after this many steps in total, writing --checkpoint first (e.g. a job's time limit)")
      ->check(magmadnn::cli::NonNegative);
  train->add_option("--distributed", train_args.distributed,
                    "under mpirun: ddp (data parallel, --batch-size split over the ranks) or pipeline (the model's "
                    "layers split into stages, one per rank)")
      ->check(CLI::IsMember({"none", "ddp", "pipeline"}))
      ->capture_default_str();
  train->add_option("--dist-timeout", train_args.dist_timeout, "seconds a collective may take before the run stops")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_option("--micro-batches", train_args.micro_batches, "micro-batches per step (--distributed pipeline)")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  train->add_flag("--sync-batchnorm", train_args.sync_batchnorm,
                  "with --distributed ddp: each batch norm normalises over the global batch of all ranks "
                  "(SyncBatchNorm), as one process training on the whole batch would");
  train->add_flag("--cuda-graph", train_args.cuda_graph,
                  "capture the training step into a CUDA graph after 3 warm-up steps and replay it for every "
                  "full batch (--device cuda; sgd, rmsprop or adagrad; not with onecycle)");

  EvalArgs eval_args;
  CLI::App* eval = app.add_subcommand("eval", "evaluate saved weights on the test set");
  add_common(eval, eval_args);
  eval->add_option("--weights", eval_args.weights, "weights saved by `magmadnn train --save`")->required();
  eval->add_flag("--fuse", eval_args.fuse, "fold BatchNorm into convolutions and fuse bias+ReLU before evaluating");
  eval->add_flag("--report", eval_args.report,
                 "also print per-class precision, recall and F1 (with macro averages) and the confusion matrix");

  HpoArgs hpo_args;
  CLI::App* hpo = app.add_subcommand(
      "hpo", "hyperparameter search: random configurations, successive halving, scored on held-out training data");
  add_common(hpo, hpo_args);
  hpo->add_option("--space", hpo_args.space,
                  "what to search, e.g. \"lr=log:1e-4:0.1,momentum=0.8:0.99,batch_size=32|64|128,optimizer=sgd|adam\" "
                  "(names: lr, momentum, weight_decay, label_smoothing, batch_size, optimizer)")
      ->required();
  hpo->add_option("--trials", hpo_args.trials, "configurations drawn")->check(magmadnn::cli::Positive)->capture_default_str();
  hpo->add_option("--eta", hpo_args.eta, "keep the best 1/eta per rung, eta times the epochs (1: plain random search)")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  hpo->add_option("--min-epochs", hpo_args.min_epochs, "epochs of the first rung")->check(magmadnn::cli::Positive)->capture_default_str();
  hpo->add_option("--max-epochs", hpo_args.max_epochs, "no rung beyond this many epochs (0: no cap)")
      ->check(magmadnn::cli::NonNegative);
  hpo->add_option("--val-fraction", hpo_args.val_fraction, "share of the training set held out to score the trials")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  hpo->add_option("--out", hpo_args.out, "write every trial as a JSON line to this file");
  hpo->add_option("--optimizer", hpo_args.optimizer, "when not searched")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "adagrad", "rmsprop"}))->capture_default_str();
  hpo->add_option("--lr", hpo_args.lr, "when not searched")->check(magmadnn::cli::Positive)->capture_default_str();
  hpo->add_option("--momentum", hpo_args.momentum, "when not searched")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  hpo->add_option("--weight-decay", hpo_args.weight_decay, "when not searched")->check(magmadnn::cli::NonNegative);
  hpo->add_option("--label-smoothing", hpo_args.label_smoothing, "when not searched")->check(CLI::Range(0.0, 0.999));
  hpo->add_option("--augment", hpo_args.augment, kAugmentHelp);
  hpo->add_option("--clip-grad-norm", hpo_args.clip_grad_norm, kClipGradNormHelp)->check(magmadnn::cli::NonNegative);
  hpo->add_option("--max-batches", hpo_args.max_batches, "stop each epoch after this many batches (0: all)")
      ->check(magmadnn::cli::NonNegative);

  PredictArgs predict_args;
  CLI::App* predict = app.add_subcommand(
      "predict", "classify the images of a .npy or IDX file, or the rows of a table, with saved weights "
                 "(CSV); regression values for a regression data set");
  add_common(predict, predict_args, /*with_dataset=*/false);
  predict->add_option("--weights", predict_args.weights, "weights saved by `magmadnn train --save`")->required();
  predict->add_option("--input", predict_args.input,
                      ".npy (uint8 pixels, or float32/float64 in [0, 1]; (N, C, H, W), (N, H, W) or (N, H, W, C)) "
                      "or an IDX images file, gzipped or not; for a --dataset FILE.npz, a .npy of samples shaped "
                      "as its x_train's, raw values as there; for a --dataset FILE.csv, a .csv table holding its "
                      "feature columns by name (in any order, other columns ignored)")
      ->required();
  predict->add_option("--output", predict_args.output, "CSV file (written atomically); standard output when absent");
  predict->add_option("--top", predict_args.top, "classes per image, most probable first")->capture_default_str();

  BenchArgs bench_args;
  CLI::App* bench = app.add_subcommand("bench", "time training steps on synthetic inputs");
  add_common(bench, bench_args, /*with_dataset=*/false);
  bench->add_option("--batches", bench_args.batches, "timed training steps")->check(magmadnn::cli::Positive)->capture_default_str();
  bench->add_option("--warmup", bench_args.warmup, "untimed steps first")->check(magmadnn::cli::NonNegative)->capture_default_str();
  bench->add_option("--lr", bench_args.lr, "SGD learning rate")->capture_default_str();
  bench->add_option("--momentum", bench_args.momentum, "SGD momentum")->capture_default_str();
  bench->add_flag("--cuda-graph", bench_args.cuda_graph,
                  "capture the training step into a CUDA graph after warm-up and replay it (--device cuda)");

  ExportArgs export_args;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "saved weights as an ONNX model (opset 13) with the data set's input normalisation built in");
  add_common(export_cmd, export_args, /*with_dataset=*/false);
  export_cmd->add_option("--weights", export_args.weights, "weights saved by `magmadnn train --save`")->required();
  export_cmd->add_option("--output", export_args.output, "the .onnx file (written atomically)")->required();
  export_cmd->add_flag("--fuse", export_args.fuse, "fold each BatchNorm into the convolution before it first");

  CLI::App* info = app.add_subcommand("info", "version, backends, threads, library versions");

  SummaryArgs summary_args;
  CLI::App* summary = app.add_subcommand("summary", "a model's layers, output shapes, parameters and multiply-accumulates");
  summary->add_option("--model", summary_args.model, kModelHelp)->capture_default_str();
  summary->add_option("--dataset", summary_args.dataset,
                      std::string("the data set whose input shape and outputs to use: ") + magmadnn::cli::kDatasetHelp)
      ->check(kDatasetFlag)
      ->capture_default_str();
  add_table_options(summary);
  summary->add_option("--batch-size", summary_args.batch_size, "samples in the traced batch")
      ->check(magmadnn::cli::Positive)->capture_default_str();
  summary->add_option("--metrics-out", summary_args.metrics_out, "also write the table as JSON to this file");

  std::function<int()> run_ising;  // set when an `ising ...` subcommand is parsed
  magmadnn::cli::ising::add_ising_commands(app, run_ising);
  std::function<int()> run_spacegroup;  // set when a `spacegroup ...` subcommand is parsed
  magmadnn::cli::spacegroup::add_spacegroup_commands(app, run_spacegroup);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (const CLI::Option* o : table_flags) table_options.given = table_options.given || o->count() > 0;
  set_table_options(table_options);
  try {
    if (*train) return run_train(train_args);
    if (*eval) return run_eval(eval_args);
    if (*bench) return run_bench(bench_args);
    if (*predict) return run_predict(predict_args);
    if (*hpo) return run_hpo(hpo_args);
    if (*info) return run_info();
    if (*export_cmd) return run_export(export_args);
    if (*summary) return run_summary(summary_args);
    if (run_ising) return run_ising();
    if (run_spacegroup) return run_spacegroup();
  } catch (const magmadnn::Error& e) {
    std::cerr << "magmadnn: error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "magmadnn: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
