// Space-group application, physics side: spglib's operation tables form groups of the right
// orders, our number-range labels agree with spglib's point groups, random crystals of every one
// of the 230 groups (with general and with special positions) are found to have that group by
// spglib's symmetry search, operations' fixed points are special positions, structure factors
// obey Friedel's law, the Laue symmetry and the systematic absences of centrings, screw axes and
// glides, and the layer images keep the symmetries of their layers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "common/error_of.h"
#include "magmadnn/spacegroup/diffraction.h"

using namespace magmadnn;
using namespace magmadnn::spacegroup;
using magmadnn::testing::error_of;
using ::testing::HasSubstr;

namespace {

#define SKIP_WITHOUT_SPGLIB() \
  if (!symmetry_available()) GTEST_SKIP() << "this build has no spglib (libsymspg-dev)"

bool same_operation(const SymmetryOperation& a, const SymmetryOperation& b) {
  if (a.rotation != b.rotation) return false;
  for (int d = 0; d < 3; ++d) {
    const double gap = std::abs(a.translation[d] - b.translation[d]);
    if (std::min(gap, 1.0 - gap) > 1e-9) return false;
  }
  return true;
}

// I(hkl) of a crystal.
double intensity(const Crystal& c, int h, int k, int l) { return std::norm(structure_factor(c, h, k, l)); }

Crystal crystal_of(int number, uint64_t seed) {
  Generator gen(seed);
  return random_crystal(number, gen);
}

}  // namespace

TEST(SpaceGroupLabels, RangesMatchSpglibPointGroups) {
  SKIP_WITHOUT_SPGLIB();
  std::map<std::string, int> counts;
  for (int n = 1; n <= 230; ++n) {
    SCOPED_TRACE(n);
    const SpaceGroup& g = space_group(n);
    EXPECT_EQ(g.number, n);
    EXPECT_EQ(point_group_names()[point_group_index(n)], g.point_group);
    ++counts[g.point_group];
  }
  EXPECT_EQ(counts.size(), 32u);
  EXPECT_EQ(space_group(14).symbol, "P2_1/c");
  EXPECT_EQ(space_group(225).symbol, "Fm-3m");
  EXPECT_EQ(class_name(Target::SpaceGroup, 13), "P2_1/c (14)");
}

TEST(SpaceGroupLabels, CoarseClassesNestAndCount) {
  std::map<Target, std::set<int64_t>> seen;
  for (int n = 1; n <= 230; ++n)
    for (Target t : {Target::SpaceGroup, Target::PointGroup, Target::LaueClass, Target::CrystalSystem}) {
      const int64_t label = label_of(t, n);
      ASSERT_GE(label, 0);
      ASSERT_LT(label, num_classes(t));
      seen[t].insert(label);
    }
  for (Target t : {Target::SpaceGroup, Target::PointGroup, Target::LaueClass, Target::CrystalSystem})
    EXPECT_EQ(static_cast<int64_t>(seen[t].size()), num_classes(t)) << target_name(t);
  EXPECT_EQ(crystal_system(1), CrystalSystem::Triclinic);
  EXPECT_EQ(crystal_system(15), CrystalSystem::Monoclinic);
  EXPECT_EQ(crystal_system(16), CrystalSystem::Orthorhombic);
  EXPECT_EQ(crystal_system(142), CrystalSystem::Tetragonal);
  EXPECT_EQ(crystal_system(167), CrystalSystem::Trigonal);
  EXPECT_EQ(crystal_system(168), CrystalSystem::Hexagonal);
  EXPECT_EQ(crystal_system(230), CrystalSystem::Cubic);
  EXPECT_EQ(laue_class_names()[laue_class_index(186)], "6/mmm");
  EXPECT_EQ(laue_class_names()[laue_class_index(205)], "m-3");
  EXPECT_EQ(class_name(Target::CrystalSystem, 6), "cubic");
  EXPECT_EQ(parse_target("laue-class"), Target::LaueClass);
  EXPECT_THAT(error_of([] { parse_target("lattice"); }), HasSubstr("unknown target 'lattice'"));
  EXPECT_THAT(error_of([] { crystal_system(231); }), HasSubstr("must be in 1..230, got 231"));
  EXPECT_THAT(error_of([] { label_of(Target::PointGroup, 0); }), HasSubstr("got 0"));
  EXPECT_THAT(error_of([] { class_name(Target::LaueClass, 11); }), HasSubstr("class 11 is outside 0..10 for target laue-class"));
}

