// --kir-gpu-rows=N: maps row reductions (softmax, layer-norm, loss rows,
// reductions) to one block of N threads per row, with reductions by warp
// shuffles and one barrier each.
//
// It applies to a kernel whose top level is index arithmetic and one
// parallel loop over rows, whose body is a sequence of row-level ops and
// single-level inner loops, at least one of which reduces into a row-level
// `local` (set %a, combine(get %a, x) with combine add, mul, max or min).
// Other kernels are left to --kir-gpu-map.
//
// 1. One block per row: the row index is block_id x + lo. Rows of a static
//    length below N get fewer threads (the next power of two, at least 32).
// 2. Row-level locals become per-thread scratch (they live across the
//    regions); get / set become loads / stores of it.
// 3. The body is cut after every inner loop into segments; each segment is
//    a `threads` region and a barrier separates consecutive ones. Inner
//    loops are strided over the block: thread t runs j = lo + t*step,
//    lo + (t+N)*step, ... Row-level stores run in thread 0 only.
// 4. After a reducing loop, still in its region, each thread combines its
//    partial with the other lanes of its warp by xor shuffles at offsets
//    16, 8, .., 1 (N/2 .. 1 below 32 threads): every lane then holds the
//    warp's total. With one warp that is the row's result. With N/32 > 1
//    warps, lane 0 of each stores its total into a shared array of N/32
//    (one per reduction); after the barrier that ends the segment, every
//    warp reads them (lane l takes total l % (N/32)) and combines them by
//    xor shuffles at N/64 .. 1, so every thread has the row's result: one
//    barrier per reduction, whatever N.
// 5. Row-level values used in a later segment are carried over: index
//    arithmetic is recomputed there, scalars go through per-thread scratch.
#include "kernel/GpuMapping.h"
#include "kernel/Schedule.h"

#include "ir/Location.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <functional>
#include <optional>

using namespace dlc;
using namespace dlc::kir;

using OpList = std::vector<std::unique_ptr<KOp>>;

namespace {
struct Reduction {
  KValue *Local; // the row-level local (later: its per-thread scratch)
  OpKind Combine;
  KValue *Shared = nullptr;
};

struct Segment {
  OpList Ops;
  std::vector<Reduction> Reds; // reduced by its last op, an inner loop
};

template <typename Fn> void walk(OpList &Ops, Fn F) {
  for (auto &Op : Ops) {
    F(*Op);
    walk(Op->Body, F);
  }
}

class RowMapper {
public:
  RowMapper(Kernel &K, unsigned N) : K(K), N(N) {}

  /// Whether the kernel has the shape this pass maps; fills the segments.
  bool analyze() {
    unsigned Par = 0;
    for (auto &Op : K.Body) {
      if (Op->kind() == KOpKind::For && Op->Marks.Parallel) {
        P = Op.get();
        ++Par;
      } else if (!isPureTopLevel(*Op)) {
        return false;
      }
    }
    if (Par != 1 || P->Step != 1)
      return false;
    llvm::DenseSet<const KValue *> RowLocals;
    // The value each local was last set to at row level (null: unknown).
    llvm::DenseMap<const KValue *, const KValue *> LastSet;
    bool AnyReduction = false;
    for (auto &Op : P->Body) {
      if (Op->kind() == KOpKind::Set) {
        LastSet[Op->Operands[0]] = Op->Operands[1];
      } else if (Op->kind() == KOpKind::Local) {
        if (Op->Result->Type.isVector())
          return false;
        RowLocals.insert(Op->Result.get());
      } else if (Op->kind() == KOpKind::Scratch) {
        return false;
      } else if (Op->kind() == KOpKind::For) {
        std::vector<Reduction> Reds;
        if (!innerLoop(*Op, RowLocals, Reds))
          return false;
        // Every thread starts from the initial value, so a sum or product
        // must start from its identity (max and min may start anywhere).
        for (const Reduction &R : Reds) {
          const KValue *Init = LastSet.lookup(R.Local);
          LastSet[R.Local] = nullptr;
          if (R.Combine != OpKind::Add && R.Combine != OpKind::Mul)
            continue;
          double Id = R.Combine == OpKind::Add ? 0 : 1;
          if (!Init || !Init->Def || Init->Def->kind() != KOpKind::ConstFloat ||
              Init->Def->FloatValue != Id)
            return false;
        }
        AnyReduction |= !Reds.empty();
        LoopReds[Op.get()] = std::move(Reds);
      } else if (Op->Result && Op->Result->Type.isVector()) {
        return false;
      }
    }
    return AnyReduction;
  }

