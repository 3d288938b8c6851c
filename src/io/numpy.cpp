// NumPy .npy / .npz reading and writing (see io/numpy.h). The .npy header is a Python dict
// literal parsed by a small strict parser; .npz is a zip archive walked through its central
// directory (so data descriptors and zip64 extras are handled), inflated with zlib, CRC-checked.
#include "magmadnn/io/numpy.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "io/file_util.h"

namespace magmadnn::io {

namespace {

struct DTypeInfo {
  const char* code;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {{"b1", 1}, {"i1", 1}, {"u1", 1}, {"i2", 2}, {"u2", 2}, {"i4", 4},
                                 {"u4", 4}, {"i8", 8}, {"u8", 8}, {"f4", 4}, {"f8", 8}};

size_t dtype_itemsize(const std::string& code) {
  for (const auto& d : kDTypes)
    if (code == d.code) return d.size;
  return 0;
}

const char* kSupported = "b1, i1, u1, i2, u2, i4, u4, i8, u8, f4, f8";

// Bounded so a corrupt shape cannot overflow or ask for terabytes.
constexpr uint64_t kMaxBytes = uint64_t(1) << 40;

uint64_t checked_numel(const std::vector<int64_t>& shape, size_t itemsize, const std::string& op,
                       const std::string& source) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    MAGMADNN_CHECK(d >= 0, op, ": ", source, ": negative dimension in shape");
    if (d == 0) return 0;
    MAGMADNN_CHECK(n <= kMaxBytes / itemsize / static_cast<uint64_t>(d), op, ": ", source,
                   ": implausible shape (more than 2^40 bytes of data)");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}


// ---- .npy header: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }

struct HeaderParser {
  const std::string& text;
  const std::string& source;
  size_t pos = 0;

  [[noreturn]] void fail(const std::string& what) const {
    MAGMADNN_ERROR("load_npy: ", source, ": bad header: ", what, " in ", text);
  }
  void skip_ws() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool peek(char c) {
    skip_ws();
    return pos < text.size() && text[pos] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++pos;
  }
  std::string string_literal() {
    skip_ws();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) fail("expected a quoted string");
    const char q = text[pos++];
    const size_t end = text.find(q, pos);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    return s;
  }
  bool boolean() {
    skip_ws();
    if (text.compare(pos, 4, "True") == 0) {
      pos += 4;
      return true;
    }
    if (text.compare(pos, 5, "False") == 0) {
      pos += 5;
      return false;
    }
    fail("expected True or False");
  }
  int64_t integer() {
    skip_ws();
    const size_t start = pos;
    uint64_t v = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      v = v * 10 + static_cast<uint64_t>(text[pos] - '0');
      if (v > (uint64_t(1) << 62)) fail("dimension too large");
      ++pos;
    }
    if (pos == start) fail("expected a non-negative integer");
    if (pos < text.size() && text[pos] == 'L') ++pos;  // Python 2 long
    return static_cast<int64_t>(v);
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (!peek(')')) {
      dims.push_back(integer());
      if (peek(',')) {
        ++pos;
      } else if (!peek(')')) {
        fail("expected ',' or ')' in shape");
      }
    }
    ++pos;
    return dims;
  }
};

struct NpyHeader {
  std::string dtype;
  std::vector<int64_t> shape;
};

