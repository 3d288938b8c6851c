// CIFAR-10 binary reader (see data/cifar.h). Every file is validated in full (length, labels)
// before any tensor is filled, so a bad file fails with one precise line and no partial dataset.
#include "magmadnn/data/cifar.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <type_traits>

#include "io/file_util.h"

namespace magmadnn::data {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;
const char* kSubfolder = "cifar-10-batches-bin";
const char* kExpectedHint =
    "expected data_batch_1.bin ... data_batch_5.bin (training) and test_batch.bin (test) of the "
    "CIFAR-10 binary version, in the folder itself or in its cifar-10-batches-bin subfolder";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The bytes of a batch file, inflated and checked: non-empty, whole records, labels in 0..9.
std::vector<uint8_t> read_records(const std::string& path, const char* op) {
  std::vector<uint8_t> bytes = io::detail::read_file(path, op);
  if (io::detail::is_gzip(bytes)) bytes = io::detail::gunzip(bytes, path, op);
  MAGMADNN_CHECK(!bytes.empty(), op, ": ", path, ": empty file (expected ", kCifar10RecordBytes,
                 "-byte records)");
  MAGMADNN_CHECK(bytes.size() % kCifar10RecordBytes == 0, op, ": ", path, ": truncated: ", bytes.size(),
                 " bytes is not a whole number of ", kCifar10RecordBytes, "-byte records");
  const size_t n = bytes.size() / kCifar10RecordBytes;
  for (size_t r = 0; r < n; ++r) {
    const uint8_t label = bytes[r * kCifar10RecordBytes];
    MAGMADNN_CHECK(label < kCifar10NumClasses, op, ": ", path, ": record ", r, " has label ", int(label),
                   ", expected 0..9");
  }
  return bytes;
}

// Scatters the records of `bytes` into images/labels starting at sample `first`. A record's
// 3072 pixel bytes are already in (C, H, W) order, so each image is one contiguous copy.
template <typename Pixel>
void unpack(const std::vector<uint8_t>& bytes, int64_t first, Pixel* images, int64_t* labels) {
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifar10RecordBytes;
#pragma omp parallel for if (n * kPixels > (1 << 20))
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * kCifar10RecordBytes;
    labels[first + r] = rec[0];
    Pixel* dst = images + (first + r) * kPixels;
    if constexpr (std::is_same_v<Pixel, uint8_t>) {
      std::memcpy(dst, rec + 1, kPixels);
    } else {
      for (int64_t p = 0; p < kPixels; ++p) dst[p] = static_cast<float>(rec[1 + p]) / 255.0f;
    }
  }
}

std::string strip_slashes(const std::string& dir_in) {
  std::string dir = dir_in.empty() ? std::string(".") : dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// `name` or `name`.gz in `dir`; empty when neither exists.
std::string find_batch(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + name + ".gz"})
    if (is_file(candidate)) return candidate;
  return {};
}

// The folder holding the files: `dir` itself when it has `first_file`, else its
// cifar-10-batches-bin subfolder when that exists.
std::string resolve_dir(const std::string& dir, const std::string& first_file) {
  if (!find_batch(dir, first_file).empty()) return dir;
  const std::string sub = dir + "/" + kSubfolder;
  return is_dir(sub) ? sub : dir;
}

void check_dir(const std::string& dir, const char* op) {
  struct stat st {};
  MAGMADNN_CHECK(::stat(dir.c_str(), &st) == 0, op, ": data directory ", dir, " does not exist; ",
                 kExpectedHint);
  MAGMADNN_CHECK(S_ISDIR(st.st_mode), op, ": ", dir, " is not a directory; ", kExpectedHint);
}

}  // namespace

Cifar10Batch read_cifar10_batch(const std::string& path) {
  const std::vector<uint8_t> bytes = read_records(path, "read_cifar10_batch");
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifar10RecordBytes;
  Cifar10Batch out{Tensor::empty({n, 3, 32, 32}, kUInt8), Tensor::empty({n}, kInt64)};
  unpack(bytes, 0, out.images.data<uint8_t>(), out.labels.data<int64_t>());
  return out;
}

std::shared_ptr<TensorDataset> load_cifar10(const std::string& dir_in, bool train) {
  const char* op = "load_cifar10";
  const std::string dir = strip_slashes(dir_in);
  check_dir(dir, op);
  std::vector<std::string> names;
  if (train)
    for (int b = 1; b <= 5; ++b) names.push_back("data_batch_" + std::to_string(b) + ".bin");
  else
    names.push_back("test_batch.bin");
  const std::string root = resolve_dir(dir, names[0]);

  // All files are read and validated before the float tensor (4x their size) is allocated.
  std::vector<std::vector<uint8_t>> files;
  int64_t total = 0;
  for (const std::string& name : names) {
    const std::string path = find_batch(root, name);
    MAGMADNN_CHECK(!path.empty(), op, ": ", root, ": no ", name, " (or ", name, ".gz) in this directory; ",
                   kExpectedHint);
    files.push_back(read_records(path, op));
    total += static_cast<int64_t>(files.back().size()) / kCifar10RecordBytes;
  }

  Tensor inputs = Tensor::empty({total, 3, 32, 32}, kFloat32);
  Tensor targets = Tensor::empty({total}, kInt64);
  int64_t first = 0;
  for (auto& bytes : files) {
    unpack(bytes, first, inputs.data<float>(), targets.data<int64_t>());
    first += static_cast<int64_t>(bytes.size()) / kCifar10RecordBytes;
    std::vector<uint8_t>().swap(bytes);  // release each file as soon as it is converted
  }
  return std::make_shared<TensorDataset>(std::move(inputs), std::move(targets));
}

std::vector<std::string> cifar10_class_names() {
  return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
}

std::vector<std::string> cifar10_class_names(const std::string& dir_in) {
  const char* op = "cifar10_class_names";
  const std::string dir = strip_slashes(dir_in);
  check_dir(dir, op);
  std::string path = dir + "/batches.meta.txt";
  if (!is_file(path)) path = dir + "/" + kSubfolder + "/batches.meta.txt";
  if (!is_file(path)) return cifar10_class_names();
  std::ifstream in(path);
  MAGMADNN_CHECK(in.good(), op, ": ", path, ": cannot open");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  MAGMADNN_CHECK(static_cast<int64_t>(names.size()) == kCifar10NumClasses, op, ": ", path, ": expected ",
                 kCifar10NumClasses, " class names, one per line, got ", names.size());
  return names;
}

}  // namespace magmadnn::data
