// IDX reader and writer (see data/idx.h). Gzipped input is inflated with zlib in memory; the
// header is validated before any data is copied so a bad file fails fast with a precise reason.
#include "magmadnn/data/idx.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "io/file_util.h"

namespace magmadnn::data {

namespace {

std::string hex_byte(uint8_t b) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

struct IdxType {
  DType dtype;
  size_t size;
};

bool idx_type(uint8_t code, IdxType* t) {
  switch (code) {
    case 0x08:
      *t = {kUInt8, 1};
      return true;
    case 0x0C:
      *t = {kInt32, 4};
      return true;
    case 0x0D:
      *t = {kFloat32, 4};
      return true;
    case 0x0E:
      *t = {kFloat64, 8};
      return true;
    default:
      return false;
  }
}

uint8_t idx_code(DType t) {
  switch (t) {
    case DType::UInt8:
      return 0x08;
    case DType::Int32:
      return 0x0C;
    case DType::Float32:
      return 0x0D;
    case DType::Float64:
      return 0x0E;
    default:
      return 0;
  }
}

// Copies `n` elements of `size` bytes from big-endian `src` into native little-endian `dst`.
void copy_big_endian(uint8_t* dst, const uint8_t* src, size_t n, size_t size) {
  if (size == 1) {
    std::memcpy(dst, src, n);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t b = 0; b < size; ++b) dst[i * size + b] = src[i * size + size - 1 - b];
}

}  // namespace

Tensor read_idx(const std::string& path) {
  std::vector<uint8_t> bytes = io::detail::read_file(path, "read_idx");
  if (io::detail::is_gzip(bytes)) bytes = io::detail::gunzip(bytes, path, "read_idx");
  MAGMADNN_CHECK(bytes.size() >= 4, "read_idx: ", path, ": file too small for an IDX header (", bytes.size(),
                 " bytes)");
  MAGMADNN_CHECK(bytes[0] == 0 && bytes[1] == 0, "read_idx: ", path,
                 ": bad magic: expected 0x00 0x00 <type> <ndims>, got ", hex_byte(bytes[0]), " ",
                 hex_byte(bytes[1]), " ", hex_byte(bytes[2]), " ", hex_byte(bytes[3]), " (not an IDX file)");
  IdxType type{};
  MAGMADNN_CHECK(idx_type(bytes[2], &type), "read_idx: ", path, ": unsupported element type ",
                 hex_byte(bytes[2]), " (supported: 0x08 uint8, 0x0c int32, 0x0d float32, 0x0e float64)");
  const int ndims = bytes[3];
  MAGMADNN_CHECK(ndims >= 1 && ndims <= 4, "read_idx: ", path, ": unsupported number of dimensions ", ndims,
                 " (expected 1 to 4)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  MAGMADNN_CHECK(bytes.size() >= header, "read_idx: ", path, ": truncated header: expected ", header,
                 " bytes, got ", bytes.size());
  std::vector<int64_t> dims(ndims);
  // Bounded so the product cannot overflow and a corrupt size cannot ask for terabytes.
  constexpr uint64_t kMaxBytes = uint64_t(1) << 40;
  uint64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const uint32_t v = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
    MAGMADNN_CHECK(v > 0, "read_idx: ", path, ": dimension ", d, " has size 0");
    dims[d] = v;
    MAGMADNN_CHECK(count <= kMaxBytes / type.size / v, "read_idx: ", path,
                   ": implausible sizes (more than 2^40 bytes of data)");
    count *= v;
  }
  const uint64_t expected = count * type.size;
  const uint64_t got = bytes.size() - header;
  MAGMADNN_CHECK(got >= expected, "read_idx: ", path, ": truncated: expected ", expected, " data bytes, got ",
                 got);
  MAGMADNN_CHECK(got == expected, "read_idx: ", path, ": ", got - expected,
                 " trailing bytes after the expected ", expected, " data bytes");
  Tensor out = Tensor::empty(Shape(dims), type.dtype);
  copy_big_endian(static_cast<uint8_t*>(out.raw_data()), bytes.data() + header, count, type.size);
  return out;
}

void write_idx(const std::string& path, const Tensor& tensor_in, bool gzip) {
  MAGMADNN_CHECK(tensor_in.defined(), "write_idx: ", path, ": undefined tensor");
  const uint8_t code = idx_code(tensor_in.dtype());
  MAGMADNN_CHECK(code != 0, "write_idx: ", path, ": IDX cannot store dtype ", tensor_in.dtype(),
                 " (supported: uint8, int32, float32, float64)");
  MAGMADNN_CHECK(tensor_in.dim() >= 1 && tensor_in.dim() <= 4, "write_idx: ", path,
                 ": expected a tensor with 1 to 4 dimensions, got shape ", tensor_in.shape());
  const Tensor t = tensor_in.cpu().contiguous();
  std::vector<uint8_t> bytes{0, 0, code, static_cast<uint8_t>(t.dim())};
  for (int64_t d : t.shape()) {
    MAGMADNN_CHECK(d > 0 && d <= std::numeric_limits<uint32_t>::max(), "write_idx: ", path,
                   ": dimension sizes must be in [1, 2^32), got shape ", t.shape());
    const uint32_t v = static_cast<uint32_t>(d);
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(v >> s));
  }
  const size_t header = bytes.size();
  bytes.resize(header + t.nbytes());
  copy_big_endian(bytes.data() + header, static_cast<const uint8_t*>(t.raw_data()), t.numel(),
                  t.element_size());

  if (gzip) {
    std::vector<uint8_t> packed(compressBound(bytes.size()) + 64);
    z_stream zs{};
    MAGMADNN_CHECK(
        deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
        "write_idx: ", path, ": cannot initialise zlib");
    zs.next_in = bytes.data();
    zs.avail_in = static_cast<uInt>(bytes.size());
    zs.next_out = packed.data();
    zs.avail_out = static_cast<uInt>(packed.size());
    const int rc = deflate(&zs, Z_FINISH);
    const size_t n = packed.size() - zs.avail_out;
    deflateEnd(&zs);
    MAGMADNN_CHECK(rc == Z_STREAM_END, "write_idx: ", path, ": gzip compression failed (zlib error ", rc,
                   ")");
    packed.resize(n);
    bytes.swap(packed);
  }
  io::detail::write_file_atomic(path, "write_idx",
                                [&](const io::detail::ByteSink& sink) { sink(bytes.data(), bytes.size()); });
}

}  // namespace magmadnn::data
