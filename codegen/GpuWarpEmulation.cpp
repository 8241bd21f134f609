// The CPU emulation of warp-collective ops (shfl_down, shfl_xor,
// mma_m16n8k8_tf32, mma_m16n8k16_bf16): rewritten, still as GPU-mapped kernel IR, into
// exchanges through shared memory between consecutive threads regions,
// which the emulation (GpuEmulation.cpp) then runs one after the other.
//
// 1. A threads region whose body holds warp ops (always directly in it, see
//    kernel/GpuRules.cpp) is cut before each one. The part before it ends by
//    storing the op's exchanged operands into a per-block shared array at
//    the thread's linear id; the next part starts by computing the op's
//    result from that array. Every thread runs a part before any thread runs
//    the next, so every lane's store precedes every lane's read, as in the
//    warp's exchange on the GPU.
// 2. A shuffle reads its source lane: l + offset (down) or l ^ offset (xor)
//    within the warp of 32 linear ids (the block, when it is smaller); a lane
//    whose source is at or past the warp's size reads its own value, as
//    PTX's shfl.sync with the clamp at the last lane does.
// 3. An mma computes each of the thread's four D elements as its own C
//    element plus the eight products of A's row and B's column, reading
//    every A and B element from the lane and register that hold it in the
//    m16n8k8 tf32 fragment layout (sixteen products in the m16n8k16 bf16
//    one; kernel/KernelIR.h), so a wrong fragment
//    index in a kernel gives wrong results here as it would on the GPU.
// 4. Values a later part uses: index arithmetic is recomputed there, other
//    values pass through per-thread scratch; a local used by more than one
//    part becomes per-thread scratch.
#include "codegen/GpuEmulation.h"

#include "ir/Location.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <functional>

using namespace dlc;
using namespace dlc::kir;

namespace {
using OpList = std::vector<std::unique_ptr<KOp>>;

bool isWarpOp(const KOp &Op) {
  return Op.kind() == KOpKind::Shuffle || Op.kind() == KOpKind::Mma;
}

template <typename Fn> void walk(OpList &Ops, Fn F) {
  for (auto &Op : Ops) {
    F(*Op);
    walk(Op->Body, F);
  }
}

class WarpLowering {
public:
  WarpLowering(Kernel &K, const KOp &L) : K(K), Decl(K, Decls, "wx") {
    for (int I = 0; I < 3; ++I)
      Blk[I] = L.Block[I];
    NT = Blk[0] * Blk[1] * Blk[2];
  }

  llvm::Error run() {
    if (auto E = visit(K.Body))
      return E;
    // The new shared and scratch buffers go right after the launch.
    auto It = K.Body.begin();
    while ((*It)->kind() != KOpKind::Launch)
      ++It;
    ++It;
    for (auto &D : Decls)
      It = std::next(K.Body.insert(It, std::move(D)));
    return llvm::Error::success();
  }

private:
  llvm::Error fail(const llvm::Twine &Msg) {
    return makeError("kernel @" + K.Name + ": " + Msg);
  }

  /// Uniform code: finds the threads regions to split.
  llvm::Error visit(OpList &Ops) {
    OpList Out;
    for (auto &Op : Ops) {
      if (Op->kind() == KOpKind::For) {
        if (auto E = visit(Op->Body))
          return E;
      } else if (Op->kind() == KOpKind::Threads &&
                 llvm::any_of(Op->Body, [](auto &X) { return isWarpOp(*X); })) {
        if (auto E = split(*Op, Out))
          return E;
        continue;
      }
      Out.push_back(std::move(Op));
    }
    Ops = std::move(Out);
    return llvm::Error::success();
  }

  llvm::Error split(KOp &Region, OpList &Out);
  void localsToScratch(std::vector<OpList> &Parts);

  /// The thread's linear id, built in B's region.
  KValue *linear(KBuilder &B) {
    KValue *L = B.gpuIndex(GpuIdKind::ThreadId, 0);
    if (Blk[1] * Blk[2] == 1)
      return L;
    KValue *Y = B.index(
        IndexOp::Add, B.gpuIndex(GpuIdKind::ThreadId, 1),
        B.index(IndexOp::Mul, B.constIndex(Blk[1]), B.gpuIndex(GpuIdKind::ThreadId, 2)));
    return B.index(IndexOp::Add, L, B.index(IndexOp::Mul, B.constIndex(Blk[0]), Y));
  }

  /// The shuffle's result: the source lane's stored value (item 2).
  void shuffleResult(KBuilder &B, KOp &Op, KValue *Ex, OpList &Into);
  /// The mma's result (item 3); C is its accumulator operand in this part.
  void mmaResult(KBuilder &B, KOp &Op, KValue *ExA, KValue *ExB, KValue *C,
                 OpList &Into);

