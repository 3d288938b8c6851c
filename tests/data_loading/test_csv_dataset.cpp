// CSV-table data sets: features and targets by column name, the task (text labels and few
// integers classify, other numbers regress, or as asked), class order and names, the fixed-seed
// split (same rows every time, file order kept, sizes), load_csv_features for new samples, and one
// clear error for each problem a table can have.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/error_of.h"
#include "data_loading/temp_dir.h"
#include "magmadnn/magmadnn.h"

using namespace magmadnn;
using magmadnn::testing::error_of;
using magmadnn::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {
// Every sample of both splits as (feature vector, target), to compare splits with the file.
struct Row {
  std::vector<float> x;
  double y;
};
std::vector<Row> rows_of(const data::TensorDataset& d) {
  std::vector<Row> rows;
  const Tensor x = d.inputs().contiguous(), y = d.targets().contiguous();
  const int64_t n = x.size(0), f = x.numel() / n;
  const std::vector<float> xv = x.to_vector<float>();
  const std::vector<double> yv = y.to(kFloat64).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) rows.push_back({std::vector<float>(xv.begin() + i * f, xv.begin() + (i + 1) * f), yv[i]});
  return rows;
}
}  // namespace

TEST(CsvDataset, TextLabelsClassifyInTextOrderWithTheirNames) {
  TempDir dir;
  std::string text = "id,height,weight,species\n";
  const char* species[] = {"wolf", "cat", "dog"};
  for (int i = 0; i < 30; ++i)
    text += std::to_string(100 + i) + "," + std::to_string(i) + "," + std::to_string(2 * i + 0.5) + "," +
            species[i % 3] + "\n";
  const std::string path = dir.write("a.csv", text);
  data::CsvDatasetOptions o;
  o.ignore = {"id"};
  const data::UserDataset d = data::load_csv_dataset(path, o);
  EXPECT_EQ(d.task, data::Task::Classification);
  EXPECT_EQ(d.num_outputs, 3);
  EXPECT_THAT(d.class_names, ElementsAre("cat", "dog", "wolf"));
  EXPECT_THAT(d.feature_names, ElementsAre("height", "weight"));
  EXPECT_THAT(d.target_names, ElementsAre("species"));
  EXPECT_EQ(d.sample_shape, Shape({2, 1, 1}));
  // 20% of 30 rows: 6 test, 24 train; every row once, in file order, labels by name.
  EXPECT_EQ(d.test->size(), 6);
  EXPECT_EQ(d.train->size(), 24);
  EXPECT_EQ(d.train->inputs().shape(), Shape({24, 2, 1, 1}));
  EXPECT_EQ(d.train->targets().dtype(), kInt64);
  std::set<int> seen;
  for (const auto* split : {d.train.get(), d.test.get()}) {
    float last = -1;
    for (const Row& r : rows_of(*split)) {
      const int i = static_cast<int>(r.x[0]);
      EXPECT_GT(r.x[0], last) << "file order kept within a split";
      last = r.x[0];
      EXPECT_FLOAT_EQ(r.x[1], 2 * i + 0.5f);
      const int label = static_cast<int>(r.y);
      EXPECT_EQ(d.class_names[label], species[i % 3]) << "row " << i;
      EXPECT_TRUE(seen.insert(i).second);
    }
  }
  EXPECT_EQ(seen.size(), 30u);
  // The split is the same on every load, and another seed or fraction changes it.
  const data::UserDataset again = data::load_csv_dataset(path, o);
  EXPECT_TRUE(allclose(again.test->inputs(), d.test->inputs(), 0, 0));
  o.split_seed = 1;
  EXPECT_FALSE(allclose(data::load_csv_dataset(path, o).test->inputs(), d.test->inputs(), 0, 0));
  o.split_seed = 0;
  o.test_fraction = 0.5;
  EXPECT_EQ(data::load_csv_dataset(path, o).test->size(), 15);
}

TEST(CsvDataset, NumbersRegressUnlessFewIntegers) {
  TempDir dir;
  std::string few = "x,grade\n", many = "x,count\n", real = "x,y\n";
  for (int i = 0; i < 40; ++i) {
    few += std::to_string(i) + "," + std::to_string(i % 5 * 2 + 1) + "\n";  // 1, 3, 5, 7, 9
    many += std::to_string(i) + "," + std::to_string(i * 3) + "\n";          // 40 distinct integers
    real += std::to_string(i) + "," + std::to_string(i * 0.25) + "\n";
  }
  const data::UserDataset f = data::load_csv_dataset(dir.write("f.csv", few));
  EXPECT_EQ(f.task, data::Task::Classification);
  EXPECT_THAT(f.class_names, ElementsAre("1", "3", "5", "7", "9"));  // numeric order, as written
  for (const Row& r : rows_of(*f.train)) EXPECT_EQ(static_cast<int>(r.y), static_cast<int>(r.x[0]) % 5);
  const data::UserDataset m = data::load_csv_dataset(dir.write("m.csv", many));
  EXPECT_EQ(m.task, data::Task::Regression);
  EXPECT_EQ(m.num_outputs, 1);
  EXPECT_TRUE(m.class_names.empty());
  for (const Row& r : rows_of(*m.test)) EXPECT_FLOAT_EQ(static_cast<float>(r.y), 3 * r.x[0]);
  EXPECT_EQ(data::load_csv_dataset(dir.write("r.csv", real)).task, data::Task::Regression);
  // Asked for: few integers as a regression, many as classes (in numeric order: "3" before "12").
  data::CsvDatasetOptions o;
  o.task = data::Task::Regression;
  EXPECT_EQ(data::load_csv_dataset(dir.file("f.csv"), o).task, data::Task::Regression);
  o.task = data::Task::Classification;
  const data::UserDataset mc = data::load_csv_dataset(dir.file("m.csv"), o);
  EXPECT_EQ(mc.num_outputs, 40);
  EXPECT_EQ(mc.class_names[1], "3");
  EXPECT_EQ(mc.class_names[4], "12");
}