  llvm::Error rewrite();
  static KValue *butterfly(KBuilder &B, const Reduction &R, KValue *V,
                           unsigned Width);

  /// Rows known to be short need fewer threads: with every inner loop's
  /// trip count static and below N, N becomes the next power of two of the
  /// longest (at least 32, a warp).
  void shrinkBlock() {
    auto known = [](const KValue *V) -> std::optional<int64_t> {
      if (!V->Def)
        return std::nullopt;
      if (V->Def->kind() == KOpKind::ConstIndex)
        return V->Def->IntValue;
      if (V->Def->kind() == KOpKind::Dim) {
        const Dim &D = V->Def->Operands[0]->BufType.dim(V->Def->IntValue);
        if (D.isStatic())
          return D.size();
      }
      return std::nullopt;
    };
    int64_t Longest = 0;
    for (auto &Op : P->Body) {
      if (Op->kind() != KOpKind::For)
        continue;
      auto Lo = known(Op->Operands[0]), Hi = known(Op->Operands[1]);
      if (!Lo || !Hi)
        return;
      Longest = std::max(Longest, (*Hi - *Lo + Op->Step - 1) / Op->Step);
    }
    unsigned Want = 32;
    while (Want < N && Want < Longest)
      Want *= 2;
    N = std::min(N, Want);
  }

private:
  /// An inner loop: no nested loops, and every set of a row-level local is
  /// a reduction `set %a, combine(get %a, x)` whose get has no other use.
  bool innerLoop(KOp &L, const llvm::DenseSet<const KValue *> &RowLocals,
                 std::vector<Reduction> &Reds) {
    llvm::DenseMap<const KValue *, unsigned> Uses;
    for (auto &Op : L.Body) {
      if (Op->kind() == KOpKind::For || Op->kind() == KOpKind::Scratch)
        return false;
      for (KValue *V : Op->Operands)
        ++Uses[V];
    }
    llvm::DenseSet<const KValue *> Seen;
    for (auto &Op : L.Body) {
      if (Op->kind() != KOpKind::Set || !RowLocals.count(Op->Operands[0]))
        continue;
      KValue *A = Op->Operands[0], *C = Op->Operands[1];
      if (Seen.count(A) || !C->Def || C->Def->kind() != KOpKind::Scalar)
        return false;
      OpKind Comb = C->Def->Scalar;
      if (Comb != OpKind::Add && Comb != OpKind::Mul && Comb != OpKind::Max &&
          Comb != OpKind::Min)
        return false;
      if (C->Def->Operands.size() != 2 || Uses[C] != 1)
        return false;
      unsigned FromA = 0;
      for (KValue *X : C->Def->Operands)
        if (X->Def && X->Def->kind() == KOpKind::Get && X->Def->Operands[0] == A &&
            Uses[X] == 1)
          ++FromA;
      if (FromA != 1)
        return false;
      Seen.insert(A);
      Reds.push_back({A, Comb});
    }
    // A reduced local is read in the loop only by its own combine.
    unsigned Gets = 0;
    for (auto &Op : L.Body)
      if (Op->kind() == KOpKind::Get && Seen.count(Op->Operands[0]))
        ++Gets;
    return Gets == Seen.size();
  }

  Kernel &K;
  unsigned N;
  KOp *P = nullptr;
  llvm::DenseMap<const KOp *, std::vector<Reduction>> LoopReds;
};
} // namespace

