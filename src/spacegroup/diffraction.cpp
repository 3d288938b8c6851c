// Structure factors and layer images (see spacegroup/diffraction.h). The phases of every atom
// are tabulated per axis (exp(2 pi i n x) for the indices in use), so a reflection costs two
// complex products per atom.
#include "magmadnn/spacegroup/diffraction.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "magmadnn/core/error.h"

namespace magmadnn::spacegroup {

namespace {

constexpr double kTwoPi = 6.28318530717958647692;

Vec3 combine(const Mat3& r, const int idx[3]) {
  Vec3 g{};
  for (int i = 0; i < 3; ++i)
    for (int d = 0; d < 3; ++d) g[d] += idx[i] * r[i][d];
  return g;
}
double dot(const Vec3& u, const Vec3& v) { return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]; }
double norm(const Vec3& u) { return std::sqrt(dot(u, u)); }
Vec3 cross(const Vec3& u, const Vec3& v) {
  return {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
}
Vec3 scaled(const Vec3& u, double s) { return {u[0] * s, u[1] * s, u[2] * s}; }

double scattering_falloff(const Mat3& r, const int idx[3]) {
  const double s = 0.5 * norm(combine(r, idx));
  return std::exp(-kDisplacementB * s * s);
}

struct Spot {
  int channel;
  double row, col;
  double intensity;
};

}  // namespace

std::complex<double> structure_factor(const Crystal& crystal, int h, int k, int l) {
  const int idx[3] = {h, k, l};
  std::complex<double> f = 0;
  for (const Atom& atom : crystal.atoms) {
    const double phase = kTwoPi * (h * atom.position[0] + k * atom.position[1] + l * atom.position[2]);
    f += static_cast<double>(atom.element) * std::polar(1.0, phase);
  }
  return f * scattering_falloff(crystal.lattice.reciprocal(), idx);
}

const std::vector<std::string>& pattern_channel_names() {
  static const std::vector<std::string> names = {"hk0", "hk1", "h0l", "h1l", "0kl", "1kl"};
  return names;
}

std::vector<float> zone_patterns(const Crystal& crystal, const PatternOptions& o) {
  MAGMADNN_CHECK(o.size >= 8 && o.size <= 1024, "zone_patterns: size must be in 8..1024, got ", o.size);
  MAGMADNN_CHECK(o.max_index >= 1 && o.max_index <= 32, "zone_patterns: max_index must be in 1..32, got ", o.max_index);
  MAGMADNN_CHECK(o.spot_sigma > 0 && o.dynamic_range > 0, "zone_patterns: spot_sigma and dynamic_range must be "
                 "positive, got ", o.spot_sigma, " and ", o.dynamic_range);
  const Mat3 r = crystal.lattice.reciprocal();
  const double lengths[3] = {norm(r[0]), norm(r[1]), norm(r[2])};
  const double radius = o.max_index * std::max({lengths[0], lengths[1], lengths[2]});  // 1/angstrom
  const double scale = (o.size / 2.0 - 1.0) / radius;                                   // pixels per 1/angstrom
  const double centre = (o.size - 1) / 2.0;

  // Every reflection drawn: its indices and where it goes.
  std::vector<std::array<int, 3>> reflections;
  std::vector<Spot> spots;
  const int planes[3][3] = {{2, 0, 1}, {1, 0, 2}, {0, 1, 2}};  // fixed index, in-plane axes: hk?, h?l, ?kl
  for (int zone = 0; zone < 3; ++zone) {
    const int fixed = planes[zone][0], u = planes[zone][1], v = planes[zone][2];
    const Vec3 e1 = scaled(r[u], 1.0 / lengths[u]);
    const Vec3 normal = cross(r[u], r[v]);
    const Vec3 e3 = scaled(normal, 1.0 / norm(normal));
    const Vec3 e2 = cross(e3, e1);
    // The in-plane index range that covers the radius, plus the first layer's offset (the fixed
    // axis' projection on the plane): that distance over the spacing of lattice rows.
    const double area = norm(normal), reach_out = radius + lengths[fixed];
    const int bound_u = static_cast<int>(std::ceil(reach_out * lengths[v] / area)) + 1;
    const int bound_v = static_cast<int>(std::ceil(reach_out * lengths[u] / area)) + 1;
    for (int layer = 0; layer <= 1; ++layer) {
      for (int p = -bound_u; p <= bound_u; ++p) {
        for (int q = -bound_v; q <= bound_v; ++q) {
          int idx[3];
          idx[fixed] = layer;
          idx[u] = p;
          idx[v] = q;
          if (idx[0] == 0 && idx[1] == 0 && idx[2] == 0) continue;
          const Vec3 g = combine(r, idx);
          const double x = dot(g, e1), y = dot(g, e2);
          if (x * x + y * y > radius * radius) continue;
          reflections.push_back({idx[0], idx[1], idx[2]});
          spots.push_back({2 * zone + layer, centre - y * scale, centre + x * scale, 0.0});
        }
      }
    }
  }

  // Structure factors of all reflections at once: per atom, phase tables along each axis.
  int max_abs = 1;
  for (const auto& idx : reflections)
    for (int d = 0; d < 3; ++d) max_abs = std::max(max_abs, std::abs(idx[d]));
  const int width = 2 * max_abs + 1;
  std::vector<std::complex<double>> sums(reflections.size());
  std::vector<std::complex<double>> table(3 * width);
  for (const Atom& atom : crystal.atoms) {
    for (int d = 0; d < 3; ++d)
      for (int n = -max_abs; n <= max_abs; ++n) table[d * width + n + max_abs] = std::polar(1.0, kTwoPi * n * atom.position[d]);
    const double z = atom.element;
    for (size_t i = 0; i < reflections.size(); ++i) {
      const auto& idx = reflections[i];
      sums[i] += z * table[idx[0] + max_abs] * table[width + idx[1] + max_abs] * table[2 * width + idx[2] + max_abs];
    }
  }
  double peak = 0;
  for (size_t i = 0; i < reflections.size(); ++i) {
    const double f = scattering_falloff(r, reflections[i].data());
    spots[i].intensity = std::norm(sums[i]) * f * f;
    peak = std::max(peak, spots[i].intensity);
  }

  const int64_t s = o.size;
  std::vector<float> image(kPatternChannels * s * s, 0.0f);
  if (peak <= 0) return image;  // nothing scatters (no atoms)
  const double log_range = std::log1p(o.dynamic_range);
  // Each spot covers the pixels within 3 sigma of its centre: a cut that depends on the distance
  // alone, so mirrored spots light mirrored pixels.
  const double cut = 3 * o.spot_sigma;
  for (const Spot& spot : spots) {
    const double value = std::log1p(o.dynamic_range * spot.intensity / peak) / log_range;
    if (value <= 0) continue;
    float* plane = image.data() + spot.channel * s * s;
    const int64_t row_lo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(spot.row - cut)));
    const int64_t row_hi = std::min<int64_t>(s - 1, static_cast<int64_t>(std::floor(spot.row + cut)));
    const int64_t col_lo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(spot.col - cut)));
    const int64_t col_hi = std::min<int64_t>(s - 1, static_cast<int64_t>(std::floor(spot.col + cut)));
    for (int64_t row = row_lo; row <= row_hi; ++row) {
      for (int64_t col = col_lo; col <= col_hi; ++col) {
        const double d2 = (row - spot.row) * (row - spot.row) + (col - spot.col) * (col - spot.col);
        if (d2 > cut * cut) continue;
        const float v = static_cast<float>(value * std::exp(-d2 / (2 * o.spot_sigma * o.spot_sigma)));
        float& px = plane[row * s + col];
        px = std::max(px, v);
      }
    }
  }
  return image;
}

