// Crystals for the space-group application: a unit cell (lattice parameters) and the atoms in
// it, random crystals of a given space group (a few independent sites on general or special
// positions, each expanded by the group's operations), and spglib's symmetry search to check them.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "magmadnn/core/rng.h"
#include "magmadnn/spacegroup/symmetry.h"

namespace magmadnn::spacegroup {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<Vec3, 3>;

struct Lattice {
  double a = 1, b = 1, c = 1;              // edges, in angstrom
  double alpha = 90, beta = 90, gamma = 90;  // angles, in degrees
  // Rows a, b, c in Cartesian coordinates (angstrom): a along x, b in the xy plane. Throws Error
  // for parameters that span no cell (non-positive edges or volume).
  Mat3 vectors() const;
  // Rows a*, b*, c* (1/angstrom, without 2 pi): a_i . r_j = 1 if i == j, else 0.
  Mat3 reciprocal() const;
  double volume() const;
  // The parameters of the cell with these rows as a, b, c (angstrom).
  static Lattice from_vectors(const Mat3& rows);
};

struct Atom {
  Vec3 position{};  // fractional coordinates in [0, 1)
  int element = 1;  // atomic number: sets the scattering power
};

struct Crystal {
  int space_group = 1;
  Lattice lattice;
  std::vector<Atom> atoms;  // every atom of the conventional cell
};

struct CrystalOptions {
  int min_sites = 2, max_sites = 3;         // independent sites, each of another element
  double min_length = 4, max_length = 8;    // range of the cell edges, angstrom
  int min_element = 3, max_element = 60;    // range of the atomic numbers
  // Closest approach of two atoms, angstrom: a site is redrawn (up to site_attempts times, then
  // the draw with the largest closest approach is kept) when its orbit comes closer to itself or
  // to earlier atoms. A site meant for a general position is also redrawn when it lies on a
  // special position.
  double min_distance = 0.5;
  int site_attempts = 50;
  // Probability that a site after the first sits on a special position: a point fixed by one of
  // the group's operations other than the identity (on a mirror plane, a rotation axis or an
  // inversion centre), so its orbit has fewer atoms than the group has operations, as many atoms
  // of real crystals do. The first site always takes a general position, which keeps the
  // crystal's symmetry that of its group. Groups without special positions (only screws and
  // glides, as P2_12_12_1) keep general ones. 0: general positions only (and no extra draws).
  double special_probability = 0;
};

// A random cell of `system`'s shape: triclinic (all free, angles in 70..110 degrees), monoclinic
// (unique axis b, beta in 95..120), orthorhombic, tetragonal (a = b), trigonal and hexagonal
// (a = b, gamma = 120, hexagonal axes also for R groups), cubic (a = b = c).
Lattice random_lattice(CrystalSystem system, Generator& gen, const CrystalOptions& options = {});

// The distinct images of `site` under the group's operations, wrapped into [0, 1); images closer
// than `tolerance` (fractional, periodic) count once.
std::vector<Vec3> orbit(const SpaceGroup& group, const Vec3& site, double tolerance = 1e-4);

// A point fixed by `op` (modulo lattice translations) near `site`: the mean of site's images under
// op, op^2, ..., op^n = identity (computed without wrapping), wrapped into [0, 1). For an
// operation without fixed points (the identity, a pure translation, a screw rotation or a glide
// reflection) there is none.
std::optional<Vec3> fixed_point(const SymmetryOperation& op, const Vec3& site);

// The smallest distance (angstrom, periodic: nearest images by fractional rounding) between an
// atom at one of `a` and one at `b`, or between two atoms of `a` when `b` is null.
double closest_approach(const Lattice& lattice, const std::vector<Vec3>& a, const std::vector<Vec3>* b = nullptr);

// A crystal of space group `number`: a random cell of its crystal system and min..max_sites
// sites of distinct elements at random general (or, see special_probability, special) positions,
// expanded into the whole cell.
Crystal random_crystal(int number, Generator& gen, const CrystalOptions& options = {});

// An integer change of basis with determinant +1: new cell vectors (a', b', c') = (a, b, c) P.
using Setting = std::array<std::array<int, 3>, 3>;

// The same crystal described in another setting `p`: the cell (a, b, c) P, fractional coordinates
// x' = P^-1 x wrapped into [0, 1), reflection h' = P^T h. Throws Error unless det P = +1 (a
// determinant of -1 would mirror the crystal, turning chiral groups into their enantiomorphs).
Crystal change_setting(const Crystal& crystal, const Setting& p);

// A random setting for a crystal of `system`: one of the six permutations of the axes (one axis
// negated for the odd ones, so det = +1) for triclinic, monoclinic (unique axis a, b or c) and
// orthorhombic crystals, where the labelling of the axes is a convention (the six settings of
// Pnma: Pnma, Pmnb, Pbnm, Pcmn, Pmcn, Pnam); the identity for the other systems, whose unique
// axis is c by definition.
Setting random_setting(CrystalSystem system, Generator& gen);

// The space-group number spglib finds for `crystal` (distance tolerance `symprec` angstrom);
// throws Error when spglib finds none or the build has no spglib.
int detect_space_group(const Crystal& crystal, double symprec = 1e-3);

}  // namespace magmadnn::spacegroup
