// Data-parallel training over MPI ranks (or one GPU per rank with NCCL): each rank reads its
// shard of every epoch, trains a replica on it, and DistributedDataParallel averages the
// gradients during backward; SyncBatchNorm makes batch norm see the global batch, so N ranks
// train as one process would on the whole batch. Rank 0 alone prints and saves.
//
//   mpirun -np 2 build/examples/example_distributed_ddp [data dir] [batches per epoch, 0 = all]
//   (without mpirun: one rank, the same program)
#include <cstdlib>
#include <iostream>

#include <magmadnn/magmadnn.h>

using namespace magmadnn;

int main(int argc, char** argv) try {
  const std::string dir = argc > 1 ? argv[1] : data::kFashionMnistDir;
  const int64_t max_batches = argc > 2 ? std::atoll(argv[2]) : 0;
  // "auto": MPI under mpirun (in a build with MPI), else a single-process group.
  std::shared_ptr<dist::ProcessGroup> group = dist::init_process_group("auto");
  const bool root = group->rank() == 0;
  manual_seed(0);  // every rank builds the same initial model (DDP also broadcasts rank 0's)

  data::Normalize normalize({data::kFashionMnistMean}, {data::kFashionMnistStd});
  auto train_set = data::load_mnist(dir, true), test_set = data::load_mnist(dir, false);
  data::normalize_inplace(*train_set, normalize);
  data::normalize_inplace(*test_set, normalize);
  // A global batch of 128: each of the N ranks takes 128 / N samples per step from its shard of
  // the same seeded permutation (rank r: positions r, r + N, ...).
  const int64_t global_batch = 128, ranks = group->size();
  data::DataLoader train_loader(
      train_set, data::DataLoaderOptions(global_batch / ranks).shuffle(true).seed(0).num_shards(ranks).shard(group->rank()));
  data::DataLoader test_loader(test_set, data::DataLoaderOptions(1000));

  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 16, 3).padding(1)), std::make_shared<nn::BatchNorm2d>(16),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(16 * 14 * 14, 10));
  dist::convert_sync_batchnorm(net, group);  // BatchNorm2d -> SyncBatchNorm, in place
  auto ddp = std::make_shared<dist::DistributedDataParallel>(net, group);
  auto sgd = std::make_shared<optim::SGD>(ddp->parameters(), optim::SGDOptions(0.05).momentum(0.9));

  train::TrainerOptions options;
  options.epochs = 1;
  options.max_batches = max_batches;
  options.progress = root ? train::ProgressMode::Auto : train::ProgressMode::None;
  train::Trainer trainer(ddp, sgd, options);
  // Every rank evaluates its identical replica on the whole test set, so all agree on it.
  const auto history = trainer.fit(train_loader, &test_loader);
  if (root) {
    std::cout << ranks << (ranks == 1 ? " rank" : " ranks") << ": test accuracy " << history.back().test_accuracy
              << "\n";
    io::save_module(*net, "ddp_example.safetensors");  // the inner model: loads without DDP or MPI
  }
  dist::finalize();
  return 0;
} catch (const Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
