// Space-group tables (see spacegroup/symmetry.h). The operations come from spglib's database,
// read once for all 230 types; the coarse labels come from the International Tables' number
// ranges, so they work in builds without spglib too.
#include "magmadnn/spacegroup/symmetry.h"

#include <algorithm>
#include <cmath>

#include "magmadnn/core/error.h"

#ifdef MAGMADNN_WITH_SPGLIB
#include <spglib.h>
#endif

namespace magmadnn::spacegroup {

namespace {

void check_number(int number, const char* what) {
  MAGMADNN_CHECK(number >= 1 && number <= 230, what, ": space-group number must be in 1..230, got ", number);
}

// The last space-group number of each point group, in point_group_names() order.
constexpr int kPointGroupLast[32] = {1,   2,   5,   9,   15,  24,  46,  74,  80,  82,  88,  98,  110, 122, 142, 146,
                                     148, 155, 161, 167, 173, 174, 176, 182, 186, 190, 194, 199, 206, 214, 220, 230};
// The Laue class of each point group (its point group with the inversion added).
constexpr int kLaueOfPointGroup[32] = {0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5,
                                       5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 10, 10, 10};
constexpr CrystalSystem kSystemOfLaue[11] = {
    CrystalSystem::Triclinic, CrystalSystem::Monoclinic, CrystalSystem::Orthorhombic, CrystalSystem::Tetragonal,
    CrystalSystem::Tetragonal, CrystalSystem::Trigonal, CrystalSystem::Trigonal, CrystalSystem::Hexagonal,
    CrystalSystem::Hexagonal, CrystalSystem::Cubic, CrystalSystem::Cubic};

#ifdef MAGMADNN_WITH_SPGLIB
std::string trimmed(const char* s) {
  std::string out(s);
  out.erase(std::remove(out.begin(), out.end(), ' '), out.end());
  return out;
}

std::vector<SpaceGroup> build_tables() {
  std::vector<SpaceGroup> groups(231);
  int rotations[192][3][3];  // spglib's largest group (Fm-3m) has 192 operations
  double translations[192][3];
  for (int hall = 1; hall <= 530; ++hall) {
    const SpglibSpacegroupType type = spg_get_spacegroup_type(hall);
    MAGMADNN_CHECK(type.number >= 1 && type.number <= 230, "space_group: spglib has no type for Hall number ", hall);
    SpaceGroup& g = groups[type.number];
    if (g.number != 0) continue;  // keep the first (standard) setting
    g.number = type.number;
    g.hall_number = hall;
    g.symbol = trimmed(type.international_short);
    g.point_group = trimmed(type.pointgroup_international);
    g.system = crystal_system(type.number);
    const int n = spg_get_symmetry_from_database(rotations, translations, hall);
    MAGMADNN_CHECK(n > 0, "space_group: spglib has no operations for Hall number ", hall);
    for (int i = 0; i < n; ++i) {
      SymmetryOperation op;
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) op.rotation[r][c] = rotations[i][r][c];
        op.translation[r] = translations[i][r] - std::floor(translations[i][r]);
      }
      g.operations.push_back(op);
    }
  }
  return groups;
}
#endif

}  // namespace

bool symmetry_available() {
#ifdef MAGMADNN_WITH_SPGLIB
  return true;
#else
  return false;
#endif
}

const SpaceGroup& space_group(int number) {
  check_number(number, "space_group");
#ifdef MAGMADNN_WITH_SPGLIB
  static const std::vector<SpaceGroup> groups = build_tables();  // built once, thread-safe
  return groups[number];
#else
  MAGMADNN_ERROR("space_group(", number, "): this build of MagmaDNN has no spglib (install libsymspg-dev and "
                 "reconfigure)");
#endif
}

int enantiomorph(int number) {
  check_number(number, "enantiomorph");
  static constexpr int kPairs[11][2] = {{76, 78},   {91, 95},   {92, 96},   {144, 145}, {151, 153}, {152, 154},
                                        {169, 170}, {171, 172}, {178, 179}, {180, 181}, {212, 213}};
  for (const auto& pair : kPairs) {
    if (pair[0] == number) return pair[1];
    if (pair[1] == number) return pair[0];
  }
  return number;
}