TEST(SpaceGroupTables, OperationsFormGroupsOfTheRightOrder) {
  SKIP_WITHOUT_SPGLIB();
  const std::map<int, size_t> orders = {{1, 1},   {2, 2},    {14, 4},  {62, 8},   {139, 32},
                                        {166, 36}, {194, 24}, {225, 192}, {229, 96}, {230, 96}};
  for (const auto& [n, order] : orders) EXPECT_EQ(space_group(n).operations.size(), order) << n;
  for (int n = 1; n <= 230; ++n) {
    SCOPED_TRACE(n);
    const auto& ops = space_group(n).operations;
    // Closed under composition (modulo lattice translations), and the identity is there.
    for (const auto& a : ops) {
      for (const auto& b : ops) {
        SymmetryOperation c{};
        for (int r = 0; r < 3; ++r) {
          double t = a.translation[r];
          for (int k = 0; k < 3; ++k) {
            int v = 0;
            for (int m = 0; m < 3; ++m) v += a.rotation[r][m] * b.rotation[m][k];
            c.rotation[r][k] = v;
            t += a.rotation[r][k] * b.translation[k];
          }
          c.translation[r] = t - std::floor(t);
        }
        bool found = false;
        for (const auto& o : ops) found = found || same_operation(o, c);
        ASSERT_TRUE(found) << "composition of two operations is not in group " << n;
      }
    }
  }
}

TEST(SpaceGroupCrystal, LatticeAndReciprocal) {
  Lattice hex;
  hex.a = hex.b = 3;
  hex.c = 5;
  hex.gamma = 120;
  EXPECT_NEAR(hex.volume(), 9 * 5 * std::sin(120 * M_PI / 180), 1e-12);
  Lattice tri{4.1, 5.3, 6.7, 81, 97, 104};
  const Mat3 m = tri.vectors(), r = tri.reciprocal();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(m[i][0] * r[j][0] + m[i][1] * r[j][1] + m[i][2] * r[j][2], i == j ? 1.0 : 0.0, 1e-12);
  EXPECT_NEAR(std::sqrt(m[1][0] * m[1][0] + m[1][1] * m[1][1] + m[1][2] * m[1][2]), 5.3, 1e-12);
  EXPECT_THAT(error_of([] { Lattice{1, 1, 1, 60, 60, 180}.vectors(); }), HasSubstr("span no cell"));
  EXPECT_THAT(error_of([] { Lattice{0, 1, 1}.vectors(); }), HasSubstr("edges must be positive"));
  Generator gen(1);
  CrystalOptions bad;
  bad.min_length = 9;
  EXPECT_THAT(error_of([&] { random_lattice(CrystalSystem::Cubic, gen, bad); }), HasSubstr("bad edge range 9..8"));
  if (symmetry_available()) {
    bad = CrystalOptions{};
    bad.min_sites = 4;
    EXPECT_THAT(error_of([&] { random_crystal(2, gen, bad); }), HasSubstr("bad site range 4..3"));
    bad = CrystalOptions{};
    bad.min_element = bad.max_element = 6;
    EXPECT_THAT(error_of([&] { random_crystal(2, gen, bad); }), HasSubstr("elements 6..6 are fewer than 3 distinct sites"));
  }
}

