// Bounds on the host memory a tensor may ask for before it is allocated:
// what N elements of a type take, and the most a dense literal's splat may
// fill. Checked where the size comes from input (IR text, a model file).
#ifndef DLC_IR_TENSORLIMITS_H
#define DLC_IR_TENSORLIMITS_H

#include "ir/Types.h"
#include "runtime/SizeMath.h"

#include <cstdint>
#include <string>

namespace dlc {

/// Host memory N elements of type E take in a dlc::Tensor: their bytes, or
/// for str the std::string objects (their contents come on top). UINT64_MAX
/// when that overflows (mulSize, runtime/SizeMath.h).
inline uint64_t tensorHostBytes(DType E, int64_t N) {
  int64_t Size = E == DType::Str ? sizeof(std::string) : dtypeSize(E), Bytes;
  return mulSize(N, Size, Bytes) ? uint64_t(Bytes) : UINT64_MAX;
}

/// Most host memory (256 MiB) the one-element splat form of a dense literal
/// (`dense<f32[1000]>[0.0]`) may fill: a few bytes of text must not ask for
/// gigabytes. A dense literal that lists its elements is bounded by its
/// text; bigger tensors belong in a weights file (`resource<...>`).
constexpr uint64_t MaxSplatBytes = uint64_t(1) << 28;

} // namespace dlc

#endif