const std::vector<int>& diffraction_classes() {
  static const std::vector<int> classes = [] {
    using Signature = std::pair<std::set<std::array<int, 9>>, std::vector<bool>>;
    std::map<Signature, int> ids;
    std::vector<int> out(231, -1);
    constexpr int kMax = 6;
    for (int n = 1; n <= 230; ++n) {
      Signature sig;
      const auto& ops = space_group(n).operations;
      for (const SymmetryOperation& op : ops) {
        std::array<int, 9> m{}, minus{};
        for (int i = 0; i < 9; ++i) {
          m[i] = op.rotation[i / 3][i % 3];
          minus[i] = -m[i];
        }
        sig.first.insert(m);
        sig.first.insert(minus);
      }
      for (int fixed = 0; fixed < 3; ++fixed) {
        for (int layer = 0; layer <= 1; ++layer) {
          for (int p = -kMax; p <= kMax; ++p) {
            for (int q = -kMax; q <= kMax; ++q) {
              int h[3];
              h[fixed] = layer;
              h[fixed == 0 ? 1 : 0] = p;
              h[fixed == 2 ? 1 : 2] = q;
              bool absent = false;
              for (const SymmetryOperation& op : ops) {
                bool fixes = true;  // h R = h
                for (int c = 0; c < 3 && fixes; ++c) fixes = h[0] * op.rotation[0][c] + h[1] * op.rotation[1][c] + h[2] * op.rotation[2][c] == h[c];
                if (!fixes) continue;
                const double phase = h[0] * op.translation[0] + h[1] * op.translation[1] + h[2] * op.translation[2];
                absent = absent || std::abs(phase - std::round(phase)) > 1e-6;
              }
              sig.second.push_back(absent);
            }
          }
        }
      }
      const auto it = ids.emplace(std::move(sig), static_cast<int>(ids.size())).first;
      out[n] = it->second;
    }
    return out;
  }();
  return classes;
}

}  // namespace magmadnn::spacegroup
