// safetensors writer and validating reader (see io/safetensors.h). The header is written by
// hand so the bytes are predictable (compact JSON, "__metadata__" first, tensors in name order);
// the reader accepts any valid file and rejects anything the reference implementation rejects.
#include "magmadnn/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "io/file_util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host"
#endif

namespace magmadnn::io {

namespace {
constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

bool parse_dtype(const std::string& s, DType* t) {
  if (s == "F32")
    *t = kFloat32;
  else if (s == "F64")
    *t = kFloat64;
  else if (s == "I64")
    *t = kInt64;
  else if (s == "I32")
    *t = kInt32;
  else if (s == "U8")
    *t = kUInt8;
  else
    return false;
  return true;
}

std::string shape_json(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

struct Prepared {
  std::string header;  // length prefix + JSON + padding
  std::vector<Tensor> data;
};

Prepared prepare(const std::map<std::string, Tensor>& tensors,
                 const std::map<std::string, std::string>& metadata, const std::string& op_and_path) {
  Prepared p;
  std::string json = "{";
  bool first = true;
  if (!metadata.empty()) {
    json += "\"__metadata__\":{";
    bool mfirst = true;
    for (const auto& [k, v] : metadata) {
      json += (mfirst ? "" : ",") + nlohmann::json(k).dump() + ":" + nlohmann::json(v).dump();
      mfirst = false;
    }
    json += "}";
    first = false;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    MAGMADNN_CHECK(name != "__metadata__", op_and_path,
                   ": \"__metadata__\" is reserved and cannot name a tensor");
    MAGMADNN_CHECK(t.defined(), op_and_path, ": tensor '", name, "' is undefined");
    const Tensor c = t.detach().cpu().contiguous();
    const uint64_t end = offset + c.nbytes();
    json += std::string(first ? "" : ",") + nlohmann::json(name).dump() + ":{\"dtype\":\"" +
            safetensors_dtype(c.dtype()) + "\",\"shape\":" + shape_json(c.shape()) + ",\"data_offsets\":[" +
            std::to_string(offset) + "," + std::to_string(end) + "]}";
    first = false;
    offset = end;
    p.data.push_back(c);
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  p.header.resize(8);
  for (int i = 0; i < 8; ++i) p.header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  p.header += json;
  return p;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

std::map<std::string, Tensor> parse(const uint8_t* bytes, uint64_t size, const std::string& where,
                                    std::map<std::string, std::string>* metadata) {
  const std::string& w = where;  // "load_safetensors: <path>"
  MAGMADNN_CHECK(size >= 8, w, ": file too small (", size, " bytes) to hold the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
  MAGMADNN_CHECK(n <= size - 8, w, ": header length ", n, " exceeds the ", size - 8,
                 " bytes after the length field");
  MAGMADNN_CHECK(n <= kMaxHeader, w, ": header length ", n, " exceeds the limit of ", kMaxHeader, " bytes");
  MAGMADNN_CHECK(n >= 2, w, ": header length ", n, " is too small for a JSON object");

  const char* hbegin = reinterpret_cast<const char*>(bytes + 8);
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        hbegin, hbegin + n, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (depth == 1 && event == nlohmann::json::parse_event_t::key && duplicate.empty() &&
              !seen.insert(parsed.get<std::string>()).second)
            duplicate = parsed.get<std::string>();
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    MAGMADNN_ERROR(w, ": invalid JSON header: ", e.what());
  }
  MAGMADNN_CHECK(header.is_object(), w, ": the header is not a JSON object");
  MAGMADNN_CHECK(duplicate.empty(), w, ": the header names '", duplicate, "' twice");

  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  const uint64_t data_size = size - 8 - n;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      MAGMADNN_CHECK(v.is_object(), w, ": __metadata__ is not a JSON object");
      for (const auto& [k, mv] : v.items()) {
        MAGMADNN_CHECK(mv.is_string(), w, ": __metadata__ value of '", k, "' is not a string");
        meta[k] = mv.get<std::string>();
      }
      continue;
    }
    const std::string tw = w + ": tensor '" + name + "'";
    MAGMADNN_CHECK(v.is_object(), tw, ": entry is not a JSON object");
    MAGMADNN_CHECK(v.contains("dtype") && v["dtype"].is_string(), tw, ": missing or non-string \"dtype\"");
    MAGMADNN_CHECK(v.contains("shape") && v["shape"].is_array(), tw, ": missing or non-array \"shape\"");
    MAGMADNN_CHECK(
        v.contains("data_offsets") && v["data_offsets"].is_array() && v["data_offsets"].size() == 2, tw,
        ": \"data_offsets\" must be an array [begin, end]");
    Entry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    MAGMADNN_CHECK(parse_dtype(dt, &e.dtype), tw, ": unsupported dtype '", dt,
                   "' (supported: F32, F64, I64, I32, U8)");
    // Element count with overflow guarded by the data size (anything larger is inconsistent anyway).
    uint64_t numel = 1;
    bool too_big = false;
    for (const auto& d : v["shape"]) {
      MAGMADNN_CHECK(d.is_number_unsigned(), tw, ": shape ", v["shape"].dump(),
                     " holds a non-integer or negative size");
      const uint64_t s = d.get<uint64_t>();
      MAGMADNN_CHECK(s <= uint64_t(std::numeric_limits<int64_t>::max()), tw, ": shape ", v["shape"].dump(),
                     " is too large");
      e.shape.push_back(static_cast<int64_t>(s));
      if (s != 0 && numel > std::numeric_limits<uint64_t>::max() / s)
        too_big = true;
      else
        numel *= s;
    }
    for (const auto& o : v["data_offsets"])
      MAGMADNN_CHECK(o.is_number_unsigned(), tw, ": data_offsets ", v["data_offsets"].dump(),
                     " must be non-negative integers");
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    MAGMADNN_CHECK(e.begin <= e.end, tw, ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
    const uint64_t esize = dtype_size(e.dtype);
    const bool fits = !too_big && numel <= std::numeric_limits<uint64_t>::max() / esize;
    MAGMADNN_CHECK(e.shape.numel() == 0 || (fits && numel * esize == e.end - e.begin), tw, ": shape ",
                   e.shape, " of ", dt, " needs ",
                   (fits ? std::to_string(numel * esize) : std::string("too many")),
                   " bytes but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
    MAGMADNN_CHECK(e.shape.numel() != 0 || e.begin == e.end, tw, ": empty shape ", e.shape,
                   " but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin, " bytes");
    MAGMADNN_CHECK(e.end <= data_size, tw, ": data_offsets [", e.begin, ", ", e.end, "] lie outside the ",
                   data_size, " bytes of data");
    entries.push_back(std::move(e));
  }

  // The data must be covered exactly once, in order of offset, with nothing left over.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    MAGMADNN_CHECK(e->begin >= covered, w, ": tensor '", e->name, "' data_offsets [", e->begin, ", ", e->end,
                   "] overlap tensor '", prev ? prev->name : "", "' [", prev ? prev->begin : 0, ", ", covered,
                   "]");
    MAGMADNN_CHECK(e->begin == covered, w, ": ", e->begin - covered, " unused bytes before tensor '", e->name,
                   "' (data_offsets [", e->begin, ", ", e->end, "] start after offset ", covered, ")");
    covered = e->end;
    prev = e;
  }
  MAGMADNN_CHECK(covered == data_size, w, ": ", data_size - covered,
                 " trailing bytes after the last tensor's data");

  if (metadata) *metadata = std::move(meta);
  std::map<std::string, Tensor> out;
  const uint8_t* data = bytes + 8 + n;
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    out.emplace(e.name, std::move(t));
  }
  return out;
}
}  // namespace

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Int32:
      return "I32";
    case DType::UInt8:
      return "U8";
  }
  MAGMADNN_ERROR("safetensors: unknown dtype");
}

std::string serialize_safetensors(const std::map<std::string, Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  Prepared p = prepare(tensors, metadata, "serialize_safetensors");
  std::string out = std::move(p.header);
  for (const auto& t : p.data) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

std::map<std::string, Tensor> parse_safetensors(const std::string& bytes, const std::string& source,
                                                std::map<std::string, std::string>* metadata) {
  return parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "parse_safetensors: " + source,
               metadata);
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can fail on bad arguments fails before the temporary file exists.
  const Prepared p = prepare(tensors, metadata, "save_safetensors: " + path);
  detail::write_file_atomic(path, "save_safetensors", [&](const detail::ByteSink& sink) {
    sink(p.header.data(), p.header.size());
    for (const auto& t : p.data)
      if (t.nbytes() > 0) sink(t.raw_data(), t.nbytes());
  });
}

std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  const std::vector<uint8_t> bytes = detail::read_file(path, "load_safetensors");
  return parse(bytes.data(), bytes.size(), "load_safetensors: " + path, metadata);
}

}  // namespace magmadnn::io
