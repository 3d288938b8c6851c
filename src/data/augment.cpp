// RandomCrop, the flips, RandomTranspose, RandomSignFlip, Compose and --augment's parser (see
// data/augment.h). Each runs as one pass over the batch on the CPU; a sample's choices come from
// one Philox block keyed by the loader's seed, counted by (data set index, epoch, stream).
#include "magmadnn/data/augment.h"

#include <cmath>
#include <sstream>

#include "backend/philox.h"
#include "magmadnn/core/error.h"

namespace magmadnn::data {

namespace {

// Separates augmentation draws from any other Philox use of the same seed.
constexpr uint64_t kAugmentKeySalt = 0xA5C3'9E1D'7B24'F068ull;

// A uniform integer in [0, n) from one 32-bit word (bias below 2^-32 * n: negligible here).
int64_t below(uint32_t word, int64_t n) { return static_cast<int64_t>((uint64_t(word) * uint64_t(n)) >> 32); }

bool happens(uint32_t word, double p) { return detail::unit24(word) < p; }

void check_batch(const char* op, const Tensor& batch, const AugmentDraws& draws) {
  MAGMADNN_CHECK(batch.defined(), op, ": undefined input");
  MAGMADNN_CHECK(batch.device().is_cpu(), op, ": expected a batch on the CPU (augment before moving it), got one on ",
                 batch.device());
  MAGMADNN_CHECK(is_floating(batch.dtype()), op, ": expected a float32 or float64 batch (N, C, H, W), got ",
                 batch.dtype(), " of shape ", batch.shape());
  MAGMADNN_CHECK(batch.dim() == 4, op, ": expected a batch of images (N, C, H, W), got shape ", batch.shape());
  MAGMADNN_CHECK(static_cast<int64_t>(draws.indices.size()) == batch.size(0), op, ": ", draws.indices.size(),
                 " sample indices for a batch of shape ", batch.shape());
}

// out[n] = flip(x[n]) along the last (horizontal) or second-to-last (vertical) axis where chosen.
template <typename Chosen>
Tensor random_flip(const char* op, const Tensor& batch, const AugmentDraws& draws, const Chosen& chosen,
                   bool horizontal) {
  check_batch(op, batch, draws);
  const Tensor x = batch.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.size(0), planes = x.size(1), h = x.size(2), w = x.size(3);
  dispatch_float(x.dtype(), op, [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for if (x.numel() > (1 << 18))
    for (int64_t i = 0; i < n; ++i) {
      const bool flip = chosen(i);
      for (int64_t c = 0; c < planes; ++c) {
        const scalar_t* src = px + (i * planes + c) * h * w;
        scalar_t* dst = po + (i * planes + c) * h * w;
        for (int64_t y = 0; y < h; ++y) {
          const int64_t sy = flip && !horizontal ? h - 1 - y : y;
          for (int64_t xx = 0; xx < w; ++xx) dst[y * w + xx] = src[sy * w + (flip && horizontal ? w - 1 - xx : xx)];
        }
      }
    }
  });
  return out;
}

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

std::array<uint32_t, 4> AugmentDraws::words(int64_t i) const {
  const auto index = static_cast<uint64_t>(indices.at(static_cast<size_t>(i)));
  const uint64_t key = seed ^ kAugmentKeySalt;
  const detail::PhiloxWords r = detail::philox4x32_10(
      detail::PhiloxWords{{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                           static_cast<uint32_t>(epoch), stream}},
      static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
}

AugmentDraws AugmentDraws::substream(uint32_t k) const {
  AugmentDraws d = *this;
  d.stream = stream * 16 + k + 1;  // distinct for nested Composes of up to 15 steps each
  return d;
}

RandomCrop::RandomCrop(int64_t height, int64_t width, int64_t padding, double fill)
    : height_(height), width_(width), padding_(padding), fill_(fill) {
  MAGMADNN_CHECK(height >= 1 && width >= 1, "RandomCrop: size must be positive, got ", height, "x", width);
  MAGMADNN_CHECK(padding >= 0, "RandomCrop: padding must be non-negative, got ", padding);
  MAGMADNN_CHECK(std::isfinite(fill), "RandomCrop: fill must be finite, got ", fill);
}

// x: (N, C, H, W) -> out: (N, C, height, width); out[n, c, y, x] = padded(x)[n, c, y + oy, x + ox]
// with (oy, ox) uniform in [0, H + 2p - height] x [0, W + 2p - width].
Tensor RandomCrop::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  check_batch("RandomCrop", batch, draws);
  const Tensor x = batch.contiguous();
  const int64_t n = x.size(0), planes = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t range_y = h + 2 * padding_ - height_, range_x = w + 2 * padding_ - width_;
  MAGMADNN_CHECK(range_y >= 0 && range_x >= 0, "RandomCrop(size=", height_, "x", width_, ", padding=", padding_,
                 "): images of shape ", x.shape(), " padded by ", padding_, " are smaller than the crop");
  Tensor out = Tensor::empty({n, planes, height_, width_}, x.dtype());
  dispatch_float(x.dtype(), "RandomCrop", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const auto fill = static_cast<scalar_t>(fill_);
#pragma omp parallel for if (out.numel() > (1 << 18))
    for (int64_t i = 0; i < n; ++i) {
      const auto r = draws.words(i);
      const int64_t oy = below(r[0], range_y + 1) - padding_, ox = below(r[1], range_x + 1) - padding_;
      for (int64_t c = 0; c < planes; ++c) {
        const scalar_t* src = px + (i * planes + c) * h * w;
        scalar_t* dst = po + (i * planes + c) * height_ * width_;
        for (int64_t y = 0; y < height_; ++y) {
          const int64_t sy = y + oy;
          for (int64_t xx = 0; xx < width_; ++xx) {
            const int64_t sx = xx + ox;
            dst[y * width_ + xx] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : fill;
          }
        }
      }
    }
  });
  return out;
}

std::string RandomCrop::describe() const {
  return "RandomCrop(size=" + std::to_string(height_) + "x" + std::to_string(width_) +
         ", padding=" + std::to_string(padding_) + (fill_ != 0 ? ", fill=" + number(fill_) : "") + ")";
}

RandomPerSample::RandomPerSample(const char* name, double p) : name_(name), p_(p) {
  MAGMADNN_CHECK(p >= 0 && p <= 1, name, ": p must be in [0, 1], got ", p);
}
bool RandomPerSample::chosen(const AugmentDraws& draws, int64_t i) const { return happens(draws.words(i)[0], p_); }
std::string RandomPerSample::describe() const { return std::string(name_) + "(p=" + number(p_) + ")"; }

Tensor RandomHorizontalFlip::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  return random_flip(name(), batch, draws, [&](int64_t i) { return chosen(draws, i); }, /*horizontal=*/true);
}
Tensor RandomVerticalFlip::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  return random_flip(name(), batch, draws, [&](int64_t i) { return chosen(draws, i); }, /*horizontal=*/false);
}

