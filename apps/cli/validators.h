// Flag validators with plain messages ("--epochs: must be a positive number, got 0"), used instead
// of CLI11's PositiveNumber / NonNegativeNumber, whose messages print their range up to DBL_MAX and
// call 0 "not in range 0 to ..." for a positive flag.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdlib>
#include <string>

namespace magmadnn::cli {

namespace detail {
inline CLI::Validator number_validator(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        const double v = std::strtod(begin, &end);
        const char* what = allow_zero ? "a number >= 0" : "a positive number";
        if (text.empty() || end != begin + text.size() || !std::isfinite(v))
          return std::string("must be ") + what + ", got '" + text + "'";
        if (allow_zero ? v < 0 : v <= 0) return std::string("must be ") + what + ", got " + text;
        return "";
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace detail

inline const CLI::Validator Positive = detail::number_validator(/*allow_zero=*/false);
inline const CLI::Validator NonNegative = detail::number_validator(/*allow_zero=*/true);

}  // namespace magmadnn::cli