TEST(SpaceGroupCrystal, SpglibFindsTheGroupOfEveryRandomCrystal) {
  SKIP_WITHOUT_SPGLIB();
  for (int n = 1; n <= 230; ++n) {
    const Crystal c = crystal_of(n, 1000 + n);
    EXPECT_EQ(detect_space_group(c), n) << space_group(n).symbol << " with " << c.atoms.size() << " atoms";
    // General positions: every site's orbit has one atom per operation, and atoms keep apart.
    EXPECT_EQ(c.atoms.size() % space_group(n).operations.size(), 0u) << n;
    std::vector<Vec3> positions;
    for (const Atom& a : c.atoms) positions.push_back(a.position);
    EXPECT_GE(closest_approach(c.lattice, positions), 0.3) << n;
  }
}

// op(p) == p modulo the lattice.
bool fixes(const SymmetryOperation& op, const Vec3& p) {
  for (int r = 0; r < 3; ++r) {
    double v = op.translation[r];
    for (int c = 0; c < 3; ++c) v += op.rotation[r][c] * p[c];
    if (std::abs((v - p[r]) - std::round(v - p[r])) > 1e-9) return false;
  }
  return true;
}

TEST(SpaceGroupCrystal, FixedPointsOfOperationsAreSpecialPositions) {
  Generator gen(7);
  int with = 0, without = 0;
  for (int n = 1; n <= 230; ++n) {
    const SpaceGroup& g = space_group(n);
    for (const SymmetryOperation& op : g.operations) {
      const Vec3 site{gen.next_double(), gen.next_double(), gen.next_double()};
      const std::optional<Vec3> p = fixed_point(op, site);
      if (!p) {
        ++without;
        continue;
      }
      ++with;
      ASSERT_TRUE(fixes(op, *p)) << g.symbol;
      // A special position: its site-symmetry group has order |G| / |orbit| > 1.
      const size_t m = orbit(g, *p).size();
      EXPECT_LT(m, g.operations.size()) << g.symbol;
      EXPECT_EQ(g.operations.size() % m, 0u) << g.symbol << ": multiplicity " << m;
    }
  }
  EXPECT_GT(with, 1000);
  EXPECT_GT(without, 230);  // at least the identity of every group
  // P-1: the fixed points of the inversion are the 8 points with coordinates 0 or 1/2.
  const SpaceGroup& p1bar = space_group(2);
  for (const SymmetryOperation& op : p1bar.operations) {
    const std::optional<Vec3> p = fixed_point(op, {0.3, 0.6, 0.9});
    if (op.rotation[0][0] == 1) {
      EXPECT_FALSE(p.has_value());
      continue;
    }
    ASSERT_TRUE(p.has_value());
    for (double x : *p) EXPECT_NEAR(std::min(std::abs(x), std::abs(x - 0.5)), 0.0, 1e-12);
  }
  // A 2_1 screw axis (P2_1, group 4) has no fixed point; a 2-fold axis (P2, group 3) has a line.
  for (const SymmetryOperation& op : space_group(4).operations) EXPECT_FALSE(fixed_point(op, {0.3, 0.6, 0.9}));
  for (const SymmetryOperation& op : space_group(3).operations) {
    if (op.rotation[0][0] == 1) continue;
    const std::optional<Vec3> p = fixed_point(op, {0.3, 0.6, 0.9});
    ASSERT_TRUE(p.has_value());
    EXPECT_NEAR((*p)[0], 0.0, 1e-12);  // the axis x = z = 0 (unique axis b), y kept
    EXPECT_NEAR((*p)[1], 0.6, 1e-12);
    EXPECT_NEAR((*p)[2], 0.0, 1e-12);
  }
}

