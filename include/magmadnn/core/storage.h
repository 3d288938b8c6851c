// Storage: one block of memory on one device, shared by a tensor and all its views.
#pragma once

#include <cstddef>
#include <memory>

#include "magmadnn/core/allocator.h"
#include "magmadnn/core/device.h"

namespace magmadnn {

class Storage {
 public:
  Storage(size_t nbytes, Allocator& allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return allocator_->device(); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Allocator* allocator_;
};

}  // namespace magmadnn
