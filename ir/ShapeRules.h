// Internal to ShapeInference*.cpp: the per-family shape rules.
#ifndef DLC_IR_SHAPERULES_H
#define DLC_IR_SHAPERULES_H

#include "ir/ShapeInference.h"

namespace dlc {
namespace shape {

using Result = llvm::Expected<llvm::SmallVector<TensorType, 1>>;
/// Wide enough for products of two 2^40-bounded sizes.
using Wide = __int128;

/// What a rule sees: the op (for attributes and its location) and the
/// operand types.
struct Ctx {
  const Operation &Op;
  llvm::ArrayRef<TensorType> In;
  /// Known operand values (null or absent where unknown), for the operands
  /// whose values are a shape (by_value).
  llvm::ArrayRef<const Tensor *> Vals = {};

  /// Operand I's values: given in Vals, or the operand's constant; null
  /// when only known at run time.
  const Tensor *value(unsigned I) const;

  llvm::Error err(const llvm::Twine &Msg) const {
    return makeError(Op.L, "'" + Op.mnemonic() + "': " + Msg);
  }
  Result one(TensorType T) const {
    llvm::SmallVector<TensorType, 1> R;
    R.push_back(std::move(T));
    return R;
  }
};

/// Checks that operand I is a shape given by value (an integer vector of
/// static length) and returns its length.
llvm::Expected<unsigned> shapeOperandLength(const Ctx &C, unsigned I);
/// The entries of a by_value shape operand, or none when only known at run
/// time.
std::optional<llvm::SmallVector<int64_t, 4>> shapeOperandValues(const Ctx &C,
                                                                unsigned I);

/// The product of dims: static when all are, a symbol when it is exactly one
/// symbol times 1, else unknown.
Dim productDim(llvm::ArrayRef<Dim> Dims);
/// Dim of (In + PadTotal - Eff) / Stride + 1 (floor or ceil), or unknown.
Dim windowDim(const Dim &In, int64_t PadTotal, Wide Eff, int64_t Stride,
              bool Ceil, int64_t PadBegin);

Result inferConv(const Ctx &C);
Result inferStringNormalizer(const Ctx &C);
Result inferStringConcat(const Ctx &C);
Result inferStringSplit(const Ctx &C);
Result inferNonZero(const Ctx &C);
Result inferUnique(const Ctx &C);
Result inferNonMaxSuppression(const Ctx &C);
Result inferRegexFullMatch(const Ctx &C);
Result inferLabelEncoder(const Ctx &C);
Result inferConvTranspose(const Ctx &C);
Result inferPool(const Ctx &C);
Result inferMaxPoolGrad(const Ctx &C);
Result inferIm2Col(const Ctx &C);
Result inferGlobalPool(const Ctx &C);
Result inferBatchNorm(const Ctx &C);
Result inferLayerNorm(const Ctx &C);
Result inferReshape(const Ctx &C);
Result inferTranspose(const Ctx &C);
Result inferFlatten(const Ctx &C);
Result inferSqueeze(const Ctx &C);
Result inferUnsqueeze(const Ctx &C);
Result inferConcat(const Ctx &C);
Result inferSplit(const Ctx &C);
Result inferSlice(const Ctx &C);
Result inferPad(const Ctx &C);
Result inferGather(const Ctx &C);
Result inferExpand(const Ctx &C);
Result inferTile(const Ctx &C);
Result inferResizeCoords(const Ctx &C);
/// if, loop and scan (ir/ControlFlow.cpp), with their region signatures.
Result inferControlFlow(const Ctx &C);

} // namespace shape
} // namespace dlc

#endif
