// --decompose: rewrites every composite op (trait Composite in Ops.def) into
// primitive ops, so later stages only handle primitives.
//
// 1. Walk ops in order (rewriteOps); for a composite op, build its primitive
//    form right before it with an OpBuilder that carries the op's location.
// 2. Replace the op's results with the new values and erase the op.
// Rules for activations and reductions live here, the others in
// DecomposeNN.cpp. The interpreter implements composites directly, so tests
// check interpret(op) == interpret(decompose(op)) for every composite.
#include "passes/Decompose.h"
#include "passes/Pass.h"
#include "passes/Rewrite.h"

#include <cmath>

using namespace dlc;

DecomposeResult dlc::decomposeActivation(Operation &Op, OpBuilder &B) {
  Value *X = Op.operand(0);
  DType E = X->Type.elem();
  auto C = [&](double V) { return B.scalar(E, V); };
  switch (Op.kind()) {
  case OpKind::Gelu: {
    Value *Inner;
    if (Op.getString("approximate") == "tanh") {
      // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
      Value *X3 = B.create(OpKind::Mul, {B.create(OpKind::Mul, {X, X}), X});
      Value *Poly = B.create(OpKind::Add, {X, B.create(OpKind::Mul, {X3, C(0.044715)})});
      Inner = B.create(OpKind::Tanh,
                       {B.create(OpKind::Mul, {Poly, C(std::sqrt(2.0 / M_PI))})});
    } else if (Op.getString("approximate") == "none") {
      Inner = B.create(OpKind::Erf, {B.create(OpKind::Mul, {X, C(M_SQRT1_2)})});
    } else {
      return makeError(Op.L, "'gelu': approximate must be \"none\" or "
                             "\"tanh\", got \"" +
                                 Op.getString("approximate") + "\"");
    }
    Value *Half = B.create(OpKind::Mul, {X, C(0.5)});
    return llvm::SmallVector<Value *, 1>{
        B.create(OpKind::Mul, {Half, B.create(OpKind::Add, {Inner, C(1.0)})})};
  }
  case OpKind::Softplus: {
    // relu(x) + log(1 + exp(-|x|)): no overflow for large |x|.
    Value *E1 = B.create(OpKind::Exp, {B.create(OpKind::Neg, {B.create(OpKind::Abs, {X})})});
    Value *L = B.create(OpKind::Log, {B.create(OpKind::Add, {E1, C(1.0)})});
    return llvm::SmallVector<Value *, 1>{
        B.create(OpKind::Add, {B.create(OpKind::Relu, {X}), L})};
  }
  case OpKind::ReduceLogSumExp: {
    auto Axes = Op.getInts("axes");
    Value *M = B.create(OpKind::ReduceMax, {X}, {intsAttr("axes", Axes)});
    // Rows of -inf would give -inf - -inf = nan: shift by 0 there instead.
    Value *Finite = B.create(
        OpKind::Where,
        {B.create(OpKind::Equal, {B.create(OpKind::Abs, {M}), C(INFINITY)}),
         C(0.0), M});
    Value *S = B.create(OpKind::ReduceSum,
                        {B.create(OpKind::Exp, {B.create(OpKind::Sub, {X, Finite})})},
                        {intsAttr("axes", Axes)});
    Value *R = B.create(OpKind::Add, {B.create(OpKind::Log, {S}), Finite});
    if (!Op.getBool("keepdims")) {
      llvm::SmallVector<int64_t, 4> All;
      for (unsigned I = 0; I < X->Type.rank(); ++I)
        All.push_back(I);
      R = B.create(OpKind::Squeeze, {R},
                   {intsAttr("axes", Axes.empty() ? llvm::ArrayRef<int64_t>(All) : Axes)});
    }
    return llvm::SmallVector<Value *, 1>{R};
  }
  default:
    llvm_unreachable("not an activation composite");
  }
}

namespace {
class Decompose : public Pass {
public:
  llvm::StringRef name() const override { return "decompose"; }
  llvm::StringRef description() const override {
    return "Rewrite composite ops into primitive ops";
  }
  llvm::Error run(Function &F) override {
    return rewriteOps(F, [](Operation &Op, OpBuilder &B) -> RewriteResult {
      if (!Op.info().has(Composite))
        return llvm::SmallVector<Value *, 1>();
      if (Op.info().has(Loss))
        return decomposeLoss(Op, B);
      if (Op.kind() == OpKind::Gelu || Op.kind() == OpKind::Softplus ||
          Op.kind() == OpKind::ReduceLogSumExp)
        return decomposeActivation(Op, B);
      return decomposeNN(Op, B);
    });
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createDecomposePass() {
  return std::make_unique<Decompose>();
}
