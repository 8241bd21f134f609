// --sink-reshapes: moves a reshape that merges trailing dims below the
// elementwise ops that read it, so a chain of elementwise ops stays in the
// shape of the value the reshape read (a convolution's [N, M, P] matmul
// result) and fuses into that value's kernel as its epilogue.
//
// 1. An elementwise op qualifies when at least one operand is
//    reshape(a) : T of a source type S = [N, M, P] that T refines by
//    splitting P (T's leading two dims equal S's), or S = [N, M] that T
//    refines by splitting M into M and ones, and every other operand
//    is either such a reshape of the same S to the same T, another value
//    of type T (a residual: viewed as S), a rank-0 value, or a value that
//    broadcasts over every dim the split makes (1 there: a per-channel
//    gate or scale [N, M, 1, 1] or [M, 1, 1]).
// 2. It is rebuilt on the sources (the gates reshaped to their rank in S's
//    shape, last dim 1) and its result reshaped to T, with the first reshape's
//    attributes. Walking in order sinks a reshape through a whole chain;
//    the reshapes left unused go to --dce.
#include "passes/Decompose.h"
#include "passes/Pass.h"
#include "passes/Rewrite.h"

using namespace dlc;

namespace {

/// The reshape behind V when it splits the last dim of its operand, a
/// batch of matrices [N, M, P] (a convolution's matmul result) into
/// [N, M, spatial...], or a matrix [N, M] (a one-position convolution's)
/// into [N, M, 1...].
const Operation *splittingReshape(const Value *V) {
  const Operation *R = V->Def;
  if (!R || R->kind() != OpKind::Reshape)
    return nullptr;
  const TensorType &S = R->operand(0)->Type, &T = V->Type;
  if (S.rank() < 2 || S.rank() > 3 || T.rank() <= S.rank() || S.elem() != T.elem())
    return nullptr;
  for (unsigned D = 0; D + 1 < S.rank(); ++D)
    if (S.dim(D) != T.dim(D) || S.dim(D).isUnknown())
      return nullptr;
  const Dim &Last = S.dim(S.rank() - 1);
  int64_t Split = 1;
  for (unsigned D = S.rank() - 1; D < T.rank(); ++D) {
    if (!T.dim(D).isStatic())
      return nullptr;
    Split *= T.dim(D).size();
  }
  return Last.isStatic() && Last.size() == Split ? R : nullptr;
}

/// The rank G takes in S's shape when G broadcasts over the dims T splits
/// off (1 there, its dims aligned with T's trailing ones), else 0.
unsigned gateRank(const Value *G, const TensorType &S, const TensorType &T) {
  const TensorType &GT = G->Type;
  unsigned Extra = T.rank() - S.rank();
  if (GT.rank() > T.rank() || GT.rank() <= Extra)
    return 0;
  for (unsigned J = 0; J < GT.rank(); ++J) {
    unsigned D = J + T.rank() - GT.rank();
    bool One = GT.dim(J).isStatic() && GT.dim(J).size() == 1;
    if (D + 1 >= S.rank() ? !One : !(One || GT.dim(J) == T.dim(D)))
      return 0;
  }
  return GT.rank() - Extra;
}

bool sameAttrs(const Operation &A, const Operation &B) {
  if (A.attrs().size() != B.attrs().size())
    return false;
  for (size_t I = 0; I < A.attrs().size(); ++I)
    if (A.attrs()[I].Name != B.attrs()[I].Name ||
        !(A.attrs()[I].Value == B.attrs()[I].Value))
      return false;
  return true;
}

RewriteResult sink(Operation &Op, OpBuilder &B) {
  llvm::SmallVector<Value *, 1> Keep;
  const OpInfo &Info = Op.info();
  // Comparisons (the masks of gradients) gain nothing from fusing into a
  // matmul's epilogue and stay where they are.
  if (!Info.has(Elementwise) || Info.has(Composite) || Op.numResults() != 1 ||
      Op.numOperands() == 0 || !isFloat(Op.result()->Type.elem()))
    return Keep;
  const Operation *First = nullptr;
  for (unsigned I = 0; I < Op.numOperands() && !First; ++I)
    First = splittingReshape(Op.operand(I));
  if (!First)
    return Keep;
  const TensorType &S = First->operand(0)->Type, &T = First->result()->Type;
  if (Op.result()->Type.dims() != T.dims())
    return Keep;
  llvm::SmallVector<Value *, 3> Operands;
  for (unsigned I = 0; I < Op.numOperands(); ++I) {
    Value *V = Op.operand(I);
    const Operation *R = splittingReshape(V);
    if (R && R->operand(0)->Type == S && V->Type == T && sameAttrs(*R, *First)) {
      Operands.push_back(R->operand(0));
    } else if (V->Type.rank() == 0) {
      Operands.push_back(V);
    } else if (V->Type == T) { // any value of T's shape: viewed as S
      std::vector<int64_t> Shape(S.rank() - 1, 0);
      Shape.push_back(S.dim(S.rank() - 1).size());
      Operands.push_back(B.create(OpKind::Reshape, {V}, {intsAttr("shape", Shape)}));
    } else if (unsigned GR = gateRank(V, S, T)) {
      std::vector<int64_t> Shape(GR - 1, 0);
      Shape.push_back(1);
      Operands.push_back(B.create(OpKind::Reshape, {V}, {intsAttr("shape", Shape)}));
    } else {
      return Keep;
    }
  }
  auto New = B.tryCreate(Op.kind(), Operands,
                         std::vector<NamedAttr>(Op.attrs().begin(), Op.attrs().end()));
  if (!New)
    return New.takeError();
  (*New)->result()->Name = Op.result()->Name; // the value keeps its name
  std::vector<NamedAttr> Attrs(First->attrs().begin(), First->attrs().end());
  return llvm::SmallVector<Value *, 1>{
      B.create(OpKind::Reshape, {(*New)->result()}, std::move(Attrs))};
}

class SinkReshapes : public Pass {
public:
  llvm::StringRef name() const override { return "sink-reshapes"; }
  llvm::StringRef description() const override {
    return "Move dim-splitting reshapes below elementwise ops so they fuse";
  }
  llvm::Error run(Function &F) override { return rewriteOps(F, sink); }
};
} // namespace

std::unique_ptr<Pass> dlc::createSinkReshapesPass() {
  return std::make_unique<SinkReshapes>();
}
