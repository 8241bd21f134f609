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
/// OperandValues (optional, null where unknown) gives the values of operands
/// that are shapes read by value (`by_value` reshape and expand); without
/// them such results have unknown dims unless the operand is a constant.
llvm::Expected<llvm::SmallVector<TensorType, 1>>
inferResultTypes(const Operation &Op, llvm::ArrayRef<TensorType> OperandTypes,
                 llvm::ArrayRef<const Tensor *> OperandValues = {});
/// Whether operand I of Op is read by value when the run-time plan is built
/// (the shape operand of a by_value reshape or expand, and every operand
/// of an op whose result sizes come from the data: DataShape).
bool isShapeValueOperand(const Operation &Op, unsigned I);

/// Numpy broadcasting of two shapes; symbolic dims broadcast with 1 and with
/// themselves, a symbol against a number k > 1 gives k.
llvm::Expected<Shape> broadcastShapes(const Shape &A, const Shape &B);

/// Normalizes a possibly negative axis into [0, Rank); error if out of range.
llvm::Expected<unsigned> normalizeAxis(int64_t Axis, unsigned Rank,
                                       const Loc &L);

/// The sizes of split's `parts` pieces of a dim of size N: ceil(N / Parts)
/// each while they last, then what is left, then empty pieces.
std::vector<int64_t> splitParts(int64_t N, int64_t Parts);

/// The number of samples of a dim of size N resized by Scale: floor(N *
/// Scale), as ONNX Resize computes it.
int64_t resizedSize(int64_t N, double Scale);

/// The source coordinate of output sample I of resize_coords along a dim of
/// In samples resized to Out (Scale as the op has it: given, or Out / In);
/// tf_crop_and_resize samples the region [RoiStart, RoiEnd] of the dim (as
/// fractions of In - 1).
double resizeSourceCoord(llvm::StringRef Mode, double I, double Scale,
                         int64_t In, int64_t Out, double RoiStart = 0,
                         double RoiEnd = 1);

/// Whether Mode is a coordinate mode of resize_coords.
bool isResizeCoordMode(llvm::StringRef Mode);

} // namespace dlc

#endif
