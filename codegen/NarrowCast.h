// LLVM IR for casts from and to the narrow (storage-only) element types.
#ifndef DLC_CODEGEN_NARROWCAST_H
#define DLC_CODEGEN_NARROWCAST_H

#include "codegen/ScalarOps.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace dlc {

/// A cast between two wide types, in their compute types.
using WideCastFn =
    llvm::function_ref<llvm::Value *(DType From, DType To, llvm::Value *X)>;

/// Emits In (a cast where the operand or result type is narrow). Narrow
/// values compute as i8: a float's code or an integer's extended value.
/// Decoding a float code loads from a 256-entry table of its values;
/// encoding rounds the source's bits to nearest even with integer ops.
llvm::Value *emitNarrowCast(llvm::IRBuilder<> &B, llvm::Module &M,
                            const ScalarOpInput &In, WideCastFn WideCast);

} // namespace dlc

#endif