NpyHeader parse_header(const std::string& text, const std::string& source) {
  HeaderParser p{text, source};
  if (!p.peek('{')) MAGMADNN_ERROR("load_npy: ", source, ": header is not a dict: ", text);
  ++p.pos;
  bool have_descr = false, have_order = false, have_shape = false;
  NpyHeader h;
  while (!p.peek('}')) {
    const std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") {
      if (!p.peek('\'') && !p.peek('"'))
        MAGMADNN_ERROR("load_npy: ", source, ": unsupported dtype (structured arrays are not supported): ", text);
      const std::string descr = p.string_literal();
      MAGMADNN_CHECK(descr.size() >= 2, "load_npy: ", source, ": unsupported dtype '", descr, "'");
      const char order = descr[0];
      std::string code = descr.substr(1);
      if (order != '<' && order != '|' && order != '>' && order != '=') {
        code = descr;  // no byte-order character
      }
      if (code == "?") code = "b1";
      const size_t size = dtype_itemsize(code);
      MAGMADNN_CHECK(size != 0, "load_npy: ", source, ": unsupported dtype '", descr, "' (supported: ", kSupported,
                     "; object, string and structured dtypes are not)");
      MAGMADNN_CHECK(!(order == '>' && size > 1), "load_npy: ", source, ": big-endian dtype '", descr,
                     "' is not supported (save with a little-endian dtype, e.g. arr.astype('<", code, "'))");
      h.dtype = code;
      have_descr = true;
    } else if (key == "fortran_order") {
      const bool fortran = p.boolean();
      MAGMADNN_CHECK(!fortran, "load_npy: ", source,
                     ": fortran_order=True is not supported (save a C-ordered array, np.ascontiguousarray)");
      have_order = true;
    } else if (key == "shape") {
      h.shape = p.tuple();
      have_shape = true;
    } else {
      p.fail("unexpected key '" + key + "'");
    }
    if (p.peek(',')) {
      ++p.pos;
    } else if (!p.peek('}')) {
      p.fail("expected ',' or '}'");
    }
  }
  MAGMADNN_CHECK(have_descr && have_order && have_shape, "load_npy: ", source,
                 ": header lacks one of 'descr', 'fortran_order', 'shape': ", text);
  return h;
}

uint32_t read_le(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
uint64_t read_le64(const uint8_t* p) {
  return uint64_t(read_le(p, 4)) | uint64_t(read_le(p + 4, 4)) << 32;
}
void put_le(std::vector<uint8_t>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

NpyArray parse_npy_as(const uint8_t* data, size_t size, const std::string& source, const char* op) {
  try {
    return parse_npy(data, size, source);
  } catch (const Error& e) {
    // Re-label errors from entries of an archive with the archive's operation.
    std::string msg = e.what();
    if (msg.rfind("load_npy: ", 0) == 0) msg = std::string(op) + ": " + msg.substr(10);
    MAGMADNN_ERROR(msg);
  }
}

}  // namespace

// ---- NpyArray

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t NpyArray::itemsize() const {
  const size_t s = dtype_itemsize(dtype);
  MAGMADNN_CHECK(s != 0, "NpyArray: unsupported dtype '", dtype, "' (supported: ", kSupported, ")");
  return s;
}

template <typename T>
const char* npy_dtype() {
  if constexpr (std::is_same_v<T, bool>) return "b1";
  else if constexpr (std::is_same_v<T, float>) return "f4";
  else if constexpr (std::is_same_v<T, double>) return "f8";
  else if constexpr (std::is_signed_v<T>) {
    static const char* codes[] = {"", "i1", "i2", "", "i4", "", "", "", "i8"};
    return codes[sizeof(T)];
  } else {
    static const char* codes[] = {"", "u1", "u2", "", "u4", "", "", "", "u8"};
    return codes[sizeof(T)];
  }
}

template <typename T>
const T* NpyArray::data() const {
  MAGMADNN_CHECK(dtype == npy_dtype<T>(), "NpyArray::data: array has dtype '", dtype, "', requested '",
                 npy_dtype<T>(), "'");
  MAGMADNN_CHECK(bytes.size() == static_cast<size_t>(numel()) * sizeof(T), "NpyArray::data: ", bytes.size(),
                 " bytes do not match shape ", shape_str(shape), " of dtype ", dtype);
  return reinterpret_cast<const T*>(bytes.data());
}

template <typename T>
T* NpyArray::data() {
  return const_cast<T*>(static_cast<const NpyArray*>(this)->data<T>());
}

template <typename T>
NpyArray NpyArray::from_vector(const std::vector<T>& values, std::vector<int64_t> shape) {
  NpyArray a;
  a.dtype = npy_dtype<T>();
  a.shape = std::move(shape);
  MAGMADNN_CHECK(static_cast<size_t>(a.numel()) == values.size(), "NpyArray::from_vector: shape ",
                 shape_str(a.shape), " holds ", a.numel(), " elements, got ", values.size(), " values");
  a.bytes.resize(values.size() * sizeof(T));
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) a.bytes[i] = values[i] ? 1 : 0;
  } else if (!values.empty()) {
    std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  }
  return a;
}