TEST(SpaceGroupCrystal, SpglibFindsTheGroupOfCrystalsWithSpecialPositions) {
  SKIP_WITHOUT_SPGLIB();
  CrystalOptions o;
  o.special_probability = 1;
  o.min_sites = o.max_sites = 3;
  int special_sites = 0;
  for (int n = 1; n <= 230; ++n) {
    Generator gen(3000 + n);
    const Crystal c = random_crystal(n, gen, o);
    EXPECT_EQ(detect_space_group(c), n) << space_group(n).symbol << " with " << c.atoms.size() << " atoms";
    std::map<int, size_t> per_element;
    for (const Atom& a : c.atoms) ++per_element[a.element];
    ASSERT_EQ(per_element.size(), 3u);
    const size_t order = space_group(n).operations.size();
    for (const auto& [z, count] : per_element) {
      EXPECT_EQ(order % count, 0u) << n;
      special_sites += count < order;
    }
    std::vector<Vec3> positions;
    for (const Atom& a : c.atoms) positions.push_back(a.position);
    EXPECT_GE(closest_approach(c.lattice, positions), 0.3) << n;
  }
  // Two of three sites are special wherever the group has special positions (all but a few
  // groups of screws and glides), unless no special draw kept its distance.
  EXPECT_GT(special_sites, 400);
  Generator gen(1);
  o.special_probability = 1.5;
  EXPECT_THAT(error_of([&] { random_crystal(2, gen, o); }), HasSubstr("special_probability must lie in [0, 1], got 1.5"));
}

TEST(SpaceGroupCrystal, RandomSettingsArePermutationsOfDeterminantOne) {
  Generator gen(5);
  std::set<Setting> seen;
  for (int i = 0; i < 200; ++i) {
    const Setting p = random_setting(CrystalSystem::Orthorhombic, gen);
    seen.insert(p);
    int det = 0;
    for (int c = 0; c < 3; ++c)
      det += p[0][c] * (p[1][(c + 1) % 3] * p[2][(c + 2) % 3] - p[1][(c + 2) % 3] * p[2][(c + 1) % 3]);
    EXPECT_EQ(det, 1);
    for (int r = 0; r < 3; ++r) {
      int nonzero = 0;
      for (int c = 0; c < 3; ++c) nonzero += p[r][c] != 0;
      EXPECT_EQ(nonzero, 1);
    }
  }
  EXPECT_EQ(seen.size(), 6u);
  const Setting identity{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  for (CrystalSystem s : {CrystalSystem::Tetragonal, CrystalSystem::Trigonal, CrystalSystem::Hexagonal, CrystalSystem::Cubic})
    EXPECT_EQ(random_setting(s, gen), identity);
  EXPECT_THAT(error_of([&] { change_setting(crystal_of(2, 1), Setting{{{0, 1, 0}, {1, 0, 0}, {0, 0, 1}}}); }),
              HasSubstr("determinant must be +1, got -1"));
}

TEST(SpaceGroupCrystal, ChangingTheSettingKeepsTheGroupAndTheDiffraction) {
  SKIP_WITHOUT_SPGLIB();
  Generator gen(9);
  for (int n = 1; n <= 74; ++n) {  // triclinic, monoclinic, orthorhombic
    const Crystal c = crystal_of(n, 4000 + n);
    const Setting p = random_setting(space_group(n).system, gen);
    const Crystal t = change_setting(c, p);
    EXPECT_EQ(detect_space_group(t), n) << space_group(n).symbol;
    EXPECT_NEAR(t.lattice.volume(), c.lattice.volume(), 1e-9 * c.lattice.volume());
    // Reflection h' of the new setting is h = P h' of the old one (P is a signed permutation, so
    // P^-T = P): same structure factor, same falloff.
    for (const auto& hp : std::vector<std::array<int, 3>>{{1, 0, 0}, {0, 1, 1}, {1, 2, 3}, {2, -1, 1}}) {
      int h[3] = {0, 0, 0};
      for (int r = 0; r < 3; ++r)
        for (int k = 0; k < 3; ++k) h[r] += p[r][k] * hp[k];
      const std::complex<double> f_new = structure_factor(t, hp[0], hp[1], hp[2]);
      const std::complex<double> f_old = structure_factor(c, h[0], h[1], h[2]);
      EXPECT_NEAR(std::abs(f_new - f_old), 0.0, 1e-9 * (1 + std::abs(f_old))) << space_group(n).symbol;
    }
    // And back: the inverse setting (the transpose) restores the cell.
    Setting back{};
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) back[r][k] = p[k][r];
    const Crystal again = change_setting(t, back);
    EXPECT_NEAR(again.lattice.a, c.lattice.a, 1e-9);
    EXPECT_NEAR(again.lattice.beta, c.lattice.beta, 1e-9);
    EXPECT_NEAR(again.lattice.gamma, c.lattice.gamma, 1e-9);
    for (size_t i = 0; i < c.atoms.size(); ++i)
      for (int d = 0; d < 3; ++d) {
        const double gap = std::abs(again.atoms[i].position[d] - c.atoms[i].position[d]);
        EXPECT_LT(std::min(gap, 1 - gap), 1e-12);
      }
  }
  // A monoclinic cell (beta obtuse, unique axis b) in the setting with a and b swapped: the unique
  // axis becomes a, and its obtuse angle is now alpha.
  const Crystal m = crystal_of(14, 11);
  const Crystal s = change_setting(m, Setting{{{0, 1, 0}, {-1, 0, 0}, {0, 0, 1}}});
  EXPECT_NEAR(s.lattice.alpha, m.lattice.beta, 1e-9);
  EXPECT_NEAR(s.lattice.beta, 90, 1e-9);
  EXPECT_NEAR(s.lattice.a, m.lattice.b, 1e-9);
}

