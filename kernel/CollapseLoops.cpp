// --kir-collapse=N: merges the innermost loops of a nest that walk the
// contiguous trailing dims of every buffer they touch into one loop, so a
// [N, 32, 26, 26] elementwise kernel runs 21632-long vector loops instead of
// 26-long rows that leave 10 of every 26 elements to a scalar remainder.
//
// 1. Walk down from each loop through loops whose body is the next loop
//    alone, to an innermost loop (a body without loops).
// 2. Take the longest suffix of that chain, at most N loops, whose loops
//    are unit-step from 0 to a static extent, with no parallel mark, and
//    whose induction variables the innermost body uses only as the trailing
//    indices, in loop order, of scalar loads and stores of kernel
//    arguments whose trailing dims are static and equal the extents, or
//    not at all: a load whose indices use none of them (an operand
//    broadcast along the merged dims: a per-channel scale [N, C, 1, 1]
//    times [N, C, H, W]) stays as it is, and so does its argument.
// 3. Every argument accessed there must be accessed only in such nests,
//    merging the same extents (else none of them merges), and never
//    by a load that stays as it is: its type loses
//    the merged dims for one static dim of their product. Its leading
//    dims keep their positions, so the run-time sizes the executor passes
//    still describe them (static dims are never read from there), and a
//    `dim` of a merged axis becomes its constant size.
// 4. The suffix becomes one loop over the product, with the innermost
//    loop's marks (reassoc only if every merged loop had it); each access
//    takes the new variable as its last index.
#include "kernel/Schedule.h"

#include "ir/Location.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

using namespace dlc;
using namespace dlc::kir;

namespace {

using Ops = std::vector<std::unique_ptr<KOp>>;

/// The extent of a loop from 0 with step 1 to a static bound, or -1.
int64_t staticExtent(const KOp &L) {
  if (L.Step != 1 || L.Marks.Parallel)
    return -1;
  const KOp *Lo = L.Operands[0]->Def, *Hi = L.Operands[1]->Def;
  if (!Lo || Lo->kind() != KOpKind::ConstIndex || Lo->IntValue != 0 || !Hi)
    return -1;
  if (Hi->kind() == KOpKind::ConstIndex)
    return Hi->IntValue;
  if (Hi->kind() == KOpKind::Dim) {
    const Dim &D = Hi->Operands[0]->BufType.dim(Hi->IntValue);
    if (D.isStatic())
      return D.size();
  }
  return -1;
}

/// Position of the buffer among a load's or store's operands.
size_t bufferPos(const KOp &Op) {
  return Op.kind() == KOpKind::Store ? 1 : 0;
}

bool isAccess(const KOp &Op) {
  return Op.kind() == KOpKind::Load || Op.kind() == KOpKind::Store;
}

/// Every load and store in Body, recursively.
void accesses(Ops &Body, std::vector<KOp *> &Out) {
  for (auto &Op : Body) {
    if (isAccess(*Op))
      Out.push_back(Op.get());
    accesses(Op->Body, Out);
  }
}

void allOps(Ops &Body, std::vector<KOp *> &Out) {
  for (auto &Op : Body) {
    Out.push_back(Op.get());
    allOps(Op->Body, Out);
  }
}

/// A nest whose innermost M loops may merge (step 2), before step 3.
struct Candidate {
  std::vector<std::unique_ptr<KOp> *> Chain; // from Chain[0] = the first merged
  std::vector<int64_t> Ext;
  std::vector<KOp *> Body;                   // every op of the innermost body
  llvm::DenseSet<KValue *> Bufs;             // the arguments it accesses
  llvm::DenseSet<const KOp *> Kept;          // loads left as they are
  bool Live = true;
};

class Collapser {
public:
  Collapser(Kernel &K, unsigned MaxLoops) : K(K), MaxLoops(MaxLoops) {}