// x: (N, C, S, S) -> out: (N, C, S, S), out[n, c, i, j] = x[n, c, j, i] where chosen.
Tensor RandomTranspose::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  check_batch("RandomTranspose", batch, draws);
  MAGMADNN_CHECK(batch.size(2) == batch.size(3), "RandomTranspose: expected square images, got shape ", batch.shape());
  const Tensor x = batch.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.size(0), planes = x.size(1), side = x.size(2);
  dispatch_float(x.dtype(), "RandomTranspose", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
#pragma omp parallel for if (x.numel() > (1 << 18))
    for (int64_t i = 0; i < n; ++i) {
      const bool swap = chosen(draws, i);
      for (int64_t c = 0; c < planes; ++c) {
        const scalar_t* src = px + (i * planes + c) * side * side;
        scalar_t* dst = po + (i * planes + c) * side * side;
        for (int64_t y = 0; y < side; ++y)
          for (int64_t xx = 0; xx < side; ++xx) dst[y * side + xx] = swap ? src[xx * side + y] : src[y * side + xx];
      }
    }
  });
  return out;
}

// x: (N, ...) -> out = -x[n] where chosen, else x[n].
Tensor RandomSignFlip::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  MAGMADNN_CHECK(batch.defined() && batch.device().is_cpu() && is_floating(batch.dtype()) && batch.dim() >= 1,
                 "RandomSignFlip: expected a float32 or float64 batch (N, ...) on the CPU, got ",
                 batch.defined() ? batch.shape().str() : std::string("an undefined tensor"));
  MAGMADNN_CHECK(static_cast<int64_t>(draws.indices.size()) == batch.size(0), "RandomSignFlip: ", draws.indices.size(),
                 " sample indices for a batch of shape ", batch.shape());
  const Tensor x = batch.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const int64_t n = x.size(0), per = n == 0 ? 0 : x.numel() / n;
  dispatch_float(x.dtype(), "RandomSignFlip", [&](auto tag) {
    using scalar_t = decltype(tag);
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      const scalar_t sign = chosen(draws, i) ? scalar_t(-1) : scalar_t(1);
      for (int64_t k = 0; k < per; ++k) po[i * per + k] = sign * px[i * per + k];
    }
  });
  return out;
}

