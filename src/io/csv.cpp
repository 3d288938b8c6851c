// CSV tables (see io/csv.h): one pass over the file's bytes, a small state machine for quotes.
#include "magmadnn/io/csv.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "magmadnn/core/error.h"

namespace magmadnn::io {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;
};

// Splits the text into records. A quoted field keeps its text verbatim (quotes removed, "" -> ");
// an unquoted one is trimmed. Records that are a single empty unquoted field (blank lines) are dropped.
std::vector<Record> split_records(const std::string& text, const std::string& path) {
  std::vector<Record> records;
  Record rec;
  std::string field;
  bool quoted = false;       // inside quotes now
  bool was_quoted = false;   // this field had quotes
  bool after_quote = false;  // the closing quote was seen: only spaces, a comma or a line end may follow
  int64_t line = 1, quote_line = 0;
  size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  rec.line = line;
  const auto end_field = [&] {
    rec.fields.push_back(was_quoted ? field : trim(field));
    field.clear();
    was_quoted = after_quote = false;
  };
  const auto end_record = [&] {
    const bool blank = rec.fields.empty() && !was_quoted && trim(field).empty();
    end_field();
    if (!blank) records.push_back(rec);
    rec = Record();
  };
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    MAGMADNN_CHECK(!after_quote || c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r', "read_csv: ", path,
                   ": line ", line, ": text after the closing quote of a field");
    if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      rec.line = line;
    } else if (c == '"') {
      MAGMADNN_CHECK(trim(field).empty() && !was_quoted, "read_csv: ", path, ": line ", line,
                     ": a quote inside an unquoted field (quote the whole field and write quotes in it twice)");
      field.clear();
      quoted = was_quoted = true;
      quote_line = line;
    } else if (!after_quote) {
      field += c;
    }
  }
  MAGMADNN_CHECK(!quoted, "read_csv: ", path, ": line ", quote_line, ": a quote that is never closed");
  if (!field.empty() || was_quoted || !rec.fields.empty()) end_record();
  return records;
}

}  // namespace

int64_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int64_t>(i);
  return -1;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MAGMADNN_CHECK(in.good(), "read_csv: cannot open ", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  MAGMADNN_CHECK(!in.bad(), "read_csv: ", path, ": read error");
  std::vector<Record> records = split_records(buffer.str(), path);
  MAGMADNN_CHECK(!records.empty(), "read_csv: ", path, ": the file is empty (expected a header row of column names)");
  CsvTable t;
  t.columns = records[0].fields;
  std::set<std::string> seen;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    MAGMADNN_CHECK(!t.columns[c].empty(), "read_csv: ", path, ": line ", records[0].line, ": column ", c + 1,
                   " of the header has no name");
    MAGMADNN_CHECK(seen.insert(t.columns[c]).second, "read_csv: ", path, ": line ", records[0].line, ": column '",
                   t.columns[c], "' is named twice in the header");
  }
  for (size_t r = 1; r < records.size(); ++r) {
    MAGMADNN_CHECK(records[r].fields.size() == t.columns.size(), "read_csv: ", path, ": line ", records[r].line,
                   ": ", records[r].fields.size(), " fields, but the header names ", t.columns.size(), " columns");
    t.rows.push_back(std::move(records[r].fields));
    t.lines.push_back(records[r].line);
  }
  return t;
}

bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  const char* begin = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || !std::isfinite(v)) return false;
  // strtod also reads hexadecimal numbers, "nan" and "inf": only decimal text counts here.
  for (const char* p = begin; p < end; ++p)
    if (!(std::isdigit(static_cast<unsigned char>(*p)) || *p == '.' || *p == '-' || *p == '+' || *p == 'e' ||
          *p == 'E'))
      return false;
  value = v;
  return true;
}

std::string csv_field(const std::string& text) {
  const bool plain = text.find_first_of(",\"\r\n") == std::string::npos &&
                     (text.empty() || (text.front() != ' ' && text.back() != ' '));
  if (plain) return text;
  std::string q = "\"";
  for (char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace magmadnn::io
