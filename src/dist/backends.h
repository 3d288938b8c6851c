// Private to src/dist: constructors of the backends and helpers they share.
#pragma once

#include <memory>
#include <string>

#include "magmadnn/dist/process_group.h"

namespace magmadnn::dist::detail {

std::shared_ptr<ProcessGroup> make_local_process_group();
#ifdef MAGMADNN_WITH_MPI
std::shared_ptr<ProcessGroup> make_mpi_process_group();
void mpi_finalize();
#endif
#ifdef MAGMADNN_WITH_NCCL
std::shared_ptr<ProcessGroup> make_nccl_process_group();
#endif

// Divides every element by `divisor` in place (ReduceOp::Avg after a sum).
void divide_(Tensor& t, int divisor);
// Checks the tensor is a contiguous CPU tensor, naming the op in the error.
void check_buffer(const Tensor& t, const std::string& op);

}  // namespace magmadnn::dist::detail
