// Kernel-by-kernel timing of a compiled function's runs (Model::profile).
#ifndef DLC_API_PROFILE_H
#define DLC_API_PROFILE_H

#include "api/Model.h"
#include "codegen/Executor.h"

namespace dlc {

/// Runs C once to warm up, then Runs times with per-step timing, and
/// returns one row per kernel step with its mean time and arithmetic.
llvm::Expected<RunProfile> profileFunction(const CompiledFunction &C,
                                           llvm::ArrayRef<Tensor> Inputs,
                                           unsigned Runs);

} // namespace dlc

#endif
