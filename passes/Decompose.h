// Internal to the decompose pass: rewrite rules for composite ops.
#ifndef DLC_PASSES_DECOMPOSE_H
#define DLC_PASSES_DECOMPOSE_H

#include "ir/IR.h"
#include "passes/Rewrite.h"

namespace dlc {

/// Builds the primitive form of composite op Op with B (placed before Op)
/// and returns one replacement per result.
using DecomposeResult = RewriteResult;

DecomposeResult decomposeActivation(Operation &Op, OpBuilder &B);
DecomposeResult decomposeNN(Operation &Op, OpBuilder &B);
DecomposeResult decomposeLoss(Operation &Op, OpBuilder &B);

/// Shorthands for building attribute lists.
inline NamedAttr intsAttr(llvm::StringRef N, llvm::ArrayRef<int64_t> V) {
  return {N.str(), Attribute::getInts(V)};
}
inline NamedAttr intAttr(llvm::StringRef N, int64_t V) {
  return {N.str(), Attribute::getInt(V)};
}
inline NamedAttr boolAttr(llvm::StringRef N, bool V) {
  return {N.str(), Attribute::getBool(V)};
}

/// Whether every entry of V is X (true for an empty V).
inline bool allEqual(llvm::ArrayRef<int64_t> V, int64_t X) {
  return llvm::all_of(V, [&](int64_t E) { return E == X; });
}

} // namespace dlc

#endif
