// --fuse: groups ops that the CPU backend runs as one kernel and marks each
// group's ops with the same `fusion = K` attribute.
//
// 1. Elementwise ops move above the layout ops (reshape, flatten, squeeze,
//    unsqueeze, transpose) that feed only them, so that what follows a
//    convolution's im2col/GEMM layout round trip meets the GEMM and its
//    bias: relu(reshape(transpose(reshape(y)))) becomes
//    reshape(transpose(reshape(relu(y)))). A binary op's other operand is
//    reshaped to match when it is constant across the merged dims (a
//    per-channel scale or shift, as inference batch norm leaves); both
//    orders compute the same elements.
// 2. Ops are visited in order. A fusible op (elementwise, reduction, 2-D
//    matmul, convolution) tries to join the open group of one of its
//    operands' producers; ir/FusionPlan decides whether the grown group is
//    still one kernel (same iteration space, epilogue rules). Otherwise it
//    opens a group of its own.
// 3. A group is sealed as soon as an op outside it reads one of its values.
//    A group runs where its last op stands, so everything it reads has been
//    computed by then, and nothing can join a group whose values someone
//    else already read: groups never depend on each other in a cycle.
// 4. A pooling that joined a convolution group leaves it again when values
//    before it turn out to be used outside the group (known only now).
// 5. Groups of two or more ops are numbered in order; old marks are dropped.
// 6. An im2col that only a GEMM reads opens a group that the GEMM joins:
//    the kernel gathers the patches as it packs them (ir/FusionPlan step 6).
// Bounded work: a group holds at most MaxGroupOps ops (the check of a grown
// group replans it, so unbounded groups made the pass quadratic: 13 s for a
// 20k-op chain), and a trial join extends the group in place.
#include "ir/FusionPlan.h"
#include "passes/Decompose.h"
#include "passes/Pass.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace dlc;

namespace {

bool isLayoutView(OpKind K) {
  return K == OpKind::Reshape || K == OpKind::Flatten ||
         K == OpKind::Squeeze || K == OpKind::Unsqueeze ||
         K == OpKind::Transpose;
}

bool isHoistable(const Operation &Op) {
  return Op.info().has(Elementwise) && !Op.info().has(Composite) &&
         !touchesStrings(Op) &&
         (Op.numOperands() == 1 || Op.numOperands() == 2) &&
         Op.kind() != OpKind::Identity && Op.kind() != OpKind::Cast;
}

using Sizes = llvm::SmallVector<int64_t, 4>;

/// The shape C' (static) such that op(X, C') viewed as V equals op(V, C)
/// for the view M : X -> V, or none. C is right-aligned to V's rank; it
/// must be constant (size 1) across every group of dims the view merges or
/// splits, and its other dims must keep their order (so reshaping C to C'
/// keeps its element order).
std::optional<Sizes> mapThroughView(const Operation &M, const TensorType &C) {
  const TensorType &X = M.operand(0)->Type, &V = M.result()->Type;
  if (!C.isStatic() || C.rank() > V.rank())
    return std::nullopt;
  Sizes CV(V.rank() - C.rank(), 1);
  for (const Dim &D : C.dims())
    CV.push_back(D.size());
  Sizes Out(X.rank(), 1);
  if (M.kind() == OpKind::Transpose) {
    llvm::ArrayRef<int64_t> Perm = M.getInts("perm");
    int64_t LastSrc = -1;
    for (unsigned K = 0; K < V.rank(); ++K) {
      if (CV[K] == 1)
        continue;
      if (Perm[K] < LastSrc) // would reorder C's elements
        return std::nullopt;
      LastSrc = Perm[K];
      Out[Perm[K]] = CV[K];
    }
    return Out;
  }
  // Reshape-like: match groups of dims with equal products from the end;
  // whatever is left at the front (symbolic batch dims) is one group.
  auto size = [](const Dim &D) { return D.isStatic() ? D.size() : int64_t(-1); };
  int I = X.rank(), J = V.rank();
  while (I > 0 && J > 0) {
    int GI = I - 1, GJ = J - 1;
    int64_t PX = size(X.dim(GI)), PV = size(V.dim(GJ));
    while (PX > 0 && PV > 0 && PX != PV) {
      if (PX < PV) {
        if (--GI < 0 || size(X.dim(GI)) < 0)
          return std::nullopt;
        PX *= size(X.dim(GI));
      } else {
        if (--GJ < 0 || size(V.dim(GJ)) < 0)
          return std::nullopt;
        PV *= size(V.dim(GJ));
      }
    }
    if (PX < 0 || PV < 0)
      break; // a symbolic dim: the front group
    bool Ones = true;
    for (int K = GJ; K < J; ++K)
      Ones &= CV[K] == 1;
    if (!Ones) {
      if (I - GI != 1 || J - GJ != 1)
        return std::nullopt;
      Out[GI] = CV[GJ];
    }
    I = GI;
    J = GJ;
  }
  for (int K = 0; K < J; ++K)
    if (CV[K] != 1) {
      if (I != 1 || J != 1 || X.dim(0) != V.dim(0))
        return std::nullopt;
      Out[0] = CV[0];
    }
  return Out;
}

/// Step 1, in one walk: U = op(M = view(X) [, C]), with U the only user of
/// M, becomes U' = op(X [, C']), M' = view(U'), where C' is C reshaped
/// (mapThroughView). M moves to just after U and the two swap their result
/// values, so U's users keep their value (now M's result, of the same type)
/// and nothing else needs rewriting.
///
/// Termination. The first hoist of U picks the operand K it follows; every
/// later hoist of U follows the same operand one view further up (its other
/// operand is by then a reshape made here, which is never hoisted through:
/// with both operands of U's shape, or a one-element U whose other operand
/// is a scalar, that would put the view back where it came from, forever).
/// So each hoist of U passes a view it has not passed yet, and the walk up
/// an acyclic graph ends: a view met twice, or more hoists in all than
/// (views) x (hoistable ops), is an internal error at U's location rather
/// than a hang. StepLimit, when not 0, lowers that bound (for tests).
llvm::Error hoistElementwiseOps(Function &F, uint64_t StepLimit) {
  auto Uses = F.countUses();
  llvm::DenseMap<const Operation *, std::list<std::unique_ptr<Operation>>::iterator>
      Pos;
  uint64_t Views = 0, Hoistable = 0;
  for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
    Pos[It->get()] = It;
    Views += isLayoutView((*It)->kind());
    Hoistable += isHoistable(**It);
  }
  uint64_t Limit = StepLimit ? StepLimit : Views * Hoistable;
  uint64_t Steps = 0;
  auto internalError = [](const Operation &U, const llvm::Twine &Why) {
    return makeError(U.L, "internal error: fuse: hoisting '" + U.mnemonic() +
                              "' above its layout views does not terminate (" +
                              Why + ")");
  };
  llvm::DenseSet<const Operation *> Made;
  for (auto It = F.Body.begin(); It != F.Body.end(); ++It) {
    Operation &U = **It;
    int Follow = -1; // the operand that U's hoists walk up, once chosen
    llvm::SmallPtrSet<const Operation *, 4> Passed;
    while (isHoistable(U)) {
      // The operand that is a view of the same shape as U's result.
      int K = -1;
      for (unsigned I = 0; I < U.numOperands() && K < 0; ++I) {
        Operation *D = U.operand(I)->Def;
        if ((Follow < 0 || int(I) == Follow) && D && !Made.count(D) &&
            isLayoutView(D->kind()) && D->numOperands() == 1 &&
            Uses.lookup(D->result()) == 1 &&
            U.operand(I)->Type == U.result()->Type)
          K = I;
      }
      if (K < 0)
        break;
      Operation &M = *U.operand(K)->Def;
      if (!Passed.insert(&M).second)
        return internalError(U, "'" + M.mnemonic() + "' met twice");
      if (++Steps > Limit)
        return internalError(U, "hoist bound " + llvm::Twine(Limit) +
                                     " exceeded");
      Value *X = M.operand(0), *CNew = nullptr;
      if (U.numOperands() == 2) {
        Value *C = U.operand(1 - K);
        std::optional<Sizes> Shape = mapThroughView(M, C->Type);
        if (!Shape)
          break;
        OpBuilder B(F, It, U.L);
        CNew = B.create(OpKind::Reshape, {C}, {intsAttr("shape", *Shape)});
        Pos[CNew->Def] = std::prev(It);
        Made.insert(CNew->Def);
        Uses[CNew] = 1;
      }
      Follow = K;
      F.Body.splice(std::next(It), F.Body, Pos[&M]);
      std::swap(U.Results[0], M.Results[0]);
      std::swap(U.result()->Name, M.result()->Name);
      U.result()->Def = &U;
      M.result()->Def = &M;
      U.result()->Type = TensorType(U.result()->Type.elem(), X->Type.dims());
      U.Operands[K] = X;
      if (CNew)
        U.Operands[1 - K] = CNew;
      M.Operands[0] = U.result();
    }
  }
  return llvm::Error::success();
}