#define MAGMADNN_NPY_INSTANTIATE(T)                                                   \
  template const char* npy_dtype<T>();                                               \
  template const T* NpyArray::data<T>() const;                                        \
  template T* NpyArray::data<T>();                                                    \
  template NpyArray NpyArray::from_vector<T>(const std::vector<T>&, std::vector<int64_t>);
MAGMADNN_NPY_INSTANTIATE(bool)
MAGMADNN_NPY_INSTANTIATE(int8_t)
MAGMADNN_NPY_INSTANTIATE(uint8_t)
MAGMADNN_NPY_INSTANTIATE(int16_t)
MAGMADNN_NPY_INSTANTIATE(uint16_t)
MAGMADNN_NPY_INSTANTIATE(int32_t)
MAGMADNN_NPY_INSTANTIATE(uint32_t)
MAGMADNN_NPY_INSTANTIATE(int64_t)
MAGMADNN_NPY_INSTANTIATE(uint64_t)
MAGMADNN_NPY_INSTANTIATE(float)
MAGMADNN_NPY_INSTANTIATE(double)
#undef MAGMADNN_NPY_INSTANTIATE

// ---- .npy

NpyArray parse_npy(const uint8_t* data, size_t size, const std::string& source) {
  static const uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  MAGMADNN_CHECK(size >= 10, "load_npy: ", source, ": file too small for a .npy header (", size, " bytes)");
  MAGMADNN_CHECK(std::memcmp(data, kMagic, 6) == 0, "load_npy: ", source,
                 ": bad magic: expected \\x93NUMPY (not a .npy file)");
  const int major = data[6], minor = data[7];
  MAGMADNN_CHECK(major >= 1 && major <= 3 && minor == 0, "load_npy: ", source, ": unsupported format version ",
                 major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  MAGMADNN_CHECK(size >= 8 + len_bytes, "load_npy: ", source, ": truncated header");
  const size_t header_len = read_le(data + 8, static_cast<int>(len_bytes));
  const size_t data_start = 8 + len_bytes + header_len;
  MAGMADNN_CHECK(size >= data_start, "load_npy: ", source, ": truncated header: expected ", header_len,
                 " header bytes, got ", size - 8 - len_bytes);
  const std::string text(reinterpret_cast<const char*>(data + 8 + len_bytes), header_len);
  const NpyHeader h = parse_header(text, source);

  NpyArray a;
  a.dtype = h.dtype;
  a.shape = h.shape;
  const size_t item = a.itemsize();
  const uint64_t expected = checked_numel(a.shape, item, "load_npy", source) * item;
  const uint64_t got = size - data_start;
  MAGMADNN_CHECK(got >= expected, "load_npy: ", source, ": truncated data: shape ", shape_str(a.shape), " of ",
                 a.dtype, " needs ", expected, " bytes, got ", got);
  MAGMADNN_CHECK(got == expected, "load_npy: ", source, ": ", got - expected, " trailing bytes after the ",
                 expected, " data bytes of shape ", shape_str(a.shape));
  a.bytes.assign(data + data_start, data + size);
  if (a.dtype == "b1")
    for (uint8_t b : a.bytes) MAGMADNN_CHECK(b <= 1, "load_npy: ", source, ": bool array holds a byte ", int(b));
  return a;
}

std::vector<uint8_t> serialize_npy(const NpyArray& a) {
  const size_t item = a.itemsize();
  const uint64_t n = checked_numel(a.shape, item, "serialize_npy", "array");
  MAGMADNN_CHECK(a.bytes.size() == n * item, "serialize_npy: ", a.bytes.size(), " bytes do not match shape ",
                 shape_str(a.shape), " of dtype ", a.dtype, " (", n * item, " bytes)");
  std::string header = std::string("{'descr': '") + (item == 1 ? "|" : "<") + a.dtype +
                       "', 'fortran_order': False, 'shape': " + shape_str(a.shape) + ", }";
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  int major = 1;
  size_t prefix = 10;
  if (header.size() + 1 + prefix > 65535 + 10) {
    major = 2;
    prefix = 12;
  }
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  put_le(out, header.size(), major == 1 ? 2 : 4);
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

NpyArray load_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = detail::read_file(path, "load_npy");
  return parse_npy(bytes.data(), bytes.size(), path);
}

void save_npy(const std::string& path, const NpyArray& array) {
  std::vector<uint8_t> bytes;
  try {
    bytes = serialize_npy(array);
  } catch (const Error& e) {
    MAGMADNN_ERROR("save_npy: ", path, ": ", e.what());
  }
  detail::write_file_atomic(path, "save_npy",
                            [&](const detail::ByteSink& sink) { sink(bytes.data(), bytes.size()); });
}

// ---- .npz (zip)

namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50,
                   kZip64EndSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;

uint32_t crc32_of(const std::vector<uint8_t>& v) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0; off < v.size(); off += (1u << 30))
    crc = crc32(crc, v.data() + off, static_cast<uInt>(std::min<size_t>(v.size() - off, 1u << 30)));
  return static_cast<uint32_t>(crc);
}