llvm::Error RowMapper::rewrite() {
  std::vector<std::unique_ptr<KOp>> Rest;
  K.Body = takeTopLevel(K, Rest);
  std::unique_ptr<KOp> Par = std::move(Rest[0]);
  KBuilder B(K, K.Body, "gr");
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *Lo = Par->Operands[0];
  KValue *Rows = B.index(IndexOp::Max, B.index(IndexOp::Sub, Par->Operands[1], Lo), Zero);
  B.launch(Rows, One, One, N);
  KValue *Row = B.index(IndexOp::Add, B.gpuIndex(GpuIdKind::BlockId, 0), Lo);

  // Row-level locals become per-thread scratch.
  llvm::DenseMap<const KValue *, KValue *> LocalScratch;
  OpList Body;
  for (auto &Op : Par->Body) {
    if (Op->kind() == KOpKind::Local)
      LocalScratch[Op->Result.get()] =
          B.scratch(TensorType(Op->Result->Type.Elem, {Dim::fixed(1)}));
    else
      Body.push_back(std::move(Op));
  }
  // get / set of them: loads / stores.
  std::function<void(OpList &)> Locals = [&](OpList &Ops) {
    for (auto &Op : Ops) {
      Locals(Op->Body);
      if (Op->kind() == KOpKind::Get && LocalScratch.count(Op->Operands[0])) {
        auto L = std::make_unique<KOp>(KOpKind::Load);
        L->Operands = {LocalScratch[Op->Operands[0]], Zero};
        L->Result = std::move(Op->Result);
        L->Result->Def = L.get();
        Op = std::move(L);
      } else if (Op->kind() == KOpKind::Set && LocalScratch.count(Op->Operands[0])) {
        auto S = std::make_unique<KOp>(KOpKind::Store);
        S->Operands = {Op->Operands[1], LocalScratch[Op->Operands[0]], Zero};
        Op = std::move(S);
      }
    }
  };
  Locals(Body);

  // Segments, cut after every inner loop.
  std::vector<Segment> Segs(1);
  for (auto &Op : Body) {
    bool Loop = Op->kind() == KOpKind::For;
    KOp *Raw = Op.get();
    Segs.back().Ops.push_back(std::move(Op));
    if (Loop) {
      for (Reduction R : LoopReds[Raw]) {
        R.Local = LocalScratch[R.Local];
        if (N > 32) // one total per warp
          R.Shared = B.shared(
              TensorType(R.Local->BufType.elem(), {Dim::fixed(N / 32)}));
        Segs.back().Reds.push_back(R);
      }
      Segs.emplace_back();
    }
  }

  // A last segment with nothing to do (the body ended with a loop that
  // reduces nothing) would only cost a barrier.
  while (Segs.size() > 1 && Segs.back().Ops.empty() &&
         Segs[Segs.size() - 2].Reds.empty())
    Segs.pop_back();

  // Which segment defines each row-level value.
  llvm::DenseMap<const KValue *, unsigned> DefSeg;
  for (unsigned S = 0; S < Segs.size(); ++S)
    for (auto &Op : Segs[S].Ops)
      if (Op->Result)
        DefSeg[Op->Result.get()] = S;
  // Scalars used after their segment: spilled to per-thread scratch.
  llvm::DenseMap<const KValue *, KValue *> Spill;
  for (unsigned S = 0; S < Segs.size(); ++S)
    walk(Segs[S].Ops, [&](KOp &Op) {
      for (KValue *V : Op.Operands) {
        auto It = DefSeg.find(V);
        if (It == DefSeg.end() || It->second == S || V->Type.IsIndex ||
            Spill.count(V))
          continue;
        Spill[V] = B.scratch(TensorType(V->Type.Elem, {Dim::fixed(1)}));
      }
    });
  for (auto &[V, Sp] : Spill)
    if (V->Type.isVector())
      return makeError("kernel @" + K.Name + ": --kir-gpu-rows cannot carry "
                       "a vector across a barrier");

  for (unsigned S = 0; S < Segs.size(); ++S) {
    if (S)
      B.barrier();
    B.beginThreads();
    KOp *Region = K.Body.back().get();
    KValue *T = B.gpuIndex(GpuIdKind::ThreadId, 0);
    llvm::DenseMap<const KValue *, KValue *> Map = {{Par->IndVar.get(), Row}};
    // Reduced locals of the previous segment: with several warps, every
    // warp combines the warps' totals (lane l reads total l % warps).
    if (S && N > 32) {
      unsigned Warps = N / 32;
      KValue *Lane = B.index(IndexOp::Rem, T, B.constIndex(32));
      KValue *Slot = B.index(IndexOp::Rem, Lane, B.constIndex(Warps));
      for (Reduction &R : Segs[S - 1].Reds)
        B.store(butterfly(B, R, B.load(R.Shared, {Slot}), Warps), R.Local,
                {Zero});
    }
    // Carried values: index arithmetic recomputed, scalars reloaded.
    std::function<KValue *(KValue *)> Carry = [&](KValue *V) -> KValue * {
      if (auto It = Map.find(V); It != Map.end())
        return It->second;
      auto D = DefSeg.find(V);
      if (D == DefSeg.end() || D->second == S)
        return V;
      KValue *R;
      if (!V->Type.IsIndex) {
        R = B.load(Spill[V], {Zero});
      } else if (V->Def->kind() == KOpKind::IndexArith) {
        KValue *X = Carry(V->Def->Operands[0]), *Y = Carry(V->Def->Operands[1]);
        R = B.index(V->Def->IOp, X, Y);
      } else if (V->Def->kind() == KOpKind::Dim) {
        R = B.dim(V->Def->Operands[0], unsigned(V->Def->IntValue));
      } else {
        R = B.constIndex(V->Def->IntValue);
      }
      Map[V] = R;
      return R;
    };
    walk(Segs[S].Ops, [&](KOp &Op) {
      for (KValue *&V : Op.Operands)
        V = Carry(V);
    });
    for (auto &Op : Segs[S].Ops) {
      KOp *Raw = Op.get();
      if (Raw->kind() == KOpKind::For) {
        // Strided over the block's threads.
        KValue *Step = B.constIndex(Raw->Step);
        Raw->Operands[0] = B.index(IndexOp::Add, Raw->Operands[0],
                                   B.index(IndexOp::Mul, T, Step));
        Raw->Step *= N;
        Raw->Marks = LoopMarks();
        Region->Body.push_back(std::move(Op));
      } else if (Raw->kind() == KOpKind::Store && !Raw->Operands[1]->Def) {
        // A row-level store into a kernel buffer: thread 0 only.
        B.beginFor(T, One);
        KOp *Guard = B.endFor();
        Guard->Body.push_back(std::move(Op));
      } else {
        Region->Body.push_back(std::move(Op));
      }
      if (Raw->Result && Spill.count(Raw->Result.get()))
        B.store(Raw->Result.get(), Spill[Raw->Result.get()], {Zero});
    }
    // Partials of this segment's reductions: combined across each warp by
    // xor shuffles, so every lane holds its warp's total (item 4).
    KValue *Lane = N > 32 && !Segs[S].Reds.empty()
                       ? B.index(IndexOp::Rem, T, B.constIndex(32))
                       : T;
    for (Reduction &R : Segs[S].Reds) {
      KValue *P = butterfly(B, R, B.load(R.Local, {Zero}), std::min(N, 32u));
      if (N <= 32) {
        B.store(P, R.Local, {Zero});
        continue;
      }
      B.beginFor(Lane, One); // lane 0: the warp's total into shared memory
      B.store(P, R.Shared, {B.index(IndexOp::Div, T, B.constIndex(32))});
      B.endFor();
    }
    B.endThreads();
  }
  return verifyKernel(K);
}


/// V combined over groups of Width lanes (a power of two, at most 32) by
/// xor shuffles: afterwards every lane of a group holds the group's total.
KValue *RowMapper::butterfly(KBuilder &B, const Reduction &R, KValue *V,
                             unsigned Width) {
  for (unsigned Off = Width / 2; Off >= 1; Off /= 2)
    V = B.scalar(R.Combine, {V, B.shuffle(ShflMode::Xor, V, Off)}, V->Type);
  return V;
}

llvm::Error kir::gpuRows(Kernel &K, unsigned N) {
  if (N < 2 || N > 1024 || (N & (N - 1)))
    return makeError("--kir-gpu-rows: threads per block must be a power of two "
                     "in 2..1024, got " + std::to_string(N));
  if (K.isGpu())
    return llvm::Error::success();
  RowMapper M(K, N);
  if (!M.analyze())
    return llvm::Error::success();
  M.shrinkBlock();
  return M.rewrite();
}
