#pragma once
// Validation-only shim: CCCL 3.0 (CUDA 13) removed cub::Max, used in the (disabled here) multi-block reduction.
#include <cub/block/block_reduce.cuh>
#include <cuda/functional>
namespace cub { using Max = ::cuda::maximum<>; }