struct Group {
  std::vector<const Operation *> Ops;
  bool Sealed = false;
};

/// The most ops one fused kernel holds: far more than real epilogues and
/// rows need, and few enough that checking a join stays cheap and the
/// kernel stays a reasonable LLVM function.
constexpr size_t MaxGroupOps = 128;

class Fuse : public Pass {
  uint64_t HoistStepLimit;

public:
  explicit Fuse(uint64_t HoistStepLimit) : HoistStepLimit(HoistStepLimit) {}
  llvm::StringRef name() const override { return "fuse"; }
  llvm::StringRef description() const override {
    return "Group ops into fused CPU kernels (fusion = K marks)";
  }
  llvm::Error run(Function &F) override {
    if (auto E = hoistElementwiseOps(F, HoistStepLimit))
      return E;
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
    auto Uses = F.countUses();
    for (auto &P : F.Body) {
      Operation &Op = *P;
      Op.removeAttr(FusionAttr);
      std::optional<size_t> Mine;
      // An im2col opens a group for the matmul that alone reads it.
      bool Fusible = isFusible(Op) && (Op.kind() != OpKind::Im2Col ||
                                       Uses.lookup(Op.result()) == 1);
      if (Fusible) {
        for (const Value *V : Op.Operands) {
          auto G = groupOf(V);
          if (!G || Groups[*G].Sealed || (Mine && *Mine == *G) ||
              Groups[*G].Ops.size() >= MaxGroupOps)
            continue;
          std::vector<const Operation *> &Trial = Groups[*G].Ops;
          Trial.push_back(&Op);
          llvm::Error E = checkFusionGroup(Trial);
          Trial.pop_back();
          if (E) {
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
    ValueUsers Users = usersOf(F);
    for (Group &G : Groups) {
      OpKind Last = G.Ops.back()->kind();
      if (G.Ops.size() < 2 || (Last != OpKind::MaxPool && Last != OpKind::AvgPool))
        continue;
      auto P = planFusionGroup(G.Ops, F, Users);
      if (!P) {
        llvm::consumeError(P.takeError());
        G.Ops.pop_back();
      }
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

std::unique_ptr<Pass> dlc::createFusePass() {
  return createFusePassWithHoistLimit(0);
}

std::unique_ptr<Pass>
dlc::createFusePassWithHoistLimit(uint64_t HoistStepLimit) {
  return std::make_unique<Fuse>(HoistStepLimit);
}