std::vector<uint8_t> inflate_raw(const uint8_t* src, size_t n, size_t expected, const std::string& path,
                                 const std::string& name) {
  std::vector<uint8_t> out(expected);
  z_stream zs{};
  MAGMADNN_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "load_npz: ", path, ": cannot initialise zlib");
  zs.next_in = const_cast<Bytef*>(src);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  const size_t produced = out.size() - zs.avail_out;
  if (rc == Z_BUF_ERROR && zs.avail_out == 0 && expected > 0) {
    // More output than the directory says: probe for one extra byte to report it.
    uint8_t extra;
    zs.next_out = &extra;
    zs.avail_out = 1;
    rc = inflate(&zs, Z_FINISH);
    inflateEnd(&zs);
    MAGMADNN_ERROR("load_npz: ", path, ": entry '", name, "' inflates to more than its recorded size ", expected,
                   " bytes");
  }
  const char* msg = zs.msg;
  inflateEnd(&zs);
  MAGMADNN_CHECK(rc == Z_STREAM_END, "load_npz: ", path, ": entry '", name, "': corrupt deflate data (zlib ", rc,
                 msg ? std::string(": ") + msg : std::string(), ")");
  MAGMADNN_CHECK(produced == expected, "load_npz: ", path, ": entry '", name, "' inflates to ", produced,
                 " bytes, the directory says ", expected);
  return out;
}

}  // namespace

