// Shape helpers and broadcasting; see core/shape.h.
#include "magmadnn/core/shape.h"

#include "magmadnn/core/error.h"

namespace magmadnn {

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

int64_t Shape::at(int64_t d) const {
  MAGMADNN_CHECK(!dims_.empty(), "Shape::at: dimension ", d, " out of range for a shape with 0 dimensions");
  return dims_[wrap_dim(d, dim(), "Shape::at")];
}

std::string Shape::str() const {
  std::string s = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

int64_t wrap_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t n = ndim == 0 ? 1 : ndim;  // a scalar accepts dim 0 and -1
  MAGMADNN_CHECK(d >= -n && d < n, op, ": dimension ", d, " out of range for a tensor with ", ndim, " dimensions");
  return d < 0 ? d + n : d;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> strides(s.size());
  int64_t st = 1;
  for (int64_t i = s.dim() - 1; i >= 0; --i) {
    strides[i] = st;
    st *= s[i];
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MAGMADNN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

}  // namespace magmadnn
