// matmul (numpy semantics: batched, broadcast batch dims, 1-D operands
// promoted) to kernel IR.
//
// 1. Loops over the result's batch dims and rows i; batch indices of each
//    operand use min(b, dim - 1), which covers broadcasting of size-1 dims.
// 2. The row of the result is zeroed, then accumulated in i-k-j order:
//    out[i, j] += a[i, k] * b[k, j]. The innermost loop walks contiguous
//    rows of b and of the result, so it vectorizes without reassociating
//    any sum, and the result matches a sequential dot product per element.
// This is the general schedule. lowerMatMulBlocked (below) handles the 2-D
// f32/f64 case with a register-blocked micro-kernel.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include <algorithm>
#include <array>

#include "ir/FusionPlan.h"
#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerMatMul(const Operation &Op, llvm::StringRef Name) {
  if (Op.kind() != OpKind::MatMul)
    return makeError(Op.L, "'" + Op.mnemonic() + "' is not matmul");
  const TensorType &AT = Op.operand(0)->Type, &BT = Op.operand(1)->Type,
                   &RT = Op.result()->Type;
  DType E = RT.elem();
  bool VecA = AT.rank() == 1, VecB = BT.rank() == 1;
  unsigned BatchA = VecA ? 0 : AT.rank() - 2, BatchB = VecB ? 0 : BT.rank() - 2;
  unsigned Batch = RT.rank() - (VecA ? 0 : 1) - (VecB ? 0 : 1);

  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *A = B.arg("a", dynamicLike(AT)), *Bm = B.arg("b", dynamicLike(BT)),
         *Out = B.arg("out", dynamicLike(RT));
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  KValue *Kx = B.dim(A, AT.rank() - 1);
  KValue *M = VecA ? nullptr : B.dim(A, AT.rank() - 2);
  KValue *N = VecB ? nullptr : B.dim(Bm, BT.rank() - 1);
  std::vector<KValue *> LastA, LastB;
  for (unsigned D = 0; D < BatchA; ++D)
    LastA.push_back(B.index(IndexOp::Sub, B.dim(A, D), One));
  for (unsigned D = 0; D < BatchB; ++D)
    LastB.push_back(B.index(IndexOp::Sub, B.dim(Bm, D), One));

  std::vector<KValue *> BatchIV;
  for (unsigned D = 0; D < Batch; ++D)
    BatchIV.push_back(B.beginFor(Zero, B.dim(Out, D)));
  auto batchIndex = [&](unsigned Rank, std::vector<KValue *> &Last) {
    std::vector<KValue *> Idx;
    for (unsigned D = 0; D < Rank; ++D)
      Idx.push_back(B.index(IndexOp::Min, BatchIV[D + Batch - Rank], Last[D]));
    return Idx;
  };
  std::vector<KValue *> ABatch = batchIndex(BatchA, LastA),
                        BBatch = batchIndex(BatchB, LastB);
  KValue *I = VecA ? nullptr : B.beginFor(Zero, M);
  auto outIndex = [&](KValue *J) {
    std::vector<KValue *> Idx(BatchIV);
    if (I)
      Idx.push_back(I);
    if (J)
      Idx.push_back(J);
    return Idx;
  };
  KValue *ZeroF = B.constFloat(E, 0.0);
  // Zero the result row (a single element when b is a vector).
  if (N) {
    KValue *J = B.beginFor(Zero, N);
    B.store(ZeroF, Out, outIndex(J));
    B.endFor();
  } else {
    B.store(ZeroF, Out, outIndex(nullptr));
  }
  KValue *Kv = B.beginFor(Zero, Kx);
  std::vector<KValue *> AIdx(ABatch);
  if (I)
    AIdx.push_back(I);
  AIdx.push_back(Kv);
  KValue *AV = B.load(A, AIdx);
  KValue *J = N ? B.beginFor(Zero, N) : nullptr;
  std::vector<KValue *> BIdx(BBatch);
  BIdx.push_back(Kv);
  if (J)
    BIdx.push_back(J);
  KValue *Prod = B.scalar(OpKind::Mul, {AV, B.load(Bm, BIdx)}, SType::of(E));
  std::vector<KValue *> OIdx = outIndex(J);
  KValue *Sum = B.scalar(OpKind::Add, {B.load(Out, OIdx), Prod}, SType::of(E));
  B.store(Sum, Out, OIdx);
  if (J)
    B.endFor();
  B.endFor(); // k
  if (I)
    B.endFor();
  for (unsigned D = 0; D < Batch; ++D)
    B.endFor();
  return finishKernel(std::move(K));
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerMatMulBlocked(const Operation &Op, llvm::StringRef Name,
                        unsigned VectorBytes) {
  const TensorType &AT = Op.operand(0)->Type, &BT = Op.operand(1)->Type,
                   &RT = Op.result()->Type;
  if (!isBlockedMatMul(Op))
    return makeError(Op.L, "the blocked matmul takes f32 or f64 operands: a "
                           "2-D a and a 2-D or 3-D b");
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *A = B.arg("a", dynamicLike(AT)), *Bm = B.arg("b", dynamicLike(BT)),
         *Out = B.arg("out", dynamicLike(RT));
  buildBlockedMatMul(B, Op, A, Bm, Out, VectorBytes, nullptr);
  return finishKernel(std::move(K));
}

