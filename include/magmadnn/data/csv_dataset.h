// Data sets users bring as CSV tables (io/csv.h): a header row of column names, one sample per
// row. The target columns (--target; by default the last column) hold the labels or values to
// learn; every other column not ignored is a numeric feature, and the inputs are (N, F, 1, 1) float32 in the
// columns' order (an MLP takes them as they are). The task:
//  - classification: one target column; its distinct values are the classes, in numeric order
//    when all are numbers, else in text order, and name them ("setosa", "versicolor", ... or
//    "3", "5", "7");
//  - regression: one or more numeric target columns, float32 (N, K).
// Left to the loader, text labels, or integer values with at most 20 distinct ones, classify and
// anything else regresses. The test split is a fixed-seed random share of the rows (rows keep
// their file order within each split), so every command that reads the table sees the same one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "magmadnn/data/user_dataset.h"

namespace magmadnn::data {

struct CsvDatasetOptions {
  std::vector<std::string> targets;  // empty: the last column
  std::vector<std::string> ignore;   // columns that are neither features nor targets (an id, a date)
  std::optional<Task> task;          // unset: from the targets' values, as above
  double test_fraction = 0.2;        // of the rows, in (0, 1)
  uint64_t split_seed = 0;
};

// Reads and checks the table. Every problem (a missing target column, a feature that is not a
// number or is empty, a single class, a split left empty, the CSV errors of io::read_csv) throws
// one line "load_csv_dataset: <path>: <what>" naming the line and the column.
UserDataset load_csv_dataset(const std::string& path, const CsvDatasetOptions& options = {});

// The named feature columns of a table, in that order, as (N, F) float32 (other columns are
// ignored): new samples for a model trained on load_csv_dataset's features.
Tensor load_csv_features(const std::string& path, const std::vector<std::string>& features);

}  // namespace magmadnn::data
