// A cost model of graph ops: floating-point operations and parameter
// elements, for `dlc summary` and profiles (GFLOP/s of a kernel).
#ifndef DLC_IR_OPCOST_H
#define DLC_IR_OPCOST_H

#include "ir/IR.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

namespace dlc {

/// Sizes of symbolic dims; a symbol without an entry, and '?', are unknown.
using DimSizes = llvm::StringMap<int64_t>;

/// Elements of T with its symbols sized by S; nullopt when a dim is unknown.
/// Counted in double: a summary never overflows.
std::optional<double> elementCount(const TensorType &T, const DimSizes &S);

/// Arithmetic operations Op performs (a multiply-add counts 2), with its
/// dims sized by S; nullopt when a size it needs is unknown. Ops that only
/// move data cost 0; elementwise ops 1 per result element; reductions 1 per
/// operand element; matmul, gemm and convolutions 2 per multiply-add.
std::optional<double> opFlops(const Operation &Op, const DimSizes &S);

/// Run-time shapes of values (a run plan's).
using ValueShapes =
    llvm::DenseMap<const Value *, llvm::SmallVector<int64_t, 4>>;

/// The same with every value sized by its run-time shape in Shapes (a
/// value missing there must have static dims).
std::optional<double> opFlops(const Operation &Op, const ValueShapes &Shapes);

} // namespace dlc

#endif
