// Reverse-mode automatic differentiation of graph IR (the `autodiff` pass)
// and the gradient rules it is built from.
#ifndef DLC_PASSES_AUTODIFF_H
#define DLC_PASSES_AUTODIFF_H

#include "ir/IR.h"

namespace dlc {

struct AutodiffOptions {
  /// The output to differentiate. A non-scalar output is differentiated as
  /// the sum of its elements.
  unsigned Output = 0;
  /// Differentiate with respect to the float parameters...
  bool WrtParams = false;
  /// ...and/or the float inputs. Both false: parameters when the function
  /// has any, else inputs.
  bool WrtInputs = false;
};

/// Appends one output `grad.<name>` per differentiated value (parameters
/// first, then inputs, each in declaration order), holding d(output)/d(value)
/// with the value's type. Composites are decomposed first. The gradient is
/// ordinary graph IR, optimized by the other passes like any other ops.
/// Ops on the path from a differentiated value to the output that have no
/// gradient rule are all reported at once.
llvm::Error differentiate(Function &F, const AutodiffOptions &Opts = {});

/// Appends to F the ops computing d(Out)/d(W) for each W in Wrt (the sum
/// of Out's elements when it is not a scalar; zeros where Out does not
/// depend on W) and returns them in Wrt's order. F is not decomposed first:
/// composites on the path are reported like other ops without a rule.
llvm::Expected<std::vector<Value *>>
gradients(Function &F, Value *Out, llvm::ArrayRef<Value *> Wrt);

/// The name of the gradient output of value V.
std::string gradientName(const Value &V);

/// Whether a primitive op has a gradient rule. Ops with trait NonDiff pass
/// no gradient (they count as having one); composites have theirs through
/// their decomposition.
bool hasGradientRule(OpKind K);

namespace grad {
/// Builds the gradients of Op's operands from the gradients of its results
/// (null where a result has none). Out gets one entry per operand (null:
/// no gradient flows to it). Need says which operands want a gradient;
/// rules may skip the others. Errors name the op and what is unsupported.
llvm::Error gradientOf(Operation &Op, llvm::ArrayRef<Value *> ResultGrads,
                       llvm::ArrayRef<bool> Need, OpBuilder &B,
                       llvm::SmallVectorImpl<Value *> &Out);

/// Rules by family, called by gradientOf for the kinds they own.
llvm::Error elementwiseGrad(Operation &Op, Value *G, OpBuilder &B,
                            llvm::SmallVectorImpl<Value *> &Out);
llvm::Error reductionGrad(Operation &Op, Value *G, OpBuilder &B,
                          llvm::SmallVectorImpl<Value *> &Out);
llvm::Error nnGrad(Operation &Op, Value *G, llvm::ArrayRef<bool> Need,
                   OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out);
llvm::Error movementGrad(Operation &Op, llvm::ArrayRef<Value *> ResultGrads,
                         OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out);

/// Rules that scatter (GradRulesWindow.cpp), called by nnGrad and
/// movementGrad.
llvm::Error poolGrad(Operation &Op, Value *G, OpBuilder &B,
                     llvm::SmallVectorImpl<Value *> &Out);
llvm::Error im2colGrad(Operation &Op, Value *G, OpBuilder &B,
                       llvm::SmallVectorImpl<Value *> &Out);
llvm::Error convTransposeGrad(Operation &Op, Value *G, llvm::ArrayRef<bool> Need,
                              OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out);
llvm::Error gatherGrad(Operation &Op, Value *G, OpBuilder &B,
                       llvm::SmallVectorImpl<Value *> &Out);
llvm::Error tileGrad(Operation &Op, Value *G, OpBuilder &B,
                     llvm::SmallVectorImpl<Value *> &Out);

/// Shared helpers.
/// Sums G (shaped like a broadcast result) down to type T of an operand.
Value *sumToShape(OpBuilder &B, Value *G, const TensorType &T);
/// Broadcasts V to the shape of Like (values of Like are not read).
Value *broadcastLike(OpBuilder &B, Value *V, Value *Like);
/// A reshape of V to T's shape, with -1 for T's one non-static dim; an
/// error when T has more than one.
llvm::Expected<Value *> reshapeTo(OpBuilder &B, Value *V, const TensorType &T,
                                  const Operation &ForErrors);
/// Elements of X per element of a reduction of X over Axes (run-time when
/// a reduced dim is not static), as a scalar of X's element type.
Value *reductionCount(OpBuilder &B, Value *X, llvm::ArrayRef<int64_t> Axes);
/// The gradient of a conv's bias: G summed over every axis but the
/// channels (axis 1) of its S spatial dims.
Value *channelSum(OpBuilder &B, Value *G, unsigned S);
/// Channels [Begin, End) of V (axis 1).
Value *sliceChannels(OpBuilder &B, Value *V, int64_t Begin, int64_t End);
llvm::Error unsupported(const Operation &Op, const llvm::Twine &Why);
} // namespace grad

} // namespace dlc

#endif