std::map<std::string, NpyArray> load_npz(const std::string& path) {
  const std::vector<uint8_t> z = detail::read_file(path, "load_npz");
  const size_t size = z.size();
  const uint8_t* b = z.data();
  MAGMADNN_CHECK(size >= 22, "load_npz: ", path, ": file too small for a zip archive (", size, " bytes)");
  if (size >= 4 && read_le(b, 4) != kLocalSig && read_le(b, 4) != kEndSig)
    MAGMADNN_ERROR("load_npz: ", path, ": bad magic: not a zip archive (.npz)");
  // End of central directory: the last 22 bytes plus up to 65535 bytes of comment.
  size_t eocd = std::string::npos;
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lowest;) {
    if (read_le(b + p, 4) == kEndSig) {
      eocd = p;
      break;
    }
  }
  MAGMADNN_CHECK(eocd != std::string::npos, "load_npz: ", path,
                 ": no end-of-central-directory record (truncated or not a zip archive)");
  uint64_t entries = read_le(b + eocd + 10, 2);
  uint64_t cd_size = read_le(b + eocd + 12, 4);
  uint64_t cd_offset = read_le(b + eocd + 16, 4);
  MAGMADNN_CHECK(read_le(b + eocd + 4, 2) == 0 && read_le(b + eocd + 6, 2) == 0, "load_npz: ", path,
                 ": multi-disk zip archives are not supported");
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    MAGMADNN_CHECK(eocd >= 20 && read_le(b + eocd - 20, 4) == kZip64LocatorSig, "load_npz: ", path,
                   ": zip64 sizes without a zip64 locator");
    const uint64_t z64 = read_le64(b + eocd - 20 + 8);
    MAGMADNN_CHECK(z64 + 56 <= eocd && read_le(b + z64, 4) == kZip64EndSig, "load_npz: ", path,
                   ": bad zip64 end-of-central-directory record");
    entries = read_le64(b + z64 + 32);
    cd_size = read_le64(b + z64 + 40);
    cd_offset = read_le64(b + z64 + 48);
  }
  MAGMADNN_CHECK(cd_offset <= size && cd_size <= size - cd_offset, "load_npz: ", path,
                 ": central directory (offset ", cd_offset, ", ", cd_size, " bytes) lies outside the ", size,
                 "-byte file (truncated?)");

  std::map<std::string, NpyArray> out;
  size_t p = cd_offset;
  const size_t cd_end = cd_offset + cd_size;
  for (uint64_t e = 0; e < entries; ++e) {
    MAGMADNN_CHECK(p + 46 <= cd_end && read_le(b + p, 4) == kCentralSig, "load_npz: ", path,
                   ": corrupt central directory at entry ", e);
    const uint32_t flags = read_le(b + p + 8, 2);
    const uint32_t method = read_le(b + p + 10, 2);
    const uint32_t crc = read_le(b + p + 16, 4);
    uint64_t csize = read_le(b + p + 20, 4);
    uint64_t usize = read_le(b + p + 24, 4);
    const size_t name_len = read_le(b + p + 28, 2), extra_len = read_le(b + p + 30, 2),
                 comment_len = read_le(b + p + 32, 2);
    uint64_t local = read_le(b + p + 42, 4);
    MAGMADNN_CHECK(p + 46 + name_len + extra_len + comment_len <= cd_end, "load_npz: ", path,
                   ": corrupt central directory at entry ", e);
    const std::string name(reinterpret_cast<const char*>(b + p + 46), name_len);
    // zip64 extended information: the fields that are 0xFFFFFFFF above, in this order.
    const uint8_t* x = b + p + 46 + name_len;
    for (size_t q = 0; q + 4 <= extra_len;) {
      const uint32_t id = read_le(x + q, 2), len = read_le(x + q + 2, 2);
      MAGMADNN_CHECK(q + 4 + len <= extra_len, "load_npz: ", path, ": entry '", name, "': corrupt extra field");
      if (id == 0x0001) {
        size_t r = q + 4;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          MAGMADNN_CHECK(r + 8 <= q + 4 + len, "load_npz: ", path, ": entry '", name, "': short zip64 extra field");
          field = read_le64(x + r);
          r += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      q += 4 + len;
    }
    p += 46 + name_len + extra_len + comment_len;

    MAGMADNN_CHECK(!(flags & 1), "load_npz: ", path, ": entry '", name, "' is encrypted (not supported)");
    MAGMADNN_CHECK(method == 0 || method == 8, "load_npz: ", path, ": entry '", name,
                   "' uses unsupported compression method ", method, " (supported: 0 stored, 8 deflate)");
    MAGMADNN_CHECK(local <= size && size - local >= 30 && read_le(b + local, 4) == kLocalSig, "load_npz: ", path,
                   ": entry '", name, "': bad local header (truncated or corrupt archive)");
    const size_t data_start = local + 30 + read_le(b + local + 26, 2) + read_le(b + local + 28, 2);
    MAGMADNN_CHECK(data_start <= size && csize <= size - data_start, "load_npz: ", path, ": entry '", name,
                   "' is truncated: needs ", csize, " bytes, the file has ", data_start <= size ? size - data_start : 0);
    MAGMADNN_CHECK(usize <= kMaxBytes, "load_npz: ", path, ": entry '", name, "': implausible size ", usize);
    std::vector<uint8_t> raw;
    if (method == 0) {
      MAGMADNN_CHECK(csize == usize, "load_npz: ", path, ": stored entry '", name, "' has compressed size ", csize,
                     " != size ", usize);
      raw.assign(b + data_start, b + data_start + csize);
    } else {
      MAGMADNN_CHECK(csize < 0xFFFFFFFFull && usize < 0xFFFFFFFFull, "load_npz: ", path, ": compressed entry '", name,
                     "' of 4 GiB or more is not supported");
      raw = inflate_raw(b + data_start, csize, usize, path, name);
    }
    const uint32_t actual = crc32_of(raw);
    MAGMADNN_CHECK(actual == crc, "load_npz: ", path, ": entry '", name, "': CRC-32 mismatch (stored ", crc,
                   ", computed ", actual, "): corrupt data");
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    MAGMADNN_CHECK(!out.count(key), "load_npz: ", path, ": duplicate entry '", name, "'");
    out[key] = parse_npy_as(raw.data(), raw.size(), path + ":" + name, "load_npz");
  }
  return out;
}

