// Inline f32 exp and tanh for every target: straight-line LLVM IR on
// scalars or vectors (no libm calls, so loops over them vectorize).
#ifndef DLC_CODEGEN_FASTMATH_H
#define DLC_CODEGEN_FASTMATH_H

#include "llvm/IR/IRBuilder.h"

namespace dlc {

/// exp(X) for X of type float or a vector of float, within 2 ulp, with C's
/// results at the edges: +inf above 88.72, 0 below -103.97 (subnormals in
/// between), NaN for NaN.
llvm::Value *emitExpF32(llvm::IRBuilderBase &B, llvm::Value *X);

/// tanh(X) for float or float vectors: an odd series near 0, else
/// 1 - 2 / (exp(2|x|) + 1) with the sign of x; NaN for NaN.
llvm::Value *emitTanhF32(llvm::IRBuilderBase &B, llvm::Value *X);

} // namespace dlc

#endif
