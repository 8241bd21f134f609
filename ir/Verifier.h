// The IR verifier: structural and type checks with located errors.
#ifndef DLC_IR_VERIFIER_H
#define DLC_IR_VERIFIER_H

#include "ir/IR.h"

namespace dlc {

/// Operand count, attribute names, kinds and required attributes against
/// the op table.
llvm::Error verifyOpStructure(const Operation &Op);

/// Everything: per-op structure, SSA order (operands defined before use,
/// each value defined once), result types agree with shape inference, output
/// names unique, tensor sizes within limits.
llvm::Error verifyFunction(const Function &F);
llvm::Error verifyModule(const Module &M);

} // namespace dlc

#endif