TEST(SpaceGroupCrystal, TheMirrorImageOfACrystalHasTheEnantiomorphicGroup) {
  SKIP_WITHOUT_SPGLIB();
  int pairs = 0;
  for (int n = 1; n <= 230; ++n) {
    Crystal c = crystal_of(n, 2000 + n);
    for (Atom& a : c.atoms)
      for (double& x : a.position) x = x == 0 ? 0 : 1 - x;  // inversion through the origin
    EXPECT_EQ(detect_space_group(c), enantiomorph(n)) << space_group(n).symbol;
    EXPECT_EQ(enantiomorph(enantiomorph(n)), n);
    pairs += enantiomorph(n) != n;
  }
  EXPECT_EQ(pairs, 22);
}

TEST(SpaceGroupDiffraction, StructureFactorOfOneAtomAndFriedelsLaw) {
  Crystal one;
  one.lattice = Lattice{4, 5, 6};
  one.atoms = {{{0, 0, 0}, 26}};
  const double s = 0.5 * std::sqrt(1.0 / 16 + 4.0 / 25 + 9.0 / 36);  // |g| / 2 of (1, 2, 3)
  const std::complex<double> f = structure_factor(one, 1, 2, 3);
  EXPECT_NEAR(f.real(), 26 * std::exp(-kDisplacementB * s * s), 1e-12);
  EXPECT_NEAR(f.imag(), 0, 1e-12);
  SKIP_WITHOUT_SPGLIB();
  const Crystal c = crystal_of(1, 7);
  for (int h = -3; h <= 3; ++h)
    for (int k = -3; k <= 3; ++k)
      for (int l = -3; l <= 3; ++l)
        EXPECT_NEAR(intensity(c, h, k, l), intensity(c, -h, -k, -l), 1e-9 * (1 + intensity(c, h, k, l)));
}

TEST(SpaceGroupDiffraction, IntensitiesHaveTheLaueSymmetry) {
  SKIP_WITHOUT_SPGLIB();
  for (int n : {3, 14, 19, 62, 75, 88, 96, 143, 148, 152, 166, 173, 176, 186, 194, 198, 205, 212, 225, 230}) {
    SCOPED_TRACE(n);
    const Crystal c = crystal_of(n, n);
    for (const std::array<int, 3>& hkl : {std::array<int, 3>{1, 2, 3}, {2, -1, 1}, {3, 0, 2}}) {
      const double i0 = intensity(c, hkl[0], hkl[1], hkl[2]);
      for (const SymmetryOperation& op : space_group(n).operations) {
        int t[3];  // indices transform as a row vector: h' = h R
        for (int k = 0; k < 3; ++k) t[k] = hkl[0] * op.rotation[0][k] + hkl[1] * op.rotation[1][k] + hkl[2] * op.rotation[2][k];
        ASSERT_NEAR(intensity(c, t[0], t[1], t[2]), i0, 1e-8 * (1 + i0));
      }
    }
  }
}

