// Private file helpers for the data and io layers: reading a whole file with one-line errors,
// and atomic writes (temporary file in the target's directory, fsync, rename) so a failed or
// interrupted save never destroys the previous file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace magmadnn::io::detail {

// The whole file as bytes; throws "<op>: <path>: <reason>" when it is missing or unreadable.
std::vector<uint8_t> read_file(const std::string& path, const char* op);

// True when `bytes` start with the gzip magic 1f 8b (detected from content, not the file name).
bool is_gzip(const std::vector<uint8_t>& bytes);
// Inflates every gzip member of `in` (files made by concatenation have several); corrupt or
// truncated data throws "<op>: <path>: corrupt gzip data: <reason>".
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path, const char* op);

// Receives the bytes of a file being written; each call appends.
using ByteSink = std::function<void(const void* data, size_t size)>;

// Writes `path` atomically: `produce` streams the content into a temporary file next to `path`,
// which is flushed, fsync'ed and renamed over `path`. On any failure (including an exception from
// `produce`) the temporary file is removed, `path` is left untouched and an Error
// "<op>: <path>: <reason>" is thrown.
void write_file_atomic(const std::string& path, const char* op,
                       const std::function<void(const ByteSink&)>& produce);

}  // namespace magmadnn::io::detail
