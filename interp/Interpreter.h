// The reference interpreter: runs graph IR op by op with plain loops. It is
// the oracle for codegen, fusion and autodiff tests.
#ifndef DLC_INTERP_INTERPRETER_H
#define DLC_INTERP_INTERPRETER_H

#include "ir/IR.h"

namespace dlc {

/// Evaluates one op on concrete operand tensors (shapes need not match the
/// IR's static types, only the op's rules). Used by constant folding too.
llvm::Expected<std::vector<Tensor>>
evaluateOp(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands);

/// Runs F on Inputs (in F.Inputs order). Parameters take their initial value
/// unless Params (in F.Params order) is non-empty. Returns F's outputs.
/// Errors: wrong input count, dtype or rank, a symbolic dim bound to two
/// different sizes, a parameter without a value.
llvm::Expected<std::vector<Tensor>> interpret(const Function &F,
                                              llvm::ArrayRef<Tensor> Inputs,
                                              llvm::ArrayRef<Tensor> Params = {});

/// The largest tensor the interpreter allocates (4 GiB); larger ones are an
/// error, not an out-of-memory abort.
constexpr uint64_t InterpreterTensorLimit = uint64_t(4) << 30;

/// Whether the interpreter implements K (for `dlc --list-ops`).
bool interpreterSupports(OpKind K);

} // namespace dlc

#endif
