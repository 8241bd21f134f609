// --fuse: groups ops that the CPU backend runs as one kernel and marks each
// group's ops with the same `fusion = K` attribute.
//
// 1. Unary elementwise ops move above the layout ops (reshape, flatten,
//    squeeze, unsqueeze, transpose) that feed only them, so that an
//    activation after a convolution's im2col/GEMM layout round trip meets
//    the GEMM and its bias: relu(reshape(transpose(reshape(y)))) becomes
//    reshape(transpose(reshape(relu(y)))). Both orders compute the same
//    elements.
// 2. Ops are visited in order. A fusible op (elementwise, reduction, 2-D
//    matmul, convolution) tries to join the open group of one of its
//    operands' producers; ir/FusionPlan decides whether the grown group is
//    still one kernel (same iteration space, epilogue rules). Otherwise it
//    opens a group of its own.
// 3. A group is sealed as soon as an op outside it reads one of its values.
//    A group runs where its last op stands, so everything it reads has been
//    computed by then, and nothing can join a group whose values someone
//    else already read: groups never depend on each other in a cycle.
// 4. Groups of two or more ops are numbered in order; old marks are dropped.
#include "ir/FusionPlan.h"
#include "passes/Pass.h"

using namespace dlc;

namespace {

bool isLayoutView(OpKind K) {
  return K == OpKind::Reshape || K == OpKind::Flatten ||
         K == OpKind::Squeeze || K == OpKind::Unsqueeze ||
         K == OpKind::Transpose;
}

bool isHoistable(const Operation &Op) {
  return Op.info().has(Elementwise) && !Op.info().has(Composite) &&
         Op.numOperands() == 1 && Op.kind() != OpKind::Identity &&
         Op.kind() != OpKind::Cast;
}

/// Step 1. Returns whether anything moved.
bool hoistOnce(Function &F) {
  auto Uses = F.countUses();
  for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
    Operation &U = **It;
    if (!isHoistable(U) || !U.operand(0)->Def)
      continue;
    Operation &M = *U.operand(0)->Def;
    if (!isLayoutView(M.kind()) || Uses.lookup(M.result()) != 1)
      continue;
    auto MPos = F.Body.begin();
    while (MPos->get() != &M)
      ++MPos;
    Value *X = M.operand(0);
    auto NewU = std::make_unique<Operation>(U.kind(), U.L);
    NewU->Operands.push_back(X);
    for (const NamedAttr &A : U.attrs())
      NewU->setAttr(A.Name, A.Value);
    NewU->addResult(TensorType(U.result()->Type.elem(), X->Type.dims()));
    NewU->result()->Name = U.result()->Name;
    M.Operands[0] = NewU->result();
    F.Body.insert(MPos, std::move(NewU));
    F.replaceAllUses(U.result(), M.result());
    F.Body.erase(It);
    return true;
  }
  return false;
}

struct Group {
  std::vector<const Operation *> Ops;
  bool Sealed = false;
};

class Fuse : public Pass {
public:
  llvm::StringRef name() const override { return "fuse"; }
  llvm::StringRef description() const override {
    return "Group ops into fused CPU kernels (fusion = K marks)";
  }
  llvm::Error run(Function &F) override {
    while (hoistOnce(F)) {
    }
    std::vector<Group> Groups;
    llvm::DenseMap<const Operation *, size_t> GroupOf;
    auto groupOf = [&](const Value *V) -> std::optional<size_t> {
      if (!V->Def)
        return std::nullopt;
      auto It = GroupOf.find(V->Def);
      if (It == GroupOf.end())
        return std::nullopt;
      return It->second;
    };
    for (auto &P : F.Body) {
      Operation &Op = *P;
      Op.removeAttr(FusionAttr);
      std::optional<size_t> Mine;
      if (isFusible(Op)) {
        for (const Value *V : Op.Operands) {
          auto G = groupOf(V);
          if (!G || Groups[*G].Sealed || (Mine && *Mine == *G))
            continue;
          std::vector<const Operation *> Trial = Groups[*G].Ops;
          Trial.push_back(&Op);
          if (auto E = checkFusionGroup(Trial)) {
            llvm::consumeError(std::move(E));
            continue;
          }
          Mine = *G;
          break;
        }
        if (!Mine) {
          Mine = Groups.size();
          Groups.emplace_back();
        }
        Groups[*Mine].Ops.push_back(&Op);
        GroupOf[&Op] = *Mine;
      }
      for (const Value *V : Op.Operands)
        if (auto G = groupOf(V); G && G != Mine)
          Groups[*G].Sealed = true;
    }
    int64_t Next = 1;
    for (Group &G : Groups) {
      if (G.Ops.size() < 2)
        continue;
      for (const Operation *Op : G.Ops)
        const_cast<Operation *>(Op)->setAttr(FusionAttr, Attribute::getInt(Next));
      ++Next;
    }
    return llvm::Error::success();
  }
};
} // namespace

std::unique_ptr<Pass> dlc::createFusePass() { return std::make_unique<Fuse>(); }
