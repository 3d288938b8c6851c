// Unit cells, orbits and random crystals (see spacegroup/crystal.h).
#include "magmadnn/spacegroup/crystal.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "magmadnn/core/error.h"

#ifdef MAGMADNN_WITH_SPGLIB
#include <spglib.h>
#endif

namespace magmadnn::spacegroup {

namespace {

constexpr double kPi = 3.14159265358979323846;
double radians(double degrees) { return degrees * kPi / 180.0; }

Vec3 cross(const Vec3& u, const Vec3& v) {
  return {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
}
double dot(const Vec3& u, const Vec3& v) { return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]; }

double uniform(Generator& gen, double lo, double hi) { return lo + (hi - lo) * gen.next_double(); }

double wrap(double x) {
  x -= std::floor(x);
  return x >= 1.0 ? 0.0 : x;  // -1e-17 - floor(...) rounds to 1.0
}

// Periodic distance between fractional coordinates along one axis.
double periodic_gap(double x, double y) {
  const double d = std::abs(x - y);
  return std::min(d, 1.0 - d);
}

}  // namespace

Mat3 Lattice::vectors() const {
  MAGMADNN_CHECK(a > 0 && b > 0 && c > 0, "Lattice: edges must be positive, got a=", a, ", b=", b, ", c=", c);
  const double ca = std::cos(radians(alpha)), cb = std::cos(radians(beta)), cg = std::cos(radians(gamma));
  const double sg = std::sin(radians(gamma));
  const double v2 = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg;  // (volume / abc)^2
  MAGMADNN_CHECK(v2 > 1e-12 && sg > 1e-12, "Lattice: angles alpha=", alpha, ", beta=", beta, ", gamma=", gamma,
                 " span no cell");
  Mat3 m{};
  m[0] = {a, 0, 0};
  m[1] = {b * cg, b * sg, 0};
  m[2] = {c * cb, c * (ca - cb * cg) / sg, c * std::sqrt(v2) / sg};
  return m;
}

double Lattice::volume() const {
  const Mat3 m = vectors();
  return dot(m[0], cross(m[1], m[2]));
}

Mat3 Lattice::reciprocal() const {
  const Mat3 m = vectors();
  const double v = dot(m[0], cross(m[1], m[2]));
  Mat3 r{};
  r[0] = cross(m[1], m[2]);
  r[1] = cross(m[2], m[0]);
  r[2] = cross(m[0], m[1]);
  for (Vec3& row : r)
    for (double& x : row) x /= v;
  return r;
}

Lattice Lattice::from_vectors(const Mat3& m) {
  auto angle = [](const Vec3& u, const Vec3& v) {
    return std::acos(std::clamp(dot(u, v) / std::sqrt(dot(u, u) * dot(v, v)), -1.0, 1.0)) * 180.0 / kPi;
  };
  Lattice l;
  l.a = std::sqrt(dot(m[0], m[0]));
  l.b = std::sqrt(dot(m[1], m[1]));
  l.c = std::sqrt(dot(m[2], m[2]));
  l.alpha = angle(m[1], m[2]);
  l.beta = angle(m[0], m[2]);
  l.gamma = angle(m[0], m[1]);
  return l;
}

Lattice random_lattice(CrystalSystem system, Generator& gen, const CrystalOptions& o) {
  MAGMADNN_CHECK(o.min_length > 0 && o.min_length <= o.max_length, "random_lattice: bad edge range ", o.min_length,
                 "..", o.max_length);
  auto edge = [&] { return uniform(gen, o.min_length, o.max_length); };
  Lattice l;
  l.a = edge();
  l.b = edge();
  l.c = edge();
  switch (system) {
    case CrystalSystem::Triclinic:
      do {  // angles that span a cell with some room (volume at least half of a*b*c)
        l.alpha = uniform(gen, 70, 110);
        l.beta = uniform(gen, 70, 110);
        l.gamma = uniform(gen, 70, 110);
      } while (l.volume() < 0.5 * l.a * l.b * l.c);
      break;
    case CrystalSystem::Monoclinic: l.beta = uniform(gen, 95, 120); break;
    case CrystalSystem::Orthorhombic: break;
    case CrystalSystem::Tetragonal: l.b = l.a; break;
    case CrystalSystem::Trigonal:
    case CrystalSystem::Hexagonal:
      l.b = l.a;
      l.gamma = 120;
      break;
    case CrystalSystem::Cubic: l.b = l.c = l.a; break;
  }
  return l;
}

std::vector<Vec3> orbit(const SpaceGroup& group, const Vec3& site, double tolerance) {
  std::vector<Vec3> out;
  out.reserve(group.operations.size());
  for (const SymmetryOperation& op : group.operations) {
    Vec3 p{};
    for (int r = 0; r < 3; ++r) {
      double v = op.translation[r];
      for (int c = 0; c < 3; ++c) v += op.rotation[r][c] * site[c];
      p[r] = wrap(v);
    }
    const bool seen = std::any_of(out.begin(), out.end(), [&](const Vec3& q) {
      return periodic_gap(p[0], q[0]) < tolerance && periodic_gap(p[1], q[1]) < tolerance &&
             periodic_gap(p[2], q[2]) < tolerance;
    });
    if (!seen) out.push_back(p);
  }
  return out;
}

std::optional<Vec3> fixed_point(const SymmetryOperation& op, const Vec3& site) {
  using Rot = std::array<std::array<int, 3>, 3>;
  const Rot identity{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  if (op.rotation == identity) return std::nullopt;  // the identity or a pure translation
  auto apply = [&](const Vec3& x) {
    Vec3 y{};
    for (int r = 0; r < 3; ++r) {
      y[r] = op.translation[r];
      for (int c = 0; c < 3; ++c) y[r] += op.rotation[r][c] * x[c];
    }
    return y;
  };
  // x_k = op^k(site) for k = 0..n-1, where n is the order of the rotation (at most 6). Their mean
  // m satisfies op(m) = m + (op^n(site) - site) / n, and op^n is a pure translation: m is fixed
  // modulo the lattice exactly when that translation over n is a lattice vector.
  Vec3 x = site, sum{};
  int n = 0;
  Rot power = identity;
  do {
    for (int d = 0; d < 3; ++d) sum[d] += x[d];
    x = apply(x);
    Rot next{};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 3; ++k) next[r][c] += op.rotation[r][k] * power[k][c];
    power = next;
    ++n;
  } while (power != identity && n < 12);
  MAGMADNN_CHECK(power == identity, "fixed_point: the operation's rotation has no finite order");
  Vec3 mean{};
  for (int d = 0; d < 3; ++d) {
    const double shift = (x[d] - site[d]) / n;  // op(mean) - mean
    if (std::abs(shift - std::round(shift)) > 1e-9) return std::nullopt;  // screw or glide
    mean[d] = wrap(sum[d] / n);
  }
  return mean;
}

double closest_approach(const Lattice& lattice, const std::vector<Vec3>& a, const std::vector<Vec3>* b) {
  const Mat3 m = lattice.vectors();
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<Vec3>& other = b ? *b : a;
    for (size_t j = b ? 0 : i + 1; j < other.size(); ++j) {
      Vec3 cart{};
      for (int d = 0; d < 3; ++d) {
        const double f = a[i][d] - other[j][d];
        const double wrapped = f - std::round(f);
        for (int e = 0; e < 3; ++e) cart[e] += wrapped * m[d][e];
      }
      best = std::min(best, std::sqrt(dot(cart, cart)));
    }
  }
  return best;
}

