// SVG parity plot (see parity_plot.h): square axes over the common range of truth and
// predictions, ticks at round steps, translucent points so dense regions read darker.
#include "ising/parity_plot.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "magmadnn/io/atomic_file.h"

namespace magmadnn::cli::ising {

void write_parity_svg(const std::string& path, const std::vector<ParitySeries>& series, const std::string& title,
                      size_t max_points) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (size_t i = 0; i < s.truth.size(); ++i) {
      lo = std::min({lo, s.truth[i], s.predicted[i]});
      hi = std::max({hi, s.truth[i], s.predicted[i]});
    }
  if (!(lo < hi)) lo = -1, hi = 1;
  const double pad = 0.04 * (hi - lo);
  lo -= pad, hi += pad;
  const double size = 560, left = 70, top = 40;
  auto px = [&](double v) { return left + (v - lo) / (hi - lo) * size; };
  auto py = [&](double v) { return top + size - (v - lo) / (hi - lo) * size; };
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

  auto label = [](double v) {  // tick labels in default formatting, coordinates to 0.1 px
    std::ostringstream l;
    l << (std::abs(v) < 1e-12 ? 0.0 : v);
    return l.str();
  };
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << left + size + 200 << "' height='" << top + size + 60
      << "' font-family='sans-serif' font-size='13'>\n<rect width='100%' height='100%' fill='white'/>\n";
  svg << "<text x='" << left << "' y='24' font-size='15'>" << title << "</text>\n";
  svg << "<rect x='" << left << "' y='" << top << "' width='" << size << "' height='" << size
      << "' fill='none' stroke='black'/>\n";
  const double raw = (hi - lo) / 6, mag = std::pow(10, std::floor(std::log10(raw)));
  const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
  for (double t = std::ceil(lo / step) * step; t <= hi; t += step) {
    svg << "<line x1='" << px(t) << "' y1='" << top + size << "' x2='" << px(t) << "' y2='" << top + size + 5
        << "' stroke='black'/><text x='" << px(t) << "' y='" << top + size + 20 << "' text-anchor='middle'>" << label(t)
        << "</text>\n";
    svg << "<line x1='" << left - 5 << "' y1='" << py(t) << "' x2='" << left << "' y2='" << py(t)
        << "' stroke='black'/><text x='" << left - 8 << "' y='" << py(t) + 4 << "' text-anchor='end'>" << label(t)
        << "</text>\n";
  }
  svg << "<text x='" << left + size / 2 << "' y='" << top + size + 45 << "' text-anchor='middle'>true energy</text>\n";
  svg << "<text transform='translate(20," << top + size / 2 << ") rotate(-90)' text-anchor='middle'>predicted energy</text>\n";
  svg << "<line x1='" << px(lo) << "' y1='" << py(lo) << "' x2='" << px(hi) << "' y2='" << py(hi)
      << "' stroke='#888' stroke-dasharray='4 3'/>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* colour = colours[k % 5];
    const size_t stride = std::max<size_t>(1, (s.truth.size() + max_points - 1) / max_points);
    svg << "<g fill='" << colour << "' fill-opacity='0.35'>\n";
    for (size_t i = 0; i < s.truth.size(); i += stride)
      svg << "<circle cx='" << px(s.truth[i]) << "' cy='" << py(s.predicted[i]) << "' r='2.5'/>\n";
    svg << "</g>\n<rect x='" << left + size + 20 << "' y='" << top + 10 + 22 * k << "' width='12' height='12' fill='"
        << colour << "'/><text x='" << left + size + 38 << "' y='" << top + 21 + 22 * k << "'>" << s.label
        << "</text>\n";
  }
  svg << "</svg>\n";

  io::write_file_atomic(path, svg.str(), "parity plot");
}

}  // namespace magmadnn::cli::ising
