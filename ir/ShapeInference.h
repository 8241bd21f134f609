// Shape and element-type inference for every op in the table.
#ifndef DLC_IR_SHAPEINFERENCE_H
#define DLC_IR_SHAPEINFERENCE_H

#include "ir/IR.h"

namespace dlc {

/// Result types of Op from its operands' current types and its attributes.
/// Errors (non-broadcastable shapes, bad axes, wrong element types) carry
/// Op's location.
llvm::Expected<llvm::SmallVector<TensorType, 1>>
inferResultTypes(const Operation &Op);

/// The same rule with explicit operand types (for example the concrete shapes
/// of tensors at run time), used by the interpreter.
llvm::Expected<llvm::SmallVector<TensorType, 1>>
inferResultTypes(const Operation &Op, llvm::ArrayRef<TensorType> OperandTypes);

/// Numpy broadcasting of two shapes; symbolic dims broadcast with 1 and with
/// themselves, a symbol against a number k > 1 gives k.
llvm::Expected<Shape> broadcastShapes(const Shape &A, const Shape &B);

/// Normalizes a possibly negative axis into [0, Rank); error if out of range.
llvm::Expected<unsigned> normalizeAxis(int64_t Axis, unsigned Rank,
                                       const Loc &L);

} // namespace dlc

#endif
