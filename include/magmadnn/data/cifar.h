// CIFAR-10 from its "binary version" files: data_batch_1.bin ... data_batch_5.bin (training) and
// test_batch.bin, each a sequence of 3073-byte records (1 label byte, then 1024 red, 1024 green and
// 1024 blue bytes of a 32x32 image in row-major order). Files may be gzipped (detected by content).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "magmadnn/data/dataset.h"

namespace magmadnn::data {

inline constexpr int64_t kCifar10RecordBytes = 3073;
inline constexpr int64_t kCifar10NumClasses = 10;
// Per-channel (R, G, B) statistics of the training images scaled to [0, 1]; vectors so that
// Normalize(kCifar10Mean, kCifar10Std) takes them as they are.
inline const std::vector<double> kCifar10Mean = {0.4914, 0.4822, 0.4465};
inline const std::vector<double> kCifar10Std = {0.2470, 0.2435, 0.2616};

// The raw content of one batch file.
struct Cifar10Batch {
  Tensor images;  // uint8 (N, 3, 32, 32), channels R, G, B
  Tensor labels;  // int64 (N), class indices in [0, 10)
};

// Reads one batch file. Every problem (missing file, empty file, a length that is not a whole
// number of records, a label outside 0..9, corrupt gzip) throws one line
// "read_cifar10_batch: <path>: <what>"; records are numbered from 0 in messages.
Cifar10Batch read_cifar10_batch(const std::string& path);

// The training split (the five data batches concatenated in order) or the test split found in
// `dir` or in its "cifar-10-batches-bin" subfolder (where the official archive unpacks). Each
// file may also be named <name>.gz. Inputs are float32 (N, 3, 32, 32) in [0, 1] (pixel / 255);
// targets are int64 (N). Errors read "load_cifar10: <path>: <what>".
std::shared_ptr<TensorDataset> load_cifar10(const std::string& dir, bool train);

// The ten class names in label order ("airplane", "automobile", ..., "truck").
std::vector<std::string> cifar10_class_names();
// The class names from batches.meta.txt in `dir` (or its cifar-10-batches-bin subfolder): ten
// non-empty lines, blank lines ignored; the built-in names when the file is absent.
std::vector<std::string> cifar10_class_names(const std::string& dir);

}  // namespace magmadnn::data
