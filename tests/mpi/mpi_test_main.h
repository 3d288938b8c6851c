// GoogleTest main for tests run under mpirun: the MPI process group is created before the tests,
// only rank 0 prints, and every rank exits non-zero when any rank had a failure.
#pragma once

#include <gtest/gtest.h>

#include "magmadnn/dist/process_group.h"

namespace mpi_test {

inline std::shared_ptr<magmadnn::dist::ProcessGroup>& group() {
  static std::shared_ptr<magmadnn::dist::ProcessGroup> pg;
  return pg;
}

inline int run_all(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  group() = magmadnn::dist::init_process_group("mpi");
  group()->set_timeout(std::chrono::seconds(60));
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (group()->rank() != 0) delete listeners.Release(listeners.default_result_printer());
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  magmadnn::Tensor f = magmadnn::from_vector<int32_t>({failed});
  group()->all_reduce(f);
  failed = f.to_vector<int32_t>()[0];
  if (failed && group()->rank() == 0) std::printf("%d rank(s) had failures\n", failed);
  group().reset();
  magmadnn::dist::finalize();
  return failed ? 1 : 0;
}

}  // namespace mpi_test

#define MPI_TEST_MAIN \
  int main(int argc, char** argv) { return mpi_test::run_all(argc, argv); }
