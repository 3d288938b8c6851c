// Storage lifetime: memory comes from and returns to the device's caching allocator.
#include "magmadnn/core/storage.h"

namespace magmadnn {

Storage::Storage(size_t nbytes, Allocator& allocator) : nbytes_(nbytes), allocator_(&allocator) {
  data_ = allocator_->allocate(nbytes);
}

Storage::~Storage() { allocator_->deallocate(data_, nbytes_); }

}  // namespace magmadnn
