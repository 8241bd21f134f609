// Internal to the kernel lowerings: helpers every lowering shares.
#ifndef DLC_KERNEL_LOWERINGUTIL_H
#define DLC_KERNEL_LOWERINGUTIL_H

#include "kernel/KernelIR.h"

namespace dlc {
namespace kir {

/// The buffer type of a kernel argument for a value of type T: static dims
/// stay (the emitter folds them), everything else is read at run time.
inline TensorType dynamicLike(const TensorType &T) {
  Shape S;
  for (const Dim &D : T.dims())
    S.push_back(D.isStatic() ? D : Dim::unknown());
  return TensorType(T.elem(), S);
}

/// A new kernel named Name.
inline std::unique_ptr<Kernel> newKernel(llvm::StringRef Name) {
  auto K = std::make_unique<Kernel>();
  K->Name = Name.str();
  return K;
}

/// Verifies a finished kernel and hands it out.
inline llvm::Expected<std::unique_ptr<Kernel>>
finishKernel(std::unique_ptr<Kernel> K) {
  if (auto E = verifyKernel(*K))
    return std::move(E);
  return std::move(K);
}

} // namespace kir
} // namespace dlc

#endif