void save_npz(const std::string& path, const std::map<std::string, NpyArray>& arrays, bool compress) {
  std::vector<uint8_t> zip, central;
  uint64_t count = 0;
  for (const auto& [key, array] : arrays) {
    MAGMADNN_CHECK(!key.empty() && key.size() < 60000, "save_npz: ", path, ": bad array name '", key, "'");
    const std::string name = key + ".npy";
    std::vector<uint8_t> raw;
    try {
      raw = serialize_npy(array);
    } catch (const Error& e) {
      MAGMADNN_ERROR("save_npz: ", path, ": array '", key, "': ", e.what());
    }
    MAGMADNN_CHECK(raw.size() < 0xFFFFFFFFull, "save_npz: ", path, ": array '", key,
                   "' is 4 GiB or more; this writer does not write zip64 archives");
    const uint32_t crc = crc32_of(raw);
    std::vector<uint8_t> packed;
    if (compress) {
      packed.resize(compressBound(raw.size()) + 64);
      z_stream zs{};
      MAGMADNN_CHECK(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
                     "save_npz: ", path, ": cannot initialise zlib");
      zs.next_in = raw.data();
      zs.avail_in = static_cast<uInt>(raw.size());
      zs.next_out = packed.data();
      zs.avail_out = static_cast<uInt>(packed.size());
      const int rc = deflate(&zs, Z_FINISH);
      packed.resize(packed.size() - zs.avail_out);
      deflateEnd(&zs);
      MAGMADNN_CHECK(rc == Z_STREAM_END, "save_npz: ", path, ": deflate failed (zlib ", rc, ")");
    }
    const std::vector<uint8_t>& body = compress ? packed : raw;
    const uint64_t offset = zip.size();
    MAGMADNN_CHECK(raw.size() < 0xFFFFFFFFull && offset < 0xFFFFFFFFull, "save_npz: ", path,
                   ": archives over 4 GiB are not supported by this writer");
    const uint16_t method = compress ? 8 : 0;
    // Local header: version 20, no flags, fixed DOS date 1980-01-01 so output is reproducible.
    put_le(zip, kLocalSig, 4);
    put_le(zip, 20, 2);
    put_le(zip, 0, 2);
    put_le(zip, method, 2);
    put_le(zip, 0, 2);
    put_le(zip, 0x21, 2);
    put_le(zip, crc, 4);
    put_le(zip, body.size(), 4);
    put_le(zip, raw.size(), 4);
    put_le(zip, name.size(), 2);
    put_le(zip, 0, 2);
    zip.insert(zip.end(), name.begin(), name.end());
    zip.insert(zip.end(), body.begin(), body.end());

    put_le(central, kCentralSig, 4);
    put_le(central, 20, 2);  // made by
    put_le(central, 20, 2);  // needed
    put_le(central, 0, 2);
    put_le(central, method, 2);
    put_le(central, 0, 2);
    put_le(central, 0x21, 2);
    put_le(central, crc, 4);
    put_le(central, body.size(), 4);
    put_le(central, raw.size(), 4);
    put_le(central, name.size(), 2);
    put_le(central, 0, 2);  // extra
    put_le(central, 0, 2);  // comment
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);  // internal attributes
    put_le(central, 0, 4);  // external attributes
    put_le(central, offset, 4);
    central.insert(central.end(), name.begin(), name.end());
    ++count;
  }
  const uint64_t cd_offset = zip.size();
  MAGMADNN_CHECK(count < 0xFFFF && cd_offset < 0xFFFFFFFFull, "save_npz: ", path,
                 ": too many or too large arrays for a non-zip64 archive");
  zip.insert(zip.end(), central.begin(), central.end());
  put_le(zip, kEndSig, 4);
  put_le(zip, 0, 2);
  put_le(zip, 0, 2);
  put_le(zip, count, 2);
  put_le(zip, count, 2);
  put_le(zip, central.size(), 4);
  put_le(zip, cd_offset, 4);
  put_le(zip, 0, 2);
  detail::write_file_atomic(path, "save_npz", [&](const detail::ByteSink& sink) { sink(zip.data(), zip.size()); });
}

