// CSV tables (RFC 4180): a header row of column names, then one record per line. Fields are
// separated by commas; a field in double quotes may hold commas, line breaks and quotes written
// twice (""). LF or CRLF line ends, a UTF-8 byte-order mark at the start and blank lines are
// accepted; spaces around unquoted fields are dropped. Every problem (an unreadable or empty
// file, an empty or repeated column name, a record with another number of fields than the
// header, an unterminated quote) throws one line "read_csv: <path>: line L: <what>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace magmadnn::io {

struct CsvTable {
  std::vector<std::string> columns;            // the header
  std::vector<std::vector<std::string>> rows;  // each with columns.size() fields
  std::vector<int64_t> lines;                  // each row's first line in the file (the header is line 1)

  // The index of the column named `name`, or -1.
  int64_t column(const std::string& name) const;
};

CsvTable read_csv(const std::string& path);

// The field as a number: the whole text must be a finite decimal number ("1", "-2.5e-3"; not "",
// "nan", "inf" or "3 kg").
bool parse_number(const std::string& text, double& value);

// `text` as one CSV field: as it is, or in double quotes (quotes inside written twice) when it
// holds a comma, a quote, a line break or leading or trailing spaces.
std::string csv_field(const std::string& text);

}  // namespace magmadnn::io
