// Helpers shared by the GPU unit tests (emulation, warp ops, tf32).
#ifndef DLC_TEST_UNIT_GPUTESTUTIL_H
#define DLC_TEST_UNIT_GPUTESTUTIL_H

#include "kernel/KernelIR.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace dlc {
namespace gpu_test {

/// round_tf32's definition: round to nearest at the 13th bit, ties away
/// from zero; infinities and NaN unchanged.
inline float tf32(float X) {
  uint32_t U;
  std::memcpy(&U, &X, 4);
  if ((U & 0x7f800000u) != 0x7f800000u)
    U = (U + 0x1000u) & 0xffffe000u;
  float R;
  std::memcpy(&R, &U, 4);
  return R;
}

/// How many ops of kind Kd the kernel body Ops holds (any depth).
inline unsigned countOps(const std::vector<std::unique_ptr<kir::KOp>> &Ops,
                         kir::KOpKind Kd) {
  unsigned N = 0;
  for (auto &Op : Ops)
    N += (Op->kind() == Kd) + countOps(Op->Body, Kd);
  return N;
}

} // namespace gpu_test
} // namespace dlc

#endif
