// Internal to the GPU mapping passes (--kir-gpu-*): splitting a CPU kernel's
// top level into the pure prefix the host runs and the rest.
#ifndef DLC_KERNEL_GPUMAPPING_H
#define DLC_KERNEL_GPUMAPPING_H

#include "kernel/KernelIR.h"

namespace dlc {
namespace kir {

/// Whether Op only computes an index or constant from buffer sizes: it may
/// run on the host before the launch.
inline bool isPureTopLevel(const KOp &Op) {
  switch (Op.kind()) {
  case KOpKind::ConstIndex: case KOpKind::ConstFloat: case KOpKind::Dim:
  case KOpKind::IndexArith:
    return true;
  default:
    return false;
  }
}

/// Moves K's top-level ops out of K.Body: pure ones (isPureTopLevel, which
/// only read other pure ones) to the returned list's front part in order,
/// the others to Rest. K.Body is left empty.
inline std::vector<std::unique_ptr<KOp>>
takeTopLevel(Kernel &K, std::vector<std::unique_ptr<KOp>> &Rest) {
  std::vector<std::unique_ptr<KOp>> Pure;
  for (auto &Op : K.Body)
    (isPureTopLevel(*Op) ? Pure : Rest).push_back(std::move(Op));
  K.Body.clear();
  return Pure;
}

/// ceil(A / B) for index values (A >= 0, B > 0).
inline KValue *ceilDiv(KBuilder &B, KValue *A, KValue *D) {
  KValue *One = B.constIndex(1);
  return B.index(IndexOp::Div, B.index(IndexOp::Add, A, B.index(IndexOp::Sub, D, One)), D);
}

} // namespace kir
} // namespace dlc

#endif