  void run() {
    find(K.Body);
    // Step 3, to a fixed point: an argument must be accessed only in live
    // candidates that merge the same extents, or none of them may merge.
    std::vector<KOp *> All;
    accesses(K.Body, All);
    llvm::DenseMap<const KOp *, Candidate *> Owner;
    for (Candidate &C : Cands)
      for (KOp *Op : C.Body)
        Owner[Op] = &C;
    for (bool Changed = true; Changed;) {
      Changed = false;
      llvm::DenseMap<const KValue *, const std::vector<int64_t> *> Want;
      llvm::DenseSet<const KValue *> Bad, Kept;
      for (KOp *A : All) {
        KValue *Buf = A->Operands[bufferPos(*A)];
        if (Buf->Def || Buf->BufType.rank() == 0)
          continue;
        Candidate *C = Owner.lookup(A);
        if (C && C->Live && C->Kept.contains(A)) {
          Kept.insert(Buf);
          continue;
        }
        if (!C || !C->Live || !C->Bufs.contains(Buf)) {
          Bad.insert(Buf);
          continue;
        }
        auto [It, New] = Want.try_emplace(Buf, &C->Ext);
        if (!New && *It->second != C->Ext)
          Bad.insert(Buf);
      }
      for (const KValue *Buf : Kept) // read as it is and merged elsewhere
        if (Want.count(Buf))
          Bad.insert(Buf);
      for (Candidate &C : Cands)
        if (C.Live && llvm::any_of(C.Bufs, [&](KValue *B) { return Bad.contains(B); })) {
          C.Live = false;
          Changed = true;
        }
    }
    llvm::DenseSet<KValue *> Done;
    for (Candidate &C : Cands)
      if (C.Live)
        apply(C, Done);
  }

  /// Loop bounds to insert before their loops once the rewrite is done,
  /// and the replaced loops, kept alive until then.
  std::vector<std::pair<KOp *, std::unique_ptr<KOp>>> Pending;
  std::vector<std::unique_ptr<KOp>> Dead;

private:
  void find(Ops &Body) {
    for (auto &Slot : Body)
      if (Slot->kind() == KOpKind::For)
        visit(Slot);
  }

  /// Slot holds a loop: find the candidate in the nest below it.
  void visit(std::unique_ptr<KOp> &Slot) {
    std::vector<std::unique_ptr<KOp> *> Chain = {&Slot};
    while ((*Chain.back())->Body.size() == 1 &&
           (*Chain.back())->Body[0]->kind() == KOpKind::For)
      Chain.push_back(&(*Chain.back())->Body[0]);
    KOp &Inner = **Chain.back();
    for (auto &Op : Inner.Body)
      if (Op->kind() == KOpKind::For) { // not an innermost loop
        find(Inner.Body);
        return;
      }
    size_t First = Chain.size();
    while (First > 0 && Chain.size() - (First - 1) <= MaxLoops &&
           staticExtent(**Chain[First - 1]) > 0)
      --First;
    // The longest suffix its accesses allow.
    for (; First + 1 < Chain.size(); ++First)
      if (candidate(Chain, First))
        return;
  }

  /// Whether Chain[First...] passes step 2; if so, records it.
  bool candidate(std::vector<std::unique_ptr<KOp> *> &Chain, size_t First) {
    Candidate C;
    C.Chain.assign(Chain.begin() + First, Chain.end());
    std::vector<KValue *> IVs;
    for (auto *Slot : C.Chain) {
      IVs.push_back((*Slot)->IndVar.get());
      C.Ext.push_back(staticExtent(**Slot));
    }
    size_t M = IVs.size();
    allOps((*Chain.back())->Body, C.Body);
    llvm::DenseSet<const KValue *> Merged(IVs.begin(), IVs.end());
    for (KOp *Op : C.Body) {
      size_t From = 0;
      if (isAccess(*Op)) {
        size_t BP = bufferPos(*Op);
        KValue *Buf = Op->Operands[BP];
        if (Buf->Def || (Op->Result && Op->Result->Type.isVector()) ||
            (Op->kind() == KOpKind::Store && Op->Operands[0]->Type.isVector()))
          return false;
        size_t R = Buf->BufType.rank();
        From = BP + 1;
        bool UsesMerged = false;
        for (size_t J = BP + 1; J < Op->Operands.size(); ++J)
          UsesMerged |= Merged.contains(Op->Operands[J]);
        if (R > 0 && BP == 0 && !UsesMerged) { // a broadcast operand
          C.Kept.insert(Op);
          continue;
        }
        if (R > 0) {
          if (R < M)
            return false;
          for (size_t J = 0; J < M; ++J) {
            const Dim &D = Buf->BufType.dim(R - M + J);
            if (Op->Operands[BP + 1 + R - M + J] != IVs[J] || !D.isStatic() ||
                D.size() != C.Ext[J])
              return false;
          }
          C.Bufs.insert(Buf);
          if (BP == 1 && Merged.contains(Op->Operands[0]))
            return false;
          for (size_t J = BP + 1; J < BP + 1 + R - M; ++J)
            if (Merged.contains(Op->Operands[J]))
              return false;
          continue;
        }
      }
      for (size_t J = From; J < Op->Operands.size(); ++J)
        if (Merged.contains(Op->Operands[J]))
          return false;
    }
    if (C.Bufs.empty())
      return false;
    Cands.push_back(std::move(C));
    return true;
  }

