// Whole-file reads, gzip inflation and atomic writes shared by the IDX and CIFAR readers and
// safetensors.
#include "io/file_util.h"

#include "magmadnn/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include "magmadnn/core/error.h"

namespace magmadnn::io::detail {

namespace {
std::string errno_text(int err) {
  return std::strerror(err);
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Removes the temporary file unless the write committed.
struct TempFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!committed && !path.empty()) ::unlink(path.c_str());
  }
};
}  // namespace

std::vector<uint8_t> read_file(const std::string& path, const char* op) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) MAGMADNN_ERROR(op, ": ", path, ": cannot open: ", errno_text(errno));
  MAGMADNN_CHECK(!S_ISDIR(st.st_mode), op, ": ", path, ": is a directory, not a file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) MAGMADNN_ERROR(op, ": ", path, ": cannot open: ", errno_text(errno));
  std::vector<uint8_t> bytes;
  bytes.reserve(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      MAGMADNN_ERROR(op, ": ", path, ": read failed: ", errno_text(err));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buf, buf + n);
  }
  ::close(fd);
  return bytes;
}

void write_file_atomic(const std::string& path, const char* op,
                       const std::function<void(const ByteSink&)>& produce) {
  MAGMADNN_CHECK(!path.empty(), op, ": empty file name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    MAGMADNN_CHECK(!S_ISDIR(st.st_mode), op, ": ", path, ": is a directory; cannot write a file there");

  static std::atomic<uint64_t> counter{0};
  const std::string dir = parent_dir(path);
  TempFile tmp;
  tmp.path =
      dir + "/." + base_name(path) + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (tmp.fd < 0) {
    const int err = errno;
    tmp.path.clear();  // nothing was created
    MAGMADNN_ERROR(op, ": ", path, ": cannot create a temporary file in ", dir, ": ", errno_text(err));
  }

  const ByteSink sink = [&](const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(tmp.fd, p, size);
      if (n < 0) {
        if (errno == EINTR) continue;
        MAGMADNN_ERROR(op, ": ", path, ": write failed: ", errno_text(errno));
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  };
  produce(sink);

  if (::fsync(tmp.fd) != 0) MAGMADNN_ERROR(op, ": ", path, ": fsync failed: ", errno_text(errno));
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) MAGMADNN_ERROR(op, ": ", path, ": close failed: ", errno_text(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    MAGMADNN_ERROR(op, ": ", path, ": cannot rename the temporary file over it: ", errno_text(errno));
  tmp.committed = true;
  // Make the rename itself durable; failure here does not lose data already written.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Inflates every gzip member of `in` (files made by concatenation have several).
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path, const char* op) {
  std::vector<uint8_t> out;
  // The trailer holds the uncompressed size mod 2^32: a good first guess for the buffer.
  if (in.size() >= 18) {
    const size_t n = in.size();
    const uint32_t isize = uint32_t(in[n - 4]) | uint32_t(in[n - 3]) << 8 | uint32_t(in[n - 2]) << 16 |
                           uint32_t(in[n - 1]) << 24;
    out.reserve(isize);
  }
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    MAGMADNN_ERROR(op, ": ", path, ": cannot initialise zlib");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  size_t produced = 0;
  for (;;) {
    if (out.size() - produced < (1u << 16))
      out.resize(std::max<size_t>(out.size() * 2, produced + (1u << 20)));
    const size_t chunk = std::min<size_t>(out.size() - produced, std::numeric_limits<uInt>::max());
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member follows unless only padding zeros remain.
      const uint8_t* rest = zs.next_in;
      size_t left = zs.avail_in;
      while (left > 0 && *rest == 0) ++rest, --left;
      if (left == 0) break;
      if (left < 2 || rest[0] != 0x1f || rest[1] != 0x8b) {
        inflateEnd(&zs);
        MAGMADNN_ERROR(op, ": ", path, ": corrupt gzip data: ", left,
                       " unexpected bytes after the compressed stream");
      }
      inflateReset(&zs);
      zs.next_in = const_cast<Bytef*>(rest);
      zs.avail_in = static_cast<uInt>(left);
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      MAGMADNN_ERROR(op, ": ", path, ": corrupt gzip data: the compressed stream is truncated");
    }
    const std::string msg = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
    inflateEnd(&zs);
    MAGMADNN_ERROR(op, ": ", path, ": corrupt gzip data: ", msg);
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

}  // namespace magmadnn::io::detail

namespace magmadnn::io {

void write_file_atomic(const std::string& path, const std::string& contents, const char* op) {
  detail::write_file_atomic(path, op, [&](const detail::ByteSink& sink) { sink(contents.data(), contents.size()); });
}

}  // namespace magmadnn::io