// ---- Tensor conversions

namespace {
template <typename F>
void dispatch_npy(const std::string& code, F&& f) {
  if (code == "b1") return f(uint8_t{});
  if (code == "i1") return f(int8_t{});
  if (code == "u1") return f(uint8_t{});
  if (code == "i2") return f(int16_t{});
  if (code == "u2") return f(uint16_t{});
  if (code == "i4") return f(int32_t{});
  if (code == "u4") return f(uint32_t{});
  if (code == "i8") return f(int64_t{});
  if (code == "u8") return f(uint64_t{});
  if (code == "f4") return f(float{});
  if (code == "f8") return f(double{});
  MAGMADNN_ERROR("to_tensor: unsupported NumPy dtype '", code, "' (supported: ", kSupported, ")");
}
}  // namespace

Tensor to_tensor(const NpyArray& array, DType dtype) {
  const size_t item = array.itemsize();
  MAGMADNN_CHECK(array.bytes.size() == static_cast<size_t>(array.numel()) * item, "to_tensor: ", array.bytes.size(),
                 " bytes do not match shape ", shape_str(array.shape), " of dtype ", array.dtype);
  Tensor t = Tensor::empty(Shape(array.shape), dtype);
  const int64_t n = array.numel();
  dispatch_npy(array.dtype, [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch_all(dtype, "to_tensor", [&](auto dst_tag) {
      using D = decltype(dst_tag);
      D* dst = t.data<D>();
      const uint8_t* src = array.bytes.data();
      for (int64_t i = 0; i < n; ++i) {
        S v;
        std::memcpy(&v, src + i * sizeof(S), sizeof(S));
        dst[i] = static_cast<D>(v);
      }
    });
  });
  return t;
}

Tensor to_tensor(const NpyArray& array) {
  DType t;
  if (array.dtype == "f4") t = kFloat32;
  else if (array.dtype == "f8") t = kFloat64;
  else if (array.dtype == "i8") t = kInt64;
  else if (array.dtype == "i4") t = kInt32;
  else if (array.dtype == "u1" || array.dtype == "b1") t = kUInt8;
  else
    MAGMADNN_ERROR("to_tensor: NumPy dtype '", array.dtype,
                   "' has no matching Tensor dtype; pass one, e.g. to_tensor(array, kFloat32)");
  return to_tensor(array, t);
}

NpyArray from_tensor(const Tensor& tensor) {
  MAGMADNN_CHECK(tensor.defined(), "from_tensor: undefined tensor");
  const Tensor t = tensor.cpu().contiguous();
  NpyArray a;
  switch (t.dtype()) {
    case DType::Float32: a.dtype = "f4"; break;
    case DType::Float64: a.dtype = "f8"; break;
    case DType::Int64: a.dtype = "i8"; break;
    case DType::Int32: a.dtype = "i4"; break;
    case DType::UInt8: a.dtype = "u1"; break;
  }
  a.shape.assign(t.shape().begin(), t.shape().end());
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  a.bytes.assign(p, p + t.nbytes());
  return a;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

}  // namespace magmadnn::io
