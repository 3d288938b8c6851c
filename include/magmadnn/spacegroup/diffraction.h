// Kinematic diffraction of a crystal, as images a CNN classifies: the structure factor of each
// reflection hkl, and spot patterns of six reciprocal-lattice layers (the zero and first layers
// perpendicular to c*, b* and a*: hk0, hk1, h0l, h1l, 0kl, 1kl), drawn to scale in the cell's
// true reciprocal geometry. The patterns carry what kinematic diffraction can tell about the
// space group: the Laue symmetry, the cell's shape and the systematic absences of centrings,
// screw axes and glide planes (Friedel's law hides the rest).
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <vector>

#include "magmadnn/spacegroup/crystal.h"

namespace magmadnn::spacegroup {

// Isotropic atomic displacement factor B (angstrom^2) of every atom: f = Z exp(-B s^2) with
// s = sin(theta) / lambda = |g| / 2.
constexpr double kDisplacementB = 2.0;

// F(hkl) = sum_j f_j(s) exp(2 pi i (h x_j + k y_j + l z_j)).
std::complex<double> structure_factor(const Crystal& crystal, int h, int k, int l);

struct PatternOptions {
  int64_t size = 32;           // pixels per side of each layer's image
  int max_index = 4;           // the image's radius reaches index max_index along the longest of a*, b*, c*
  double spot_sigma = 0.6;     // Gaussian spot width, pixels
  double dynamic_range = 100;  // value = log(1 + r I / I_max) / log(1 + r): weak spots stay visible
};

constexpr int64_t kPatternChannels = 6;
const std::vector<std::string>& pattern_channel_names();  // "hk0", "hk1", "h0l", "h1l", "0kl", "1kl"

// The six layers as images, (6, size, size) row-major, values in [0, 1]: each reflection of a
// layer within the radius (000 left out) is a spot at its position in the layer's plane, centred
// on the image; one scale for all layers, so the cell's shape shows. Throws Error for a size
// below 8, max_index below 1 or a non-positive spot width or range.
std::vector<float> zone_patterns(const Crystal& crystal, const PatternOptions& options = {});

// Classes of groups that symmetry alone does not separate in the six layers: two groups share a
// class when their Laue groups (as sets of matrices, so -3m1 and -31m differ) and their
// systematically absent reflections in the layers (indices up to 6; h is absent when an operation
// (R, t) has h R = h and h . t not an integer) are the same, e.g. P2, Pm and P2/m. Intensities
// can still separate most of them (a mirror and a 2-fold axis project atoms differently); only
// enantiomorphic pairs (enantiomorph()) are strictly indistinguishable. Element n (1..230) is
// group n's class, 0..classes-1; element 0 is -1. Needs spglib.
const std::vector<int>& diffraction_classes();

}  // namespace magmadnn::spacegroup