  /// Step 4 for C, and the type change of its arguments not done yet.
  void apply(Candidate &C, llvm::DenseSet<KValue *> &Done) {
    size_t M = C.Chain.size();
    int64_t Product = 1;
    for (int64_t E : C.Ext)
      Product *= E;
    KOp &Inner = **C.Chain.back();
    for (KOp *Op : C.Body)
      if (isAccess(*Op) && C.Bufs.contains(Op->Operands[bufferPos(*Op)])) {
        Op->Operands.resize(Op->Operands.size() - M + 1);
        Op->Operands.back() = Inner.IndVar.get();
      }
    for (KValue *Buf : C.Bufs)
      if (Done.insert(Buf).second)
        collapseType(Buf, M, Product);
    std::unique_ptr<KOp> Loop = std::move(*C.Chain.back());
    auto Bound = std::make_unique<KOp>(KOpKind::ConstIndex);
    Bound->IntValue = Product;
    Bound->Result = std::make_unique<KValue>();
    Bound->Result->Name = Loop->IndVar->Name + ".n";
    Bound->Result->Type = SType::index();
    Bound->Result->Def = Bound.get();
    Loop->Operands[1] = Bound->Result.get();
    for (size_t I = 0; I + 1 < M; ++I)
      Loop->Marks.Reassociate &= (*C.Chain[I])->Marks.Reassociate;
    std::unique_ptr<KOp> &Slot = *C.Chain[0];
    Dead.push_back(std::move(Slot));
    Slot = std::move(Loop);
    Pending.push_back({Slot.get(), std::move(Bound)});
  }

  /// Buf's trailing M dims become one static dim of Product elements; a
  /// `dim` of a merged axis becomes its constant.
  void collapseType(KValue *Buf, size_t M, int64_t Product) {
    const TensorType &T = Buf->BufType;
    size_t R = T.rank();
    Shape Dims;
    for (size_t I = 0; I + M < R; ++I)
      Dims.push_back(T.dim(I));
    Dims.push_back(Dim::fixed(Product));
    constDims(K.Body, Buf, R - M);
    Buf->BufType = TensorType(T.elem(), std::move(Dims));
  }

  /// Replaces each `dim %Buf, A` with A >= From in Body by a constant.
  void constDims(Ops &Body, const KValue *Buf, size_t From) {
    for (auto &Slot : Body) {
      constDims(Slot->Body, Buf, From);
      if (Slot->kind() != KOpKind::Dim || Slot->Operands[0] != Buf ||
          size_t(Slot->IntValue) < From)
        continue;
      auto C = std::make_unique<KOp>(KOpKind::ConstIndex);
      C->IntValue = Buf->BufType.dim(Slot->IntValue).size();
      C->Result = std::move(Slot->Result);
      C->Result->Def = C.get();
      Slot = std::move(C);
    }
  }

  Kernel &K;
  unsigned MaxLoops;
  std::vector<Candidate> Cands;
};

/// Inserts each pending bound right before its loop.
void insertBounds(Ops &Body, llvm::DenseMap<const KOp *, std::unique_ptr<KOp>> &Bounds) {
  for (size_t I = 0; I < Body.size(); ++I) {
    auto It = Bounds.find(Body[I].get());
    if (It != Bounds.end()) {
      Body.insert(Body.begin() + I, std::move(It->second));
      Bounds.erase(It);
      ++I;
    }
    insertBounds(Body[I]->Body, Bounds);
  }
}

} // namespace

llvm::Error kir::collapseLoops(Kernel &K, unsigned N) {
  if (N < 2)
    return makeError("--kir-collapse: it takes the most loops to merge, at "
                     "least 2, got " + std::to_string(N));
  if (K.isGpu())
    return verifyKernel(K);
  Collapser C(K, N);
  C.run();
  llvm::DenseMap<const KOp *, std::unique_ptr<KOp>> Bounds;
  for (auto &[Loop, Bound] : C.Pending)
    Bounds[Loop] = std::move(Bound);
  insertBounds(K.Body, Bounds);
  return verifyKernel(K);
}