  Kernel &K;
  OpList Decls;
  KBuilder Decl; // builds into Decls
  int64_t Blk[3], NT;
  unsigned Regions = 0;
};

/// Moves Result of Old to the op that now computes it.
void adopt(KOp &Old, KOp &New) {
  New.Result = std::move(Old.Result);
  New.Result->Def = &New;
}

void WarpLowering::shuffleResult(KBuilder &B, KOp &Op, KValue *Ex,
                                 OpList &Into) {
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  const int64_t W = std::min<int64_t>(32, NT), Off = Op.IntValue;
  KValue *Lin = linear(B);
  KValue *Lane = W < 32 ? Lin : I(IndexOp::Rem, Lin, C(32));
  KValue *J;
  if (Op.Shfl == ShflMode::Down) {
    J = I(IndexOp::Add, Lane, C(Off));
  } else { // lane ^ Off, one set bit of Off at a time
    J = Lane;
    for (int64_t Bit = 1; Bit < 32; Bit *= 2) {
      if (!(Off & Bit))
        continue;
      KValue *Set = I(IndexOp::Rem, I(IndexOp::Div, Lane, C(Bit)), C(2));
      J = I(IndexOp::Sub, I(IndexOp::Add, J, C(Bit)), I(IndexOp::Mul, Set, C(2 * Bit)));
    }
  }
  // 1 when the source lane is inside the warp, else 0 (read its own).
  KValue *In = I(IndexOp::Min, I(IndexOp::Max, I(IndexOp::Sub, C(W), J), C(0)), C(1));
  KValue *Src = I(IndexOp::Add, Lin, I(IndexOp::Mul, In, I(IndexOp::Sub, J, Lane)));
  B.load(Ex, {Src});
  adopt(Op, *Into.back());
}

void WarpLowering::mmaResult(KBuilder &B, KOp &Op, KValue *ExA, KValue *ExB,
                             KValue *Cv, OpList &Into) {
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  SType F32 = SType::of(DType::F32);
  KValue *Tmp = Decl.scratch(TensorType(DType::F32, {Dim::fixed(4)}));
  KValue *Lin = linear(B);
  KValue *Lane = I(IndexOp::Rem, Lin, C(32));
  KValue *Base = I(IndexOp::Sub, Lin, Lane);
  KValue *G = I(IndexOp::Div, Lane, C(4)), *T = I(IndexOp::Rem, Lane, C(4));
  KValue *Zero = C(0);
  B.store(Cv, Tmp, {Zero});
  bool Bf16 = Op.IntValue != 0;
  for (int64_t E = 0; E < 4; ++E) {
    // D element E: row g (+8 for E >= 2), column 2t + (E & 1).
    int64_t Half = E / 2;
    KValue *Col = I(IndexOp::Add, I(IndexOp::Mul, T, C(2)), C(E & 1));
    KValue *Acc = B.load(Tmp, {C(E)});
    for (int64_t Kk = 0; Bf16 && Kk < 16; ++Kk) {
      // A[row][Kk]: lane g * 4 + (Kk % 8) / 2, register (Kk & 1) + 2 Half
      // + 4 (Kk >= 8).
      int64_t TK = (Kk % 8) / 2;
      KValue *ALane = I(IndexOp::Add, Base, I(IndexOp::Add, I(IndexOp::Mul, G, C(4)), C(TK)));
      KValue *Av = B.load(ExA, {ALane, C((Kk & 1) + 2 * Half + 4 * (Kk / 8))});
      // B[Kk][col]: lane col * 4 + (Kk % 8) / 2, register (Kk & 1) + 2 (Kk >= 8).
      KValue *BLane = I(IndexOp::Add, Base, I(IndexOp::Add, I(IndexOp::Mul, Col, C(4)), C(TK)));
      KValue *Bv = B.load(ExB, {BLane, C((Kk & 1) + 2 * (Kk / 8))});
      Acc = B.scalar(OpKind::Add, {Acc, B.scalar(OpKind::Mul, {Av, Bv}, F32)}, F32);
    }
    for (int64_t Kk = 0; !Bf16 && Kk < 8; ++Kk) {
      // A[row][Kk]: lane g * 4 + Kk % 4, register Half + 2 * (Kk >= 4).
      KValue *ALane = I(IndexOp::Add, Base, I(IndexOp::Add, I(IndexOp::Mul, G, C(4)), C(Kk % 4)));
      KValue *Av = B.load(ExA, {ALane, C(Half + 2 * (Kk / 4))});
      // B[Kk][col]: lane col * 4 + Kk % 4, register Kk >= 4.
      KValue *BLane = I(IndexOp::Add, Base, I(IndexOp::Add, I(IndexOp::Mul, Col, C(4)), C(Kk % 4)));
      KValue *Bv = B.load(ExB, {BLane, C(Kk / 4)});
      Acc = B.scalar(OpKind::Add, {Acc, B.scalar(OpKind::Mul, {Av, Bv}, F32)}, F32);
    }
    B.store(Acc, Tmp, {C(E)});
  }
  B.load(Tmp, {Zero}, 4);
  adopt(Op, *Into.back());
}

/// Locals used in more than one part become per-thread scratch of the
/// kernel: get / set become load / store.
void WarpLowering::localsToScratch(std::vector<OpList> &Parts) {
  llvm::DenseMap<const KValue *, unsigned> DefPart;
  llvm::DenseSet<const KValue *> Shared;
  for (unsigned P = 0; P < Parts.size(); ++P)
    for (auto &Op : Parts[P])
      if (Op->kind() == KOpKind::Local)
        DefPart[Op->Result.get()] = P;
  for (unsigned P = 0; P < Parts.size(); ++P)
    walk(Parts[P], [&](KOp &Op) {
      if (Op.kind() != KOpKind::Get && Op.kind() != KOpKind::Set)
        return;
      auto It = DefPart.find(Op.Operands[0]);
      if (It != DefPart.end() && It->second != P)
        Shared.insert(Op.Operands[0]);
    });
  if (Shared.empty())
    return;
  llvm::DenseMap<const KValue *, KValue *> Scratch;
  for (const KValue *L : Shared)
    Scratch[L] = Decl.scratch(TensorType(L->Type.Elem, {Dim::fixed(L->Type.Lanes)}));
  KValue *Zero = Decl.constIndex(0);
  std::function<void(OpList &)> Rewrite = [&](OpList &Ops) {
    OpList Out;
    for (auto &Op : Ops) {
      Rewrite(Op->Body);
      KValue *L = Op->Operands.empty() ? nullptr : Op->Operands[0];
      if (Op->kind() == KOpKind::Local && Shared.count(Op->Result.get()))
        continue;
      if (Op->kind() == KOpKind::Get && Shared.count(L)) {
        auto New = std::make_unique<KOp>(KOpKind::Load);
        New->Operands = {Scratch[L], Zero};
        adopt(*Op, *New);
        Op = std::move(New);
      } else if (Op->kind() == KOpKind::Set && Shared.count(L)) {
        auto New = std::make_unique<KOp>(KOpKind::Store);
        New->Operands = {Op->Operands[1], Scratch[L], Zero};
        Op = std::move(New);
      }
      Out.push_back(std::move(Op));
    }
    Ops = std::move(Out);
  };
  for (OpList &P : Parts)
    Rewrite(P);
}

llvm::Error WarpLowering::split(KOp &Region, OpList &Out) {
  // Parts[p + 1] starts with the warp op Cuts[p] (item 1).
  std::vector<OpList> Parts(1);
  std::vector<std::unique_ptr<KOp>> Cuts;
  for (auto &Op : Region.Body) {
    if (isWarpOp(*Op)) {
      Cuts.push_back(std::move(Op));
      Parts.emplace_back();
    } else {
      Parts.back().push_back(std::move(Op));
    }
  }
  localsToScratch(Parts);

  // Where each escaping value is defined, and which ones later parts use.
  llvm::DenseMap<const KValue *, unsigned> DefPart;
  for (unsigned P = 0; P < Parts.size(); ++P) {
    if (P)
      DefPart[Cuts[P - 1]->Result.get()] = P;
    for (auto &Op : Parts[P])
      if (Op->Result)
        DefPart[Op->Result.get()] = P;
  }
  llvm::DenseMap<const KValue *, KValue *> Spill;
  auto need = [&](KValue *V, unsigned P) {
    auto It = DefPart.find(V);
    if (It == DefPart.end() || It->second == P || V->Type.IsIndex ||
        Spill.count(V))
      return;
    Spill[V] = Decl.scratch(TensorType(V->Type.Elem, {Dim::fixed(V->Type.Lanes)}));
  };
  for (unsigned P = 0; P < Parts.size(); ++P) {
    walk(Parts[P], [&](KOp &Op) {
      for (KValue *V : Op.Operands)
        need(V, P);
    });
    if (P + 1 < Parts.size()) { // exchanged operands: stored at P's end
      KOp &W = *Cuts[P];
      need(W.Operands[0], P);
      if (W.kind() == KOpKind::Mma) {
        need(W.Operands[1], P);
        need(W.Operands[2], P + 1); // the accumulator: the thread's own
      }
    }
  }

  // The exchange arrays of each warp op: [threads] for a shuffle's value,
  // [threads, 4] and [threads, 2] for an mma's a and b.
  std::vector<std::pair<KValue *, KValue *>> Ex;
  for (auto &W : Cuts) {
    if (W->kind() == KOpKind::Shuffle)
      Ex.push_back({Decl.shared(TensorType(W->Result->Type.Elem, {Dim::fixed(NT)})),
                    nullptr});
    else
      Ex.push_back( // bf16: [threads, 8] and [threads, 4]
          {Decl.shared(TensorType(DType::F32, {Dim::fixed(NT),
                                               Dim::fixed(W->IntValue ? 8 : 4)})),
           Decl.shared(TensorType(DType::F32, {Dim::fixed(NT),
                                               Dim::fixed(W->IntValue ? 4 : 2)}))});
  }

  // A recomputed index's original: the ops moved into a region have their
  // operands rewritten, so recomputing from them starts at the originals.
  llvm::DenseMap<const KValue *, KValue *> Origin;
  for (unsigned P = 0; P < Parts.size(); ++P) {
    auto R = std::make_unique<KOp>(KOpKind::Threads);
    KBuilder B(K, R->Body, "wx" + std::to_string(Regions++) + "_");
    KValue *Zero = B.constIndex(0);
    llvm::DenseMap<const KValue *, KValue *> Map;
    llvm::Error Err = llvm::Error::success();
    std::function<KValue *(KValue *)> Carry = [&](KValue *V) -> KValue * {
      if (auto O = Origin.find(V); O != Origin.end())
        V = O->second;
      if (auto It = Map.find(V); It != Map.end())
        return It->second;
      auto D = DefPart.find(V);
      if (D == DefPart.end() || D->second == P)
        return V;
      KValue *N = nullptr;
      if (!V->Type.IsIndex) {
        N = B.load(Spill[V], {Zero}, V->Type.Lanes);
      } else {
        KOp &Def = *V->Def;
        switch (Def.kind()) {
        case KOpKind::ConstIndex:
          N = B.constIndex(Def.IntValue);
          break;
        case KOpKind::Dim:
          N = B.dim(Carry(Def.Operands[0]), unsigned(Def.IntValue));
          break;
        case KOpKind::GpuIndex:
          N = B.gpuIndex(Def.GpuId, unsigned(Def.IntValue));
          break;
        case KOpKind::IndexArith: {
          KValue *X = Carry(Def.Operands[0]), *Y = Carry(Def.Operands[1]);
          N = B.index(Def.IOp, X, Y);
          break;
        }
        default:
          if (!Err)
            Err = fail("cannot carry index %" + V->Name + " across a warp op");
          N = V;
        }
      }
      Map[V] = N;
      Origin[N] = V;
      return N;
    };
    auto spillAfter = [&](KValue *V) {
      if (auto It = Spill.find(V); It != Spill.end())
        B.store(V, It->second, {Zero});
    };
    if (P) { // the previous warp op's result
      KOp &W = *Cuts[P - 1];
      if (W.kind() == KOpKind::Shuffle)
        shuffleResult(B, W, Ex[P - 1].first, R->Body);
      else
        mmaResult(B, W, Ex[P - 1].first, Ex[P - 1].second,
                  Carry(W.Operands[2]), R->Body);
      spillAfter(R->Body.back()->Result.get());
    }
    // Values from earlier parts, at any depth, then the part's own ops.
    walk(Parts[P], [&](KOp &Op) {
      for (KValue *&V : Op.Operands)
        V = Carry(V);
    });
    for (auto &Op : Parts[P]) {
      KValue *Res = Op->Result.get();
      R->Body.push_back(std::move(Op));
      if (Res)
        spillAfter(Res);
    }
    if (P + 1 < Parts.size()) { // the next warp op's exchanged operands
      KOp &W = *Cuts[P];
      KValue *Lin = linear(B);
      if (W.kind() == KOpKind::Shuffle) {
        B.store(Carry(W.Operands[0]), Ex[P].first, {Lin});
      } else {
        B.store(Carry(W.Operands[0]), Ex[P].first, {Lin, Zero});
        B.store(Carry(W.Operands[1]), Ex[P].second, {Lin, Zero});
      }
    }
    if (Err)
      return Err;
    Out.push_back(std::move(R));
  }
  return llvm::Error::success();
}
} // namespace

llvm::Error dlc::lowerWarpOps(Kernel &K) {
  const KOp *L = K.launch();
  if (!L)
    return llvm::Error::success();
  return WarpLowering(K, *L).run();
}