TEST(CsvDataset, SeveralTargetsMakeARegression) {
  TempDir dir;
  std::string text = "u,a,v,b\n";
  for (int i = 0; i < 10; ++i)
    text += std::to_string(i) + "," + std::to_string(i + 0.5) + "," + std::to_string(-i) + "," + std::to_string(i * i) + "\n";
  data::CsvDatasetOptions o;
  o.targets = {"b", "u"};
  const data::UserDataset d = data::load_csv_dataset(dir.write("s.csv", text), o);
  EXPECT_EQ(d.task, data::Task::Regression);
  EXPECT_EQ(d.num_outputs, 2);
  EXPECT_THAT(d.feature_names, ElementsAre("a", "v"));
  EXPECT_THAT(d.target_names, ElementsAre("b", "u"));
  const Tensor x = d.train->inputs(), y = d.train->targets();
  ASSERT_EQ(y.shape(), Shape({8, 2}));
  for (int64_t r = 0; r < 8; ++r) {
    const float i = x.contiguous().to_vector<float>()[r * 2] - 0.5f;
    EXPECT_FLOAT_EQ(y.contiguous().to_vector<float>()[r * 2], i * i);
    EXPECT_FLOAT_EQ(y.contiguous().to_vector<float>()[r * 2 + 1], i);
  }
}

TEST(CsvDataset, NewSamplesByFeatureName) {
  TempDir dir;
  const std::string path = dir.write("new.csv", "extra,b,a\nq,2,1\nr,4,3\n");
  const Tensor x = data::load_csv_features(path, {"a", "b"});
  EXPECT_EQ(x.shape(), Shape({2, 2}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THAT(error_of([&] { data::load_csv_features(path, {"a", "c", "d"}); }),
              HasSubstr("load_csv_features: " + path + ": no column 'c', 'd' (the model's features are 'a', 'c', 'd'"));
  EXPECT_THAT(error_of([&] { data::load_csv_features(dir.write("bad.csv", "a,b\n1,x\n"), {"a", "b"}); }),
              HasSubstr("bad.csv: line 2, column 'b': 'x' is not a finite number (a feature)"));
}

TEST(CsvDataset, EveryProblemIsOneClearError) {
  TempDir dir;
  const auto error_for = [&](const std::string& text, const data::CsvDatasetOptions& o = {}) {
    const std::string path = dir.write("e.csv", text);
    return error_of([&] { data::load_csv_dataset(path, o); });
  };
  const std::string good = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,10,x\n";
  data::CsvDatasetOptions o;
  o.targets = {"lbl"};
  EXPECT_THAT(error_for(good, o), HasSubstr("e.csv: no column 'lbl' for the target (the header names 'a', 'b', 'label')"));
  o = {};
  o.ignore = {"zz"};
  EXPECT_THAT(error_for(good, o), HasSubstr("no column 'zz' to ignore"));
  o.ignore = {"label"};
  EXPECT_THAT(error_for(good, o), HasSubstr("column 'label' is both the target and ignored"));
  o.ignore = {"a", "b"};
  EXPECT_THAT(error_for(good, o), HasSubstr("no feature columns are left (targets 'label', ignored 'a', 'b')"));
  EXPECT_THAT(error_for("a,b,label\n1,,x\n3,4,y\n"),
              HasSubstr("e.csv: line 2, column 'b': empty (missing values are not filled in) (a feature)"));
  EXPECT_THAT(error_for("a,b,label\n1,2,x\n3,4,\n"),
              HasSubstr("line 3, column 'label': empty (missing values are not filled in) (the target)"));
  EXPECT_THAT(error_for("a,b,label\n1,2,x\n3,red,y\n"), HasSubstr("line 3, column 'b': 'red' is not a finite number"));
  EXPECT_THAT(error_for("a,b,label\n1,2,x\n3,nan,y\n"), HasSubstr("'nan' is not a finite number"));
  EXPECT_THAT(error_for("a,b,label\n1,2,x\n3,4,x\n"), HasSubstr("every row of column 'label' holds 'x'"));
  o = {};
  o.task = data::Task::Regression;
  EXPECT_THAT(error_for(good, o), HasSubstr("line 2, column 'label': 'x' is not a finite number (a regression target)"));
  o = {};
  o.targets = {"a", "label"};
  o.task = data::Task::Classification;
  EXPECT_THAT(error_for(good, o), HasSubstr("a classification takes one target column, got 'a', 'label'"));
  o = {};
  o.test_fraction = 0.01;
  EXPECT_THAT(error_for(good, o), HasSubstr("5 rows leave an empty test split with test fraction 0.01"));
  o.test_fraction = 1.5;
  EXPECT_THAT(error_for(good, o), HasSubstr("the test fraction must be in (0, 1), got 1.5"));
  EXPECT_THAT(error_for("a,label\n1,x\n"), HasSubstr("1 data rows; a training and a test split need two or more"));
  EXPECT_THAT(error_for("a,label\n1,x\n2\n"), HasSubstr("load_csv_dataset: " + dir.file("e.csv") + ": line 3: 1 fields"));
}
