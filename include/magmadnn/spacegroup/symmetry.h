// The 230 crystallographic space-group types for the space-group application: symmetry
// operations in the standard setting (taken from spglib's database), and the coarser labels a
// classifier can be trained on: point group (32), Laue class (11) and crystal system (7).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace magmadnn::spacegroup {

enum class CrystalSystem { Triclinic, Monoclinic, Orthorhombic, Tetragonal, Trigonal, Hexagonal, Cubic };

// x' = rotation * x + translation, on fractional coordinates of the conventional cell.
struct SymmetryOperation {
  std::array<std::array<int, 3>, 3> rotation;
  std::array<double, 3> translation;
};

struct SpaceGroup {
  int number = 0;           // 1..230
  int hall_number = 0;      // spglib's setting: the first one listed for the type (standard
                            // setting; unique axis b for monoclinic, hexagonal axes for R groups)
  std::string symbol;       // Hermann-Mauguin short symbol, e.g. "P2_1/c"
  std::string point_group;  // spglib's Hermann-Mauguin point-group symbol, e.g. "2/m"
  CrystalSystem system = CrystalSystem::Triclinic;
  // Every operation of the conventional cell, centring translations included (192 for Fm-3m).
  std::vector<SymmetryOperation> operations;
};

// Whether this build has spglib, which space_group() and detect_space_group() need.
bool symmetry_available();

// The space-group type `number` (1..230), built once and cached. Throws Error for numbers outside
// 1..230 and in builds without spglib.
const SpaceGroup& space_group(int number);

// The enantiomorphic partner of a group (P4_1 <-> P4_3 and the 10 other pairs of the International
// Tables), or the group itself. A crystal and its mirror image have the same kinematic
// diffraction intensities (Friedel's law), so no pattern can tell the partners apart.
int enantiomorph(int number);

// Labels from the space-group number alone (International Tables' number ranges; no spglib).
// Each throws Error for numbers outside 1..230.
CrystalSystem crystal_system(int number);
std::string crystal_system_name(CrystalSystem system);  // "triclinic", ..., "cubic"
int point_group_index(int number);                      // index into point_group_names()
const std::vector<std::string>& point_group_names();    // 32: "1", "-1", "2", ..., "m-3m"
int laue_class_index(int number);                       // index into laue_class_names()
const std::vector<std::string>& laue_class_names();     // 11: "-1", "2/m", ..., "m-3m"

// What a classifier predicts from a diffraction pattern.
enum class Target { SpaceGroup, PointGroup, LaueClass, CrystalSystem };
// "space-group", "point-group", "laue-class", "crystal-system"; parse throws Error naming them.
Target parse_target(const std::string& name);
std::string target_name(Target target);
int64_t num_classes(Target target);  // 230, 32, 11, 7
// The class (0-based) of space group `number` under `target`, and a readable name of a class:
// "P2_1/c (14)" (needs spglib; "14" without), "2/m", "mmm", "cubic".
int64_t label_of(Target target, int number);
std::string class_name(Target target, int64_t label);

}  // namespace magmadnn::spacegroup