Crystal random_crystal(int number, Generator& gen, const CrystalOptions& o) {
  MAGMADNN_CHECK(o.min_sites >= 1 && o.min_sites <= o.max_sites, "random_crystal: bad site range ", o.min_sites, "..",
                 o.max_sites);
  MAGMADNN_CHECK(o.min_element >= 1 && o.min_element <= o.max_element &&
                     o.max_element - o.min_element + 1 >= o.max_sites,
                 "random_crystal: elements ", o.min_element, "..", o.max_element, " are fewer than ", o.max_sites,
                 " distinct sites");
  MAGMADNN_CHECK(o.special_probability >= 0 && o.special_probability <= 1,
                 "random_crystal: special_probability must lie in [0, 1], got ", o.special_probability);
  const SpaceGroup& group = space_group(number);
  Crystal crystal;
  crystal.space_group = number;
  crystal.lattice = random_lattice(group.system, gen, o);
  const int sites = o.min_sites + static_cast<int>(gen.next_u64() % (o.max_sites - o.min_sites + 1));
  std::vector<int> elements;
  while (static_cast<int>(elements.size()) < sites) {
    const int z = o.min_element + static_cast<int>(gen.next_u64() % (o.max_element - o.min_element + 1));
    if (std::find(elements.begin(), elements.end(), z) == elements.end()) elements.push_back(z);
  }
  // Operations with fixed points (mirrors, rotations, inversions, rotoinversions): the special
  // positions lie on them.
  std::vector<const SymmetryOperation*> fixing;
  if (o.special_probability > 0) {
    for (const SymmetryOperation& op : group.operations)
      if (fixed_point(op, {0.1, 0.2, 0.3})) fixing.push_back(&op);
  }
  std::vector<Vec3> placed;
  for (size_t s = 0; s < elements.size(); ++s) {
    const int z = elements[s];
    const bool special = s > 0 && !fixing.empty() && o.special_probability > 0 &&
                         gen.next_double() < o.special_probability;
    std::vector<Vec3> best;
    double best_gap = -1;
    for (int attempt = 0; attempt < std::max(1, o.site_attempts) && best_gap < o.min_distance; ++attempt) {
      Vec3 site{gen.next_double(), gen.next_double(), gen.next_double()};
      if (special) {
        // The operation combined with a random lattice translation in {-1, 0, 1}^3: its fixed set
        // is one of the parallel copies (a mirror at x = 0 or x = 1/2, any of the inversion centres).
        SymmetryOperation op = *fixing[gen.next_u64() % fixing.size()];
        for (double& t : op.translation) t += static_cast<double>(gen.next_u64() % 3) - 1.0;
        site = *fixed_point(op, site);
      }
      std::vector<Vec3> images = orbit(group, site);
      // A general site near a special position has fewer distinct images than operations.
      if (!special && images.size() < group.operations.size()) continue;
      const double gap = std::min(closest_approach(crystal.lattice, images),
                                  closest_approach(crystal.lattice, images, &placed));
      if (gap > best_gap) {
        best_gap = gap;
        best = std::move(images);
      }
    }
    MAGMADNN_CHECK(!best.empty(), "random_crystal: no ", special ? "special" : "general", " position found for group ",
                   number);
    for (const Vec3& p : best) {
      crystal.atoms.push_back({p, z});
      placed.push_back(p);
    }
  }
  return crystal;
}