TEST(SpaceGroupDiffraction, SystematicAbsences) {
  SKIP_WITHOUT_SPGLIB();
  const double tiny = 1e-16;
  auto absent = [&](const Crystal& c, int h, int k, int l) { return intensity(c, h, k, l) < tiny; };
  // I4/mmm: body centring, h + k + l odd absent.
  const Crystal i4 = crystal_of(139, 1);
  EXPECT_TRUE(absent(i4, 1, 0, 0) && absent(i4, 1, 1, 1) && absent(i4, 2, 1, 2));
  EXPECT_FALSE(absent(i4, 1, 1, 0) || absent(i4, 2, 1, 1));
  // Fm-3m: face centring, mixed parity absent.
  const Crystal fcc = crystal_of(225, 2);
  EXPECT_TRUE(absent(fcc, 1, 0, 0) && absent(fcc, 1, 1, 0) && absent(fcc, 2, 1, 0));
  EXPECT_FALSE(absent(fcc, 1, 1, 1) || absent(fcc, 2, 0, 0) || absent(fcc, 3, 1, 1));
  // P2_1/c (unique axis b): 0k0 with k odd (2_1 along b), h0l with l odd (c glide).
  const Crystal p21c = crystal_of(14, 3);
  EXPECT_TRUE(absent(p21c, 0, 1, 0) && absent(p21c, 0, 3, 0) && absent(p21c, 2, 0, 1) && absent(p21c, -1, 0, 3));
  EXPECT_FALSE(absent(p21c, 0, 2, 0) || absent(p21c, 1, 0, 2) || absent(p21c, 1, 1, 1));
  // P6_3/mmc: 00l with l odd (6_3 screw).
  const Crystal hcp = crystal_of(194, 4);
  EXPECT_TRUE(absent(hcp, 0, 0, 1) && absent(hcp, 0, 0, 3));
  EXPECT_FALSE(absent(hcp, 0, 0, 2) || absent(hcp, 1, 0, 1));
  // Fd-3m: hk0 with h + k = 4n + 2 (d glide), on top of the face centring.
  const Crystal diamond = crystal_of(227, 5);
  EXPECT_TRUE(absent(diamond, 2, 0, 0) && absent(diamond, 4, 2, 0) && absent(diamond, 6, 0, 0));
  EXPECT_FALSE(absent(diamond, 4, 0, 0) || absent(diamond, 2, 2, 0) || absent(diamond, 1, 1, 1));
  // P1 has no absences.
  const Crystal p1 = crystal_of(1, 6);
  for (int h = 0; h <= 2; ++h)
    for (int k = 0; k <= 2; ++k)
      for (int l = 0; l <= 2; ++l)
        if (h || k || l) EXPECT_FALSE(absent(p1, h, k, l));
}