int point_group_index(int number) {
  check_number(number, "point_group_index");
  return static_cast<int>(std::lower_bound(std::begin(kPointGroupLast), std::end(kPointGroupLast), number) -
                          std::begin(kPointGroupLast));
}

const std::vector<std::string>& point_group_names() {
  static const std::vector<std::string> names = {
      "1",   "-1",  "2",    "m",   "2/m", "222",  "mm2",   "mmm", "4",   "-4",  "4/m",
      "422", "4mm", "-42m", "4/mmm", "3", "-3",   "32",    "3m",  "-3m", "6",   "-6",
      "6/m", "622", "6mm",  "-6m2", "6/mmm", "23", "m-3", "432", "-43m", "m-3m"};
  return names;
}

int laue_class_index(int number) { return kLaueOfPointGroup[point_group_index(number)]; }

const std::vector<std::string>& laue_class_names() {
  static const std::vector<std::string> names = {"-1", "2/m", "mmm", "4/m", "4/mmm", "-3",
                                                 "-3m", "6/m", "6/mmm", "m-3", "m-3m"};
  return names;
}

CrystalSystem crystal_system(int number) { return kSystemOfLaue[laue_class_index(number)]; }

std::string crystal_system_name(CrystalSystem system) {
  switch (system) {
    case CrystalSystem::Triclinic: return "triclinic";
    case CrystalSystem::Monoclinic: return "monoclinic";
    case CrystalSystem::Orthorhombic: return "orthorhombic";
    case CrystalSystem::Tetragonal: return "tetragonal";
    case CrystalSystem::Trigonal: return "trigonal";
    case CrystalSystem::Hexagonal: return "hexagonal";
    case CrystalSystem::Cubic: return "cubic";
  }
  return "?";
}

Target parse_target(const std::string& name) {
  if (name == "space-group") return Target::SpaceGroup;
  if (name == "point-group") return Target::PointGroup;
  if (name == "laue-class") return Target::LaueClass;
  if (name == "crystal-system") return Target::CrystalSystem;
  MAGMADNN_ERROR("unknown target '", name, "': expected space-group, point-group, laue-class or crystal-system");
}

std::string target_name(Target target) {
  switch (target) {
    case Target::SpaceGroup: return "space-group";
    case Target::PointGroup: return "point-group";
    case Target::LaueClass: return "laue-class";
    case Target::CrystalSystem: return "crystal-system";
  }
  return "?";
}

int64_t num_classes(Target target) {
  switch (target) {
    case Target::SpaceGroup: return 230;
    case Target::PointGroup: return 32;
    case Target::LaueClass: return 11;
    case Target::CrystalSystem: return 7;
  }
  return 0;
}

int64_t label_of(Target target, int number) {
  check_number(number, "label_of");
  switch (target) {
    case Target::SpaceGroup: return number - 1;
    case Target::PointGroup: return point_group_index(number);
    case Target::LaueClass: return laue_class_index(number);
    case Target::CrystalSystem: return static_cast<int64_t>(crystal_system(number));
  }
  return 0;
}

std::string class_name(Target target, int64_t label) {
  MAGMADNN_CHECK(label >= 0 && label < num_classes(target), "class_name: class ", label, " is outside 0..",
                 num_classes(target) - 1, " for target ", target_name(target));
  switch (target) {
    case Target::SpaceGroup: {
      const int number = static_cast<int>(label) + 1;
      if (!symmetry_available()) return std::to_string(number);
      return space_group(number).symbol + " (" + std::to_string(number) + ")";
    }
    case Target::PointGroup: return point_group_names()[label];
    case Target::LaueClass: return laue_class_names()[label];
    case Target::CrystalSystem: return crystal_system_name(static_cast<CrystalSystem>(label));
  }
  return "?";
}

}  // namespace magmadnn::spacegroup
