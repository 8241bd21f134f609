// The driver shared by passes that replace ops with newly built values
// (decompose, conv-to-gemm).
#ifndef DLC_PASSES_REWRITE_H
#define DLC_PASSES_REWRITE_H

#include "ir/IR.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace dlc {

/// Built replacement values, one per result of the rewritten op; an empty
/// list keeps the op.
using RewriteResult = llvm::Expected<llvm::SmallVector<Value *, 1>>;

/// Walks F in order and offers every op (its operands already updated) to
/// Rule, with a builder placed before it. When Rule returns replacements,
/// uses of the op's results move to them and the op is removed. A '?' dim of
/// a newly built replacement takes the replaced result's dim, so symbolic
/// names survive the rewrite. Linear in the size of F.
llvm::Error rewriteOps(Function &F,
                       llvm::function_ref<RewriteResult(Operation &, OpBuilder &)> Rule);

} // namespace dlc

#endif