TEST(SpaceGroupDiffraction, LayerImagesKeepTheLayersSymmetry) {
  SKIP_WITHOUT_SPGLIB();
  PatternOptions o;
  const int64_t s = o.size;
  auto at = [&](const std::vector<float>& img, int ch, int64_t r, int64_t c) { return img[(ch * s + r) * s + c]; };
  for (int n : {1, 2, 14, 62, 83, 139, 147, 191, 200, 225}) {
    SCOPED_TRACE(n);
    const std::vector<float> img = zone_patterns(crystal_of(n, 11 * n), o);
    ASSERT_EQ(static_cast<int64_t>(img.size()), kPatternChannels * s * s);
    float lo = 1, hi = 0;
    for (float v : img) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GE(lo, 0.0f);
    EXPECT_LE(hi, 1.0f);
    EXPECT_GT(hi, 0.5f);
    // Zero layers: Friedel's law makes them centrosymmetric (180-degree rotation of the image).
    for (int ch : {0, 2, 4})
      for (int64_t r = 0; r < s; ++r)
        for (int64_t c = 0; c < s; ++c) ASSERT_NEAR(at(img, ch, r, c), at(img, ch, s - 1 - r, s - 1 - c), 1e-5) << ch;
    if (crystal_system(n) == CrystalSystem::Tetragonal) {  // hk0 and hk1: a 90-degree rotation
      for (int ch : {0, 1})
        for (int64_t r = 0; r < s; ++r)
          for (int64_t c = 0; c < s; ++c) ASSERT_NEAR(at(img, ch, r, c), at(img, ch, c, s - 1 - r), 1e-5) << ch;
    }
    if (crystal_system(n) == CrystalSystem::Cubic) {  // the 3-fold axis along [111] maps hkl to lhk
      for (int64_t i = 0; i < s * s; ++i) {
        ASSERT_NEAR(img[i], img[4 * s * s + i], 1e-5);
        ASSERT_NEAR(img[s * s + i], img[5 * s * s + i], 1e-5);
      }
    }
  }
  EXPECT_THAT(error_of([&] { zone_patterns(crystal_of(1, 1), PatternOptions{4}); }), HasSubstr("size must be in 8..1024"));
}

TEST(SpaceGroupDiffraction, DiffractionClassesGroupSameLaueGroupAndAbsences) {
  SKIP_WITHOUT_SPGLIB();
  const std::vector<int>& c = diffraction_classes();
  ASSERT_EQ(c.size(), 231u);
  // Same Laue group, no absences: 1 and -1; 2, m and 2/m; 432, -43m and m-3m with F centring.
  EXPECT_EQ(c[1], c[2]);
  EXPECT_TRUE(c[3] == c[6] && c[6] == c[10]);
  EXPECT_TRUE(c[209] == c[216] && c[216] == c[225]);
  // Enantiomorphic screw axes look alike; 4_2 does not.
  EXPECT_EQ(c[76], c[78]);
  EXPECT_NE(c[76], c[77]);
  // A 2_1 axis, a glide, another orientation of the Laue group, another centring, a d glide.
  EXPECT_EQ(c[4], c[11]);
  EXPECT_NE(c[3], c[4]);
  EXPECT_NE(c[13], c[10]);
  EXPECT_NE(c[149], c[150]);
  EXPECT_NE(c[221], c[225]);
  EXPECT_NE(c[225], c[227]);
  // The rule agrees with the structure factors of random crystals: groups of one class have zero
  // intensity at the same reflections of the layers, groups of different classes do not.
  auto zeros = [](int n) {
    const Crystal x = crystal_of(n, 100 + n);
    std::vector<bool> z;
    for (int h = -4; h <= 4; ++h)
      for (int k = -4; k <= 4; ++k)
        for (int l = 0; l <= 1; ++l)
          for (const auto& idx : {std::array<int, 3>{h, k, l}, {h, l, k}, {l, h, k}})
            z.push_back(intensity(x, idx[0], idx[1], idx[2]) < 1e-16);
    return z;
  };
  EXPECT_EQ(zeros(209), zeros(225));
  EXPECT_EQ(zeros(76), zeros(78));
  EXPECT_EQ(zeros(4), zeros(11));
  EXPECT_NE(zeros(225), zeros(227));
  EXPECT_NE(zeros(76), zeros(77));
  const int count = *std::max_element(c.begin(), c.end()) + 1;
  EXPECT_GT(count, 80);
  EXPECT_LT(count, 230);
  std::cout << count << " classes of groups with the same Laue group and absences in the six layers\n";
  for (int n = 1; n <= 230; ++n) EXPECT_EQ(c[n], c[enantiomorph(n)]) << n;
}