Compose::Compose(std::vector<std::shared_ptr<const Augmentation>> steps) : steps_(std::move(steps)) {
  MAGMADNN_CHECK(steps_.size() <= 15, "Compose: at most 15 augmentations, got ", steps_.size());
  for (const auto& s : steps_) MAGMADNN_CHECK(s != nullptr, "Compose: null augmentation");
}

Tensor Compose::operator()(const Tensor& batch, const AugmentDraws& draws) const {
  Tensor x = batch;
  for (size_t k = 0; k < steps_.size(); ++k) x = (*steps_[k])(x, draws.substream(static_cast<uint32_t>(k)));
  return x;
}

std::string Compose::describe() const {
  std::string s = "Compose(";
  for (size_t k = 0; k < steps_.size(); ++k) s += (k ? ", " : "") + steps_[k]->describe();
  return s + ")";
}

std::shared_ptr<const Augmentation> parse_augmentation(const std::string& spec, int64_t height, int64_t width) {
  if (spec.empty() || spec == "none") return nullptr;
  std::vector<std::shared_ptr<const Augmentation>> steps;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "flip") {
      steps.push_back(std::make_shared<RandomHorizontalFlip>());
    } else if (item == "vflip") {
      steps.push_back(std::make_shared<RandomVerticalFlip>());
    } else if (item == "transpose") {
      steps.push_back(std::make_shared<RandomTranspose>());
    } else if (item == "sign") {
      steps.push_back(std::make_shared<RandomSignFlip>());
    } else if (item.rfind("crop:", 0) == 0) {
      const std::string value = item.substr(5);
      size_t used = 0;
      int64_t padding = -1;
      try {
        padding = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      MAGMADNN_CHECK(used == value.size() && !value.empty() && padding >= 0 && padding <= std::max(height, width),
                     "--augment ", spec, ": 'crop:P' needs a padding P from 0 to ", std::max(height, width),
                     ", got '", value, "'");
      steps.push_back(std::make_shared<RandomCrop>(height, width, padding));
    } else {
      MAGMADNN_ERROR("--augment ", spec, ": unknown augmentation '", item,
                     "' (expected a comma-separated list of crop:P, flip, vflip, transpose, sign; or none)");
    }
  }
  MAGMADNN_CHECK(!steps.empty(), "--augment '", spec, "': no augmentation given");
  if (steps.size() == 1) return steps[0];
  return std::make_shared<Compose>(std::move(steps));
}

}  // namespace magmadnn::data
