// CSV tables: RFC 4180 quoting (commas, quotes and line breaks inside quotes), LF/CRLF, a BOM,
// blank lines, trimming; one clear error naming the line for each malformed file; numbers parsed
// strictly; csv_field quotes what needs it and read_csv reads it back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/io/csv.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {
std::string write(const TempDir& dir, const std::string& text) { return dir.write("t.csv", text); }
}  // namespace

TEST(Csv, ReadsQuotedFieldsLineEndsAndBlankLines) {
  TempDir dir;
  const io::CsvTable t = io::read_csv(write(
      dir, "\xEF\xBB\xBFname, x ,\"note\"\r\n"
           "\"Smith, J.\",1.5,\"said \"\"hi\"\"\"\r\n"
           "\n"
           "  plain  ,-2e3,\"two\nlines\"\n"
           "last,7,\"\"\n"
           "  \n"
           "no newline,8,x"));
  EXPECT_THAT(t.columns, ElementsAre("name", "x", "note"));
  ASSERT_EQ(t.rows.size(), 4u);
  EXPECT_THAT(t.rows[0], ElementsAre("Smith, J.", "1.5", "said \"hi\""));
  EXPECT_THAT(t.rows[1], ElementsAre("plain", "-2e3", "two\nlines"));
  EXPECT_THAT(t.rows[2], ElementsAre("last", "7", ""));
  EXPECT_THAT(t.rows[3], ElementsAre("no newline", "8", "x"));
  // Line numbers of each record's start: the header is line 1, blank lines count.
  EXPECT_THAT(t.lines, ElementsAre(2, 4, 6, 8));
  EXPECT_EQ(t.column("x"), 1);
  EXPECT_EQ(t.column("y"), -1);
}

TEST(Csv, MalformedFilesAreOneErrorNamingTheLine) {
  TempDir dir;
  const auto error_for = [&](const std::string& text) {
    const std::string path = write(dir, text);
    return error_of([&] { io::read_csv(path); });
  };
  EXPECT_THAT(error_for(""), HasSubstr("t.csv: the file is empty (expected a header row of column names)"));
  EXPECT_THAT(error_for("\n\n"), HasSubstr("the file is empty"));
  EXPECT_THAT(error_for("a,b\n1,2\n3\n"), HasSubstr("t.csv: line 3: 1 fields, but the header names 2 columns"));
  EXPECT_THAT(error_for("a,b\n1,2,3\n"), HasSubstr("line 2: 3 fields, but the header names 2 columns"));
  EXPECT_THAT(error_for("a,,c\n"), HasSubstr("line 1: column 2 of the header has no name"));
  EXPECT_THAT(error_for("a,b,a\n"), HasSubstr("line 1: column 'a' is named twice in the header"));
  EXPECT_THAT(error_for("a,b\n1,\"open\n2,3\n"), HasSubstr("line 2: a quote that is never closed"));
  EXPECT_THAT(error_for("a,b\n1,ab\"c\"\n"), HasSubstr("line 2: a quote inside an unquoted field"));
  EXPECT_THAT(error_for("a,b\n1,\"x\"y\n"), HasSubstr("line 2: text after the closing quote of a field"));
  EXPECT_THAT(error_of([&] { io::read_csv(dir.file("missing.csv")); }), HasSubstr("read_csv: cannot open"));
}

TEST(Csv, ParsesOnlyFiniteDecimalNumbers) {
  double v = 0;
  for (const auto& [text, want] : std::vector<std::pair<std::string, double>>{
           {"1", 1.0}, {"-2.5", -2.5}, {"+3e2", 300.0}, {"1E-3", 1e-3}, {".5", 0.5}, {"7.", 7.0}}) {
    EXPECT_TRUE(io::parse_number(text, v)) << text;
    EXPECT_DOUBLE_EQ(v, want) << text;
  }
  for (const std::string text : {"", "nan", "NaN", "inf", "-inf", "1e999", "0x10", "3 kg", "1,5", "abc", "-"})
    EXPECT_FALSE(io::parse_number(text, v)) << text;
}

TEST(Csv, FieldsQuotedWhereNeededReadBack) {
  TempDir dir;
  const std::vector<std::string> names = {"plain", "a,b", "say \"x\"", "two\nlines", " padded", ""};
  EXPECT_EQ(io::csv_field("plain"), "plain");
  EXPECT_EQ(io::csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(io::csv_field("say \"x\""), "\"say \"\"x\"\"\"");
  std::string text = "k";
  for (size_t i = 0; i < names.size(); ++i) text += ",c" + std::to_string(i);
  text += "\nrow";
  for (const std::string& n : names) text += "," + io::csv_field(n);
  text += "\n";
  const io::CsvTable t = io::read_csv(write(dir, text));
  ASSERT_EQ(t.rows.size(), 1u);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(t.rows[0][i + 1], names[i]);
}
