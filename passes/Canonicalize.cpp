// --canonicalize: local simplifications that leave a smaller, canonical graph.
//
// 1. Forward ops that do nothing: identity, inference-mode dropout, casts to
//    the same type, reshape/expand/transpose/slice/pad/concat that leave the
//    tensor unchanged, add of zero, sub of zero, mul or div by one.
// 2. Merge chains: transpose of transpose becomes one transpose, reshape of
//    reshape one reshape, neg of neg the operand.
// 3. Put a constant operand of a commutative op on the right.
// Replaced ops stay in place for --dce to remove.
#include "passes/Pass.h"
#include "ir/ShapeInference.h"

#include <cmath>

using namespace dlc;

/// True when V is a constant whose every element equals X, with the same
/// sign for zeros (x + -0.0 is x for every x, x + 0.0 is not for x = -0.0).
static bool isSplat(const Value *V, double X) {
  if (!V->Def || V->Def->kind() != OpKind::Constant)
    return false;
  const Tensor &T = *V->Def->attr("value").getTensor();
  for (int64_t I = 0; I < T.numElements(); ++I)
    if (T.getF(I) != X || std::signbit(T.getF(I)) != std::signbit(X))
      return false;
  return true;
}

/// The additive identity of a type: -0.0 for floats, 0 for integers.
static double addIdentity(const Value *V) {
  return isFloat(V->Type.elem()) ? -0.0 : 0.0;
}

static bool isConstant(const Value *V) {
  return V->Def && V->Def->kind() == OpKind::Constant;
}

/// The value Op can be replaced by, or null.
static Value *forwardedValue(Operation &Op) {
  Value *X = Op.numOperands() ? Op.operand(0) : nullptr;
  const TensorType &RT = Op.result(0)->Type;
  bool SameType = X && X->Type == RT;
  switch (Op.kind()) {
  case OpKind::Identity:
    return X;
  case OpKind::Dropout:
    return !Op.getBool("training") || Op.getFloat("ratio") == 0 ? X : nullptr;
  case OpKind::Cast:
  case OpKind::Reshape:
  case OpKind::Expand:
  case OpKind::Squeeze:
  case OpKind::Flatten:
    return SameType && RT.isStatic() ? X : nullptr;
  case OpKind::Concat:
    return Op.numOperands() == 1 ? X : nullptr;
  case OpKind::Transpose: {
    auto P = Op.getInts("perm");
    for (size_t I = 0; I < P.size(); ++I)
      if (P[I] != int64_t(I))
        return nullptr;
    return P.empty() && X->Type.rank() > 1 ? nullptr : X;
  }
  case OpKind::Pad:
    for (int64_t P : Op.getInts("pads"))
      if (P)
        return nullptr;
    return X;
  case OpKind::Slice:
    // With unit steps an unchanged length means the whole range; a negative
    // step of the same length reverses.
    for (int64_t S : Op.getInts("steps"))
      if (S != 1)
        return nullptr;
    return SameType && RT.isStatic() ? X : nullptr;
  case OpKind::Tile:
    return SameType && RT.isStatic() ? X : nullptr;
  case OpKind::Add:
    if (SameType && isSplat(Op.operand(1), addIdentity(X)))
      return X;
    if (Op.operand(1)->Type == RT && isSplat(X, addIdentity(X)))
      return Op.operand(1);
    return nullptr;
  case OpKind::Sub:
    return SameType && isSplat(Op.operand(1), 0) ? X : nullptr;
  case OpKind::Mul:
    if (SameType && isSplat(Op.operand(1), 1))
      return X;
    if (Op.operand(1)->Type == RT && isSplat(X, 1))
      return Op.operand(1);
    return nullptr;
  case OpKind::Div:
    return SameType && isSplat(Op.operand(1), 1) ? X : nullptr;
  case OpKind::Neg:
    return X->Def && X->Def->kind() == OpKind::Neg ? X->Def->operand(0)
                                                   : nullptr;
  default:
    return nullptr;
  }
}

namespace {
class Canonicalize : public Pass {
public:
  llvm::StringRef name() const override { return "canonicalize"; }
  llvm::StringRef description() const override {
    return "Remove no-op ops, merge chains, order operands";
  }
  llvm::Error run(Function &F) override {
    ValueReplacer R;
    for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
      Operation &Op = **It;
      R.remapOperands(Op);
      if (Value *V = forwardedValue(Op)) {
        R.replace(Op.result(), V);
        continue;
      }
      if (Op.info().has(Commutative) && Op.numOperands() == 2 &&
          isConstant(Op.operand(0)) && !isConstant(Op.operand(1)))
        std::swap(Op.Operands[0], Op.Operands[1]);
      Value *X = Op.numOperands() ? Op.operand(0) : nullptr;
      if (Op.kind() == OpKind::Transpose && X->Def &&
          X->Def->kind() == OpKind::Transpose) {
        auto Rev = [](llvm::ArrayRef<int64_t> P, unsigned Rank) {
          llvm::SmallVector<int64_t, 4> V(P);
          if (V.empty())
            for (unsigned I = 0; I < Rank; ++I)
              V.push_back(Rank - 1 - I);
          return V;
        };
        unsigned Rank = X->Type.rank();
        auto Inner = Rev(X->Def->getInts("perm"), Rank);
        auto Outer = Rev(Op.getInts("perm"), Rank);
        llvm::SmallVector<int64_t, 4> Composed;
        for (int64_t P : Outer)
          Composed.push_back(Inner[P]);
        Op.Operands[0] = X->Def->operand(0);
        Op.setAttr("perm", Attribute::getInts(Composed));
        if (Value *V = forwardedValue(Op))
          R.replace(Op.result(), V);
        continue;
      }
      // (A by_value shape may hold 0 entries, which copy X's dims.)
      if (Op.kind() == OpKind::Reshape && X->Def &&
          X->Def->kind() == OpKind::Reshape && !Op.getBool("by_value") &&
          !llvm::is_contained(Op.getInts("shape"), 0)) {
        // Reshape the original directly, if the rules still give this type.
        Op.Operands[0] = X->Def->operand(0);
        auto Types = inferResultTypes(Op);
        if (!Types || !compatible((*Types)[0], Op.result()->Type)) {
          if (!Types)
            llvm::consumeError(Types.takeError());
          Op.Operands[0] = X;
          continue;
        }
        if (Value *V = forwardedValue(Op))
          R.replace(Op.result(), V);
      }
    }
    R.finish(F);
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createCanonicalizePass() {
  return std::make_unique<Canonicalize>();
}
