// load_mnist: finds the IDX files of one split, checks that images and labels belong together,
// and converts them to the float32 images and int64 labels a model trains on.
#include "magmadnn/data/mnist.h"

#include <sys/stat.h>

#include "magmadnn/data/idx.h"

namespace magmadnn::data {

namespace {
const char* kInstallHint =
    "install it with `apt-get install dataset-fashion-mnist` (files in "
    "/usr/share/datasets/fashion-mnist) or pass --data-dir";

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The first existing spelling of an IDX file: gzipped, raw, and the "images.idx3-ubyte" variant
// some mirrors use.
std::string find_idx(const std::string& dir, const std::string& prefix, const std::string& kind,
                     const std::string& suffix) {
  const std::string candidates[] = {
      prefix + "-" + kind + "-" + suffix + ".gz", prefix + "-" + kind + "-" + suffix,
      prefix + "-" + kind + "." + suffix + ".gz", prefix + "-" + kind + "." + suffix};
  for (const auto& name : candidates)
    if (is_file(dir + "/" + name)) return dir + "/" + name;
  MAGMADNN_ERROR("load_mnist: ", dir, ": no ", candidates[1], " or ", candidates[0], " in this directory; ",
                 kInstallHint);
}
}  // namespace

std::shared_ptr<TensorDataset> load_mnist(const std::string& dir_in, bool train) {
  std::string dir = dir_in.empty() ? std::string(".") : dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  struct stat st {};
  MAGMADNN_CHECK(::stat(dir.c_str(), &st) == 0, "load_mnist: data directory ", dir, " does not exist; ",
                 kInstallHint);
  MAGMADNN_CHECK(S_ISDIR(st.st_mode), "load_mnist: ", dir, " is not a directory; ", kInstallHint);

  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_idx(dir, prefix, "images", "idx3-ubyte");
  const std::string labels_path = find_idx(dir, prefix, "labels", "idx1-ubyte");
  const Tensor images = read_idx(images_path);
  const Tensor labels = read_idx(labels_path);
  MAGMADNN_CHECK(images.dtype() == kUInt8 && images.dim() == 3, "load_mnist: ", images_path,
                 ": expected uint8 images of shape (N, H, W), got ", images.dtype(), " of shape ",
                 images.shape());
  MAGMADNN_CHECK(labels.dtype() == kUInt8 && labels.dim() == 1, "load_mnist: ", labels_path,
                 ": expected uint8 labels of shape (N), got ", labels.dtype(), " of shape ", labels.shape());
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2);
  MAGMADNN_CHECK(labels.size(0) == n, "load_mnist: ", images_path, " holds ", n, " images but ", labels_path,
                 " holds ", labels.size(0), " labels");

  Tensor inputs = Tensor::empty({n, 1, h, w}, kFloat32);
  const uint8_t* src = images.data<uint8_t>();
  float* dst = inputs.data<float>();
  const int64_t total = n * h * w;
#pragma omp parallel for if (total > (1 << 20))
  for (int64_t i = 0; i < total; ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;

  Tensor targets = Tensor::empty({n}, kInt64);
  const uint8_t* lsrc = labels.data<uint8_t>();
  int64_t* ldst = targets.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    MAGMADNN_CHECK(lsrc[i] < 10, "load_mnist: ", labels_path, ": label ", int(lsrc[i]), " at index ", i,
                   " is not a class in [0, 10)");
    ldst[i] = lsrc[i];
  }
  return std::make_shared<TensorDataset>(std::move(inputs), std::move(targets));
}

}  // namespace magmadnn::data
