// The umbrella header: #include <magmadnn/magmadnn.h> brings in the whole public API.
#pragma once

#include "magmadnn/autograd/autograd.h"
#include "magmadnn/autograd/gradcheck.h"
#include "magmadnn/backend/backend.h"
#include "magmadnn/core/allocator.h"
#include "magmadnn/core/device.h"
#include "magmadnn/core/dtype.h"
#include "magmadnn/core/error.h"
#include "magmadnn/core/rng.h"
#include "magmadnn/core/shape.h"
#include "magmadnn/core/tensor.h"
#include "magmadnn/ops/ops.h"