Crystal change_setting(const Crystal& crystal, const Setting& p) {
  // Cofactors: P^-1 = adj(P) / det P, an integer matrix when det P = 1.
  auto cof = [&](int r, int c) {
    const int r1 = (r + 1) % 3, r2 = (r + 2) % 3, c1 = (c + 1) % 3, c2 = (c + 2) % 3;
    return p[r1][c1] * p[r2][c2] - p[r1][c2] * p[r2][c1];
  };
  const int det = p[0][0] * cof(0, 0) + p[0][1] * cof(0, 1) + p[0][2] * cof(0, 2);
  MAGMADNN_CHECK(det == 1, "change_setting: the setting's determinant must be +1, got ", det);
  Setting inverse{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) inverse[r][c] = cof(c, r);
  const Mat3 m = crystal.lattice.vectors();
  Mat3 rows{};  // row j: a'_j = sum_i P_ij a_i
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i)
      for (int d = 0; d < 3; ++d) rows[j][d] += p[i][j] * m[i][d];
  Crystal out = crystal;
  out.lattice = Lattice::from_vectors(rows);
  for (Atom& atom : out.atoms) {
    Vec3 x{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) x[r] += inverse[r][c] * atom.position[c];
      x[r] = wrap(x[r]);
    }
    atom.position = x;
  }
  return out;
}

Setting random_setting(CrystalSystem system, Generator& gen) {
  Setting p{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  if (system != CrystalSystem::Triclinic && system != CrystalSystem::Monoclinic &&
      system != CrystalSystem::Orthorhombic)
    return p;
  static const int perms[6][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {1, 0, 2}, {0, 2, 1}, {2, 1, 0}};
  const int k = static_cast<int>(gen.next_u64() % 6);
  p = Setting{};
  for (int j = 0; j < 3; ++j) p[perms[k][j]][j] = 1;  // new axis j = old axis perms[k][j]
  // Odd permutations: the old b axis reversed, det = +1. (b is the unique axis of a monoclinic
  // cell, at right angles to a and c, so its obtuse angle stays obtuse.)
  if (k >= 3)
    for (int j = 0; j < 3; ++j)
      if (perms[k][j] == 1) p[1][j] = -1;
  return p;
}

int detect_space_group(const Crystal& crystal, double symprec) {
#ifdef MAGMADNN_WITH_SPGLIB
  const Mat3 m = crystal.lattice.vectors();
  double lattice[3][3];  // spglib takes the cell vectors as columns
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) lattice[r][c] = m[c][r];
  const int n = static_cast<int>(crystal.atoms.size());
  MAGMADNN_CHECK(n > 0, "detect_space_group: the crystal has no atoms");
  std::vector<double> positions(3 * n);
  std::vector<int> types(n);
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < 3; ++d) positions[3 * i + d] = crystal.atoms[i].position[d];
    types[i] = crystal.atoms[i].element;
  }
  SpglibDataset* data = spg_get_dataset(lattice, reinterpret_cast<double(*)[3]>(positions.data()), types.data(), n,
                                        symprec);
  MAGMADNN_CHECK(data != nullptr, "detect_space_group: spglib found no space group (", spg_get_error_message(spg_get_error_code()),
                 ")");
  const int number = data->spacegroup_number;
  spg_free_dataset(data);
  return number;
#else
  MAGMADNN_ERROR("detect_space_group: this build of MagmaDNN has no spglib (install libsymspg-dev and reconfigure)");
#endif
}

}  // namespace magmadnn::spacegroup
