// A parity plot (predicted against true energy, one colour per model, the diagonal for
// reference) written as a self-contained SVG file.
#pragma once

#include <string>
#include <vector>

namespace magmadnn::cli::ising {

struct ParitySeries {
  std::string label;
  std::vector<double> truth, predicted;
};

// Writes at most max_points points per series (evenly strided); atomic like other outputs.
void write_parity_svg(const std::string& path, const std::vector<ParitySeries>& series, const std::string& title,
                      size_t max_points = 1500);

}  // namespace magmadnn::cli::ising