void kir::buildBlockedMatMul(KBuilder &B, const Operation &Op, KValue *A,
                             KValue *Bm, KValue *Out, unsigned VectorBytes,
                             const Epilogue &Epi, const PatchOperand *Patches,
                             bool EpilogueInLoop) {
  const TensorType &BT = Op.operand(1)->Type;
  DType E = Op.result()->Type.elem();
  // b (and the result) may have one batch dim that a does not: a
  // convolution's weights [M, K] times its images [batch, K, positions].
  const unsigned NAxis = BT.rank() - 1;
  const Dim &NDim = BT.dim(NAxis);
  KValue *Bi = nullptr; // the batch index, once the top-level loop sets it
  auto at = [&](std::initializer_list<KValue *> RC) {
    std::vector<KValue *> Idx;
    if (Bi)
      Idx.push_back(Bi);
    Idx.insert(Idx.end(), RC.begin(), RC.end());
    return Idx;
  };
  // Lanes per vector register; for a static b narrower than one register
  // (the weight gradient of a 1-channel convolution: 9 wide), the widest
  // power of two of at least 4 lanes that fits, so most columns still run
  // in vector blocks.
  unsigned L = VectorBytes / dtypeSize(E);
  if (NDim.isStatic())
    while (L > 4 && NDim.size() < int64_t(L))
      L /= 2;
  // Register block MR x NR (NV vectors wide): the widest block the vector
  // registers hold (blockRows), or for a b narrower than that (static, as
  // in the gradients of narrow convolutions) fewer vectors and more rows,
  // so full blocks exist.
  const unsigned MaxNV = maxBlockVectors(VectorBytes);
  unsigned NV = MaxNV;
  if (NDim.isStatic())
    NV = unsigned(std::clamp<int64_t>(NDim.size() / L, 1, MaxNV));
  const unsigned MR = blockRows(NV, VectorBytes);
  const unsigned NR = NV * L;
  SType VT = SType::vec(E, L), ST = SType::of(E);
  // The value stored at the end: the accumulator, or the epilogue of it.
  auto final = [&](KValue *Acc, std::vector<KValue *> Idx, unsigned Lanes) {
    return Epi ? Epi(B, Acc, Idx, Lanes) : Acc;
  };

  KValue *Zero = B.constIndex(0);
  KValue *M = B.dim(A, 0), *Kx = B.dim(A, 1),
         *N = Patches ? Patches->columns() : B.dim(Bm, NAxis);
  KValue *MF = B.index(IndexOp::Mul, B.index(IndexOp::Div, M, B.constIndex(MR)),
                       B.constIndex(MR));
  KValue *NF = B.index(IndexOp::Mul, B.index(IndexOp::Div, N, B.constIndex(NR)),
                       B.constIndex(NR));
  KValue *ZeroV = B.constFloat(E, 0.0, L), *ZeroS = B.constFloat(E, 0.0);

  // Rows [Lo, Hi) x columns [CLo, CHi) with the plain i-k-j schedule.
  auto plain = [&](KValue *Lo, KValue *Hi, KValue *CLo, KValue *CHi) {
    KValue *I = B.beginFor(Lo, Hi);
    KValue *J = B.beginFor(CLo, CHi);
    B.store(ZeroS, Out, at({I, J}));
    B.endFor();
    KValue *Kv = B.beginFor(Zero, Kx);
    KValue *AV = B.load(A, {I, Kv});
    KValue *J2 = B.beginFor(CLo, CHi);
    KValue *Prod = B.scalar(OpKind::Mul, {AV, B.load(Bm, at({Kv, J2}))}, ST);
    B.store(B.scalar(OpKind::Add, {B.load(Out, at({I, J2})), Prod}, ST), Out,
            at({I, J2}));
    B.endFor();
    B.endFor();
    if (Epi) { // the row is complete: apply the epilogue in place
      KValue *J3 = B.beginFor(CLo, CHi);
      B.store(final(B.load(Out, at({I, J3})), at({I, J3}), 1), Out, at({I, J3}));
      B.endFor();
    }
    B.endFor();
  };

  // The result is cut into column panels of width NR and, when b is narrow
  // (few panels, as in the convolutions and dense layers of a CNN), into
  // groups of rows too. One top-level loop runs in parallel: over row groups
  // for narrow b, else over panels. Both are independent. Inside a panel,
  // for rows [RLo, RHi) of which [RLo, RFull) form full blocks, and for each
  // KC-long slice of k:
  //  - the KC x NR slice of b is packed into a contiguous, thread-private
  //    scratch buffer (32 KiB for f32 on AVX-512), which stays in L1 while
  //    the rows of a stream past it; unpacked, its rows lie N apart, and for
  //    N a multiple of 1024 they all fall into the same few cache sets;
  //  - full MR x NR blocks keep their block of the result in MR * NV
  //    vector registers (24 of the 32 AVX-512 registers) across the slice;
  //  - the rows past the last full block (in the last row group) run as
  //    one block of m mod MR rows (static m) or 1-row blocks on the same
  //    packed slice.
  // With a static N, the columns of the last, partial panel that fill whole
  // vectors run the same way, NVR vectors wide, and the last N mod L
  // columns as one partial vector (valid lanes). Loops whose bounds are empty for a
  // given panel stand in for branches.
  const Dim &MDim = Op.operand(0)->Type.dim(0);
  const unsigned MRem = MDim.isStatic() ? unsigned(MDim.size() % MR) : 0;
  bool RowParallel = NDim.isStatic() && NDim.size() < 4 * int64_t(NR);
  // Row groups: every unit packs its panel's slices of b again, so groups
  // are as tall as the parallelism allows (a 256-row GEMM packed b six
  // times with 48-row groups and ran at 64% of peak on 2 threads, 73% with
  // two groups): at most 192 rows, at least 8 units (when groups of 4
  // blocks allow it), and groups of equal height. With a run-time m (a
  // dense layer's batch) the same rule runs at run time: fixed 48-row
  // groups gave a 64-row batch groups of 48 and 16, and one thread three
  // quarters of the work.
  const int64_t KC = VectorBytes >= 64 ? 128 : 256;
  auto ceilDiv = [&](KValue *X, KValue *D) {
    return B.index(IndexOp::Div, B.index(IndexOp::Add, X, B.index(IndexOp::Sub, D, B.constIndex(1))),
                   D);
  };
  KValue *RowGroup = nullptr;
  if (RowParallel) {
    int64_t NPanels = (NDim.size() + NR - 1) / NR;
    KValue *Blocks = ceilDiv(M, B.constIndex(MR));
    KValue *Groups = B.index(
        IndexOp::Max,
        B.index(IndexOp::Max, ceilDiv(M, B.constIndex(192)),
                B.index(IndexOp::Min, B.constIndex((8 + NPanels - 1) / NPanels),
                        ceilDiv(Blocks, B.constIndex(4)))),
        B.constIndex(1));
    // At least one block: an empty m still divides by it.
    RowGroup = B.index(IndexOp::Max,
                       B.index(IndexOp::Mul, B.constIndex(MR), ceilDiv(Blocks, Groups)),
                       B.constIndex(MR));
  }
  const unsigned NVR = NDim.isStatic() ? unsigned((NDim.size() % NR) / L) : 0;
  KValue *NRc = B.constIndex(NR);
  KValue *NVec = B.index(IndexOp::Add, NF, B.constIndex(NVR * L));
  KValue *Panels = B.index(IndexOp::Div,
                           B.index(IndexOp::Add, N, B.constIndex(NR - 1)), NRc);

  // The MRb x NVb-vector block of the result at (I0, J0) over the k slice
  // [KLo, KHi), whose rows of b are rows 0.. of Packed.
  auto block = [&](unsigned MRb, unsigned NVb, KValue *I0, KValue *J0,
                   KValue *Packed, KValue *KLo, KValue *KHi, bool First,
                   bool Last) {
    std::vector<KValue *> Rows, Cols, PCols;
    for (unsigned R = 0; R < MRb; ++R)
      Rows.push_back(B.index(IndexOp::Add, I0, B.constIndex(R)));
    for (unsigned V = 0; V < NVb; ++V) {
      PCols.push_back(B.constIndex(V * L));
      Cols.push_back(B.index(IndexOp::Add, J0, PCols.back()));
    }
    std::vector<std::vector<KValue *>> Acc(MRb, std::vector<KValue *>(NVb));
    for (unsigned R = 0; R < MRb; ++R)
      for (unsigned V = 0; V < NVb; ++V) {
        Acc[R][V] = B.local(E, L);
        B.set(Acc[R][V], First ? ZeroV : B.load(Out, at({Rows[R], Cols[V]}), L));
      }
    KValue *Kv = B.beginFor(KLo, KHi);
    KValue *PRow = B.index(IndexOp::Sub, Kv, KLo);
    std::vector<KValue *> BV;
    for (unsigned V = 0; V < NVb; ++V)
      BV.push_back(B.load(Packed, {PRow, PCols[V]}, L));
    for (unsigned R = 0; R < MRb; ++R) {
      KValue *AV = B.broadcast(B.load(A, {Rows[R], Kv}), L);
      for (unsigned V = 0; V < NVb; ++V)
        B.set(Acc[R][V],
              B.scalar(OpKind::Add,
                       {B.get(Acc[R][V]), B.scalar(OpKind::Mul, {AV, BV[V]}, VT)},
                       VT));
    }
    B.endFor(); // k
    bool Looped = Last && Epi && EpilogueInLoop;
    for (unsigned R = 0; R < MRb; ++R)
      for (unsigned V = 0; V < NVb; ++V) {
        KValue *Val = B.get(Acc[R][V]);
        if (Last && !Looped)
          Val = final(Val, at({Rows[R], Cols[V]}), L);
        B.store(Val, Out, at({Rows[R], Cols[V]}));
      }
    if (!Looped)
      return;
    // The block is still in L1: one loop (not unrolled) passes it through
    // the epilogue in place.
    KValue *R = B.beginFor(Zero, B.constIndex(MRb));
    KValue *Row = B.index(IndexOp::Add, I0, R);
    KValue *V = B.beginFor(Zero, B.constIndex(NVb));
    KValue *Col = B.index(IndexOp::Add, J0, B.index(IndexOp::Mul, V, B.constIndex(L)));
    B.store(final(B.load(Out, at({Row, Col}), L), at({Row, Col}), L), Out,
            at({Row, Col}));
    B.endFor()->Marks.Unroll = 1;
    B.endFor()->Marks.Unroll = 1;
  };

  // The strip of NVb vectors from column J0 for rows [RLo, RHi), of which
  // [RLo, RFull) are in full blocks. Every k slice but the last stores
  // partial sums; the last stores the final values (through the epilogue).
  // With a static k (a layer's weights), the first slice starts its sums
  // from zero and the slices are laid out at compile time; otherwise the
  // strip is zeroed first and every slice adds to it.
  const Dim &KDim = Op.operand(0)->Type.dim(1);
  // ForJ(F) emits F(J0) for the strip's first column: once, or for each
  // panel of a group (panelGroups below), inside every k slice.
  using PanelBody = std::function<void(KValue *)>;
  using PanelLoop = std::function<void(const PanelBody &)>;
  auto strip = [&](unsigned NVb, const PanelLoop &ForJ, KValue *Packed,
                   KValue *RLo, KValue *RFull, KValue *RHi) {
    KValue *REdge = B.index(IndexOp::Max, RLo, MF);
    auto slice = [&](KValue *KLo, KValue *KHi, bool First, bool Last) {
      ForJ([&](KValue *J0) {
      if (Patches) {
        KValue *JEnd = B.index(IndexOp::Min,
                               B.index(IndexOp::Add, J0, B.constIndex(NVb * L)), N);
        Patches->pack(B, Bi ? Bi : Zero, KLo, KHi, J0, JEnd, Packed);
      } else {
        KValue *Kp = B.beginFor(KLo, KHi);
        KValue *Row = B.index(IndexOp::Sub, Kp, KLo);
        for (unsigned V = 0; V < NVb; ++V) {
          KValue *Col = B.constIndex(V * L);
          B.store(B.load(Bm, at({Kp, B.index(IndexOp::Add, J0, Col)}), L), Packed,
                  {Row, Col});
        }
        B.endFor(); // packing
      }
      KValue *I0 = B.beginFor(RLo, RFull, MR);
      block(MR, NVb, I0, J0, Packed, KLo, KHi, First, Last);
      B.endFor();
      // The rows past the last full block: with a static m (a layer's
      // weights), one block of exactly those rows; else 1-row blocks.
      KValue *I1 = B.beginFor(REdge, RHi, MRem > 1 ? MRem : 1);
      block(MRem > 1 ? MRem : 1, NVb, I1, J0, Packed, KLo, KHi, First, Last);
      B.endFor();
      });
    };
    auto zeroStrip = [&] {
      ForJ([&](KValue *J0) {
        KValue *I = B.beginFor(RLo, RHi);
        for (unsigned V = 0; V < NVb; ++V)
          B.store(ZeroV, Out, at({I, B.index(IndexOp::Add, J0, B.constIndex(V * L))}));
        B.endFor();
      });
    };
    if (KDim.isStatic() && KDim.size() > 0) {
      // One or two slices each start from zero; with more, the strip is
      // zeroed first so that every slice but the last is one loop of the
      // same code (a third copy of the blocks cost compile time, not
      // speed).
      int64_t KS = KDim.size(), Slices = (KS + KC - 1) / KC;
      if (Slices <= 2) {
        slice(Zero, B.constIndex(std::min(KS, KC)), true, Slices == 1);
      } else {
        zeroStrip();
        KValue *KK = B.beginFor(Zero, B.constIndex((Slices - 1) * KC), KC);
        slice(KK, B.index(IndexOp::Add, KK, B.constIndex(KC)), false, false);
        B.endFor(); // kk
      }
      if (Slices > 1)
        slice(B.constIndex((Slices - 1) * KC), Kx, false, true);
      return;
    }
    zeroStrip();
    if (!Epi) {
      KValue *KK = B.beginFor(Zero, Kx, KC);
      slice(KK, B.index(IndexOp::Min, B.index(IndexOp::Add, KK, B.constIndex(KC)), Kx),
            false, false);
      B.endFor(); // kk
      return;
    }
    // Every slice but the last, then the last one [KLast, Kx), which may
    // be empty (k = 0) but still stores.
    KValue *Slices = B.index(IndexOp::Div, B.index(IndexOp::Add, Kx, B.constIndex(KC - 1)),
                             B.constIndex(KC));
    KValue *KLast = B.index(
        IndexOp::Max, Zero,
        B.index(IndexOp::Mul, B.index(IndexOp::Sub, Slices, B.constIndex(1)),
                B.constIndex(KC)));
    KValue *KK = B.beginFor(Zero, KLast, KC);
    slice(KK, B.index(IndexOp::Add, KK, B.constIndex(KC)), false, false);
    B.endFor(); // kk
    slice(KLast, Kx, false, true);
  };

  // Fewer rows than one block (a dense layer at batch 1: a row vector
  // times a matrix, bound by reading b once): packing b would only add a
  // copy, so row I reads NVb vectors of b's rows directly, with two sets of
  // sums (even and odd k) so that the adds' latency overlaps.
  auto direct = [&](unsigned NVb, KValue *I, KValue *J0) {
    std::vector<KValue *> Cols;
    std::vector<std::array<KValue *, 2>> Acc(NVb);
    for (unsigned V = 0; V < NVb; ++V) {
      Cols.push_back(B.index(IndexOp::Add, J0, B.constIndex(V * L)));
      for (KValue *&S : Acc[V]) {
        S = B.local(E, L);
        B.set(S, ZeroV);
      }
    }
    auto step = [&](KValue *Kv, unsigned Set) {
      KValue *AV = B.broadcast(B.load(A, {I, Kv}), L);
      for (unsigned V = 0; V < NVb; ++V)
        B.set(Acc[V][Set],
              B.scalar(OpKind::Add,
                       {B.get(Acc[V][Set]),
                        B.scalar(OpKind::Mul, {AV, B.load(Bm, at({Kv, Cols[V]}), L)}, VT)},
                       VT));
    };
    KValue *K2 = B.index(IndexOp::Mul, B.index(IndexOp::Div, Kx, B.constIndex(2)),
                         B.constIndex(2));
    KValue *Kv = B.beginFor(Zero, K2, 2);
    step(Kv, 0);
    step(B.index(IndexOp::Add, Kv, B.constIndex(1)), 1);
    B.endFor();
    Kv = B.beginFor(K2, Kx);
    step(Kv, 0);
    B.endFor();
    for (unsigned V = 0; V < NVb; ++V) {
      KValue *Sum = B.scalar(OpKind::Add, {B.get(Acc[V][0]), B.get(Acc[V][1])}, VT);
      B.store(final(Sum, at({I, Cols[V]}), L), Out, at({I, Cols[V]}));
    }
  };
  // A strip through packed slices of b when there is at least one full
  // block of rows, else the direct rows (loops of one or no iteration).
  KValue *HasBlock = B.index(IndexOp::Min, MF, B.constIndex(1));
  auto stripOrDirectIn = [&](unsigned NVb, const PanelLoop &ForJ, KValue *Packed,
                             KValue *RLo, KValue *RFull, KValue *RHi) {
    if (Patches) // at least 16 rows: every block is full
      return strip(NVb, ForJ, Packed, RLo, RFull, RHi);
    B.beginFor(Zero, HasBlock);
    strip(NVb, ForJ, Packed, RLo, RFull, RHi);
    B.endFor();
    B.beginFor(HasBlock, B.constIndex(1));
    ForJ([&](KValue *J0) {
      KValue *I = B.beginFor(RLo, RHi);
      direct(NVb, I, J0);
      B.endFor();
    });
    B.endFor();
  };
  auto stripOrDirect = [&](unsigned NVb, KValue *J0, KValue *Packed,
                           KValue *RLo, KValue *RFull, KValue *RHi) {
    stripOrDirectIn(NVb, [&](const PanelBody &F) { F(J0); }, Packed, RLo, RFull, RHi);
  };

  auto newPacked = [&] { return B.scratch(TensorType(E, {Dim::fixed(KC), Dim::fixed(NR)})); };
  auto panel = [&](KValue *P, KValue *RLo, KValue *RFull, KValue *RHi,
                   KValue *Packed) {
    KValue *PLo = B.index(IndexOp::Mul, P, NRc);
    KValue *PHi = B.index(IndexOp::Min, B.index(IndexOp::Add, PLo, NRc), N);
    KValue *FullHi = B.index(IndexOp::Min, B.index(IndexOp::Add, PLo, NRc), NF);
    // Full-width part of this panel: one iteration, or none in the last one.
    KValue *J0 = B.beginFor(PLo, FullHi, NR);
    stripOrDirect(NV, J0, Packed, RLo, RFull, RHi);
    B.endFor();
    if (NVR) { // the vector columns of the last panel: one iteration there
      KValue *J1 = B.beginFor(B.index(IndexOp::Max, PLo, NF),
                              B.index(IndexOp::Min, PHi, NVec), NVR * L);
      stripOrDirect(NVR, J1, Packed, RLo, RFull, RHi);
      B.endFor();
    }
    if (!NDim.isStatic()) { // every column past the last full panel
      plain(RLo, RHi, B.index(IndexOp::Max, PLo, NVec), PHi);
      return;
    }
    // The last N mod L columns, for all rows: one iteration in the last
    // panel, none in the others, as a strip of one partial vector: every
    // vector load and store of it (packing, sums, epilogue) touches only
    // the first NS lanes (masked on AVX-512), and the rest read as zero.
    if (unsigned NS = unsigned(NDim.size() % L)) {
      KValue *JLo = B.index(IndexOp::Max, PLo, NVec);
      KValue *J2 = B.beginFor(JLo, PHi, L);
      B.setValidLanes(NS);
      stripOrDirect(1, J2, Packed, RLo, RFull, RHi);
      B.setValidLanes(0);
      B.endFor();
    }
  };
  // The top-level parallel loop runs over Units (row groups or panels) of
  // every batch entry; it sets Bi, and its unit U, for the loops inside.
  auto units = [&](KValue *Units) -> KValue * {
    if (BT.rank() == 2)
      return B.beginFor(Zero, Units);
    KValue *Batch = Patches ? Patches->batch() : B.dim(Bm, 0);
    KValue *T = B.beginFor(Zero, B.index(IndexOp::Mul, Batch, Units));
    Bi = B.index(IndexOp::Div, T, Units);
    return B.index(IndexOp::Sub, T, B.index(IndexOp::Mul, Bi, Units));
  };
  if (RowParallel) {
    // Units are (row group, panel) pairs, row group major: a thread's
    // contiguous share of them keeps its rows of a, and a result of few
    // rows (a dense layer at batch 1) still splits, by panels.
    KValue *RG = RowGroup;
    KValue *Groups = ceilDiv(M, RG);
    KValue *U = units(B.index(IndexOp::Mul, Groups, Panels));
    KValue *G = B.index(IndexOp::Div, U, Panels);
    KValue *P = B.index(IndexOp::Sub, U, B.index(IndexOp::Mul, G, Panels));
    KValue *RLo = B.index(IndexOp::Mul, G, RG);
    KValue *RHi = B.index(IndexOp::Min, B.index(IndexOp::Add, RLo, RG), M);
    KValue *RFull = B.index(IndexOp::Min, B.index(IndexOp::Add, RLo, RG), MF);
    panel(P, RLo, RFull, RHi, newPacked());
    B.endFor()->Marks.Parallel = true; // (row group, panel) pairs
  } else if (Patches) {
    KValue *P = units(Panels);
    panel(P, Zero, MF, M, newPacked());
    B.endFor()->Marks.Parallel = true; // panels
  } else {
    // Panel groups. Every panel reads all of a once per k slice; when a is
    // larger than half an L2 (ResNet-18's last layers as positions-first
    // GEMMs: 49 x 4608, 900 KB), a panel at a time streamed it from L3 once
    // per 16 columns (39-53% of peak against 64-71% for a 49 x 1152 a on
    // Zen 3). A unit then takes a group of panels and runs the k slices
    // outside them, so each slice of a serves the whole group from L2. A
    // group is at most an eighth of the panels (units for the threads) and
    // its block of the result stays within 128 KB.
    const int64_t Bytes = dtypeSize(E);
    KValue *One = B.constIndex(1);
    KValue *Big = B.index(IndexOp::Min,
                          B.index(IndexOp::Div, B.index(IndexOp::Mul, M, Kx),
                                  B.constIndex((256 << 10) / Bytes + 1)),
                          One);
    KValue *CRows = B.index(IndexOp::Max, B.index(IndexOp::Mul, M, NRc), One);
    KValue *Cand = B.index(
        IndexOp::Max, One,
        B.index(IndexOp::Min, ceilDiv(Panels, B.constIndex(8)),
                B.index(IndexOp::Div, B.constIndex((128 << 10) / Bytes), CRows)));
    KValue *G = B.index(IndexOp::Add, One,
                        B.index(IndexOp::Mul, Big, B.index(IndexOp::Sub, Cand, One)));
    KValue *U = units(ceilDiv(Panels, G));
    KValue *GLo = B.index(IndexOp::Mul, U, G);
    KValue *GHi = B.index(IndexOp::Min, B.index(IndexOp::Add, GLo, G), Panels);
    KValue *FullPanels = B.index(IndexOp::Div, NF, NRc);
    KValue *Packed = newPacked();
    // The group's full panels, k slices outside...
    stripOrDirectIn(
        NV,
        [&](const PanelBody &F) {
          KValue *P = B.beginFor(GLo, B.index(IndexOp::Min, GHi, FullPanels));
          F(B.index(IndexOp::Mul, P, NRc));
          B.endFor();
        },
        Packed, Zero, MF, M);
    // ... then its partial last panel, if it has it (whose full-width part
    // is empty).
    KValue *P = B.beginFor(B.index(IndexOp::Max, GLo, FullPanels), GHi);
    panel(P, Zero, MF, M, Packed);
    B.endFor();
    B.endFor()->Marks.Parallel = true; // panel groups
  }
}
