// The GPU's tiled 2-D matmul, built directly as GPU-mapped kernel IR, with
// an optional fused elementwise epilogue (bias, activation).
//
// 1. The grid tiles the result in 64 x 64 blocks (x: columns, y: rows);
//    a block has 16 x 16 threads and thread (tx, ty) owns the 4 x 4 results
//    at rows ty + 16i and columns tx + 16j (so neighbouring threads touch
//    neighbouring columns: coalesced loads and stores, distinct banks).
// 2. Its 16 accumulators are a per-thread scratch tile [4, 4] (registers
//    once the loops over it are unrolled), kept across the k steps.
// 3. Per k step of 16 the block stages A[64 x 16] (transposed, so the inner
//    product reads a row of it) and B[16 x 64] in shared memory, 4 elements
//    per thread, zero outside the matrices; a barrier; every thread runs
//    its 4 x 4 x 16 multiply-adds from shared memory; a barrier.
// 4. The results inside the matrix go through the epilogue and are stored.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/FusionPlan.h"
#include "ir/Location.h"

using namespace dlc;
using namespace dlc::kir;

void kir::buildGpuMatMul(KBuilder &B, const Operation &Op, KValue *A,
                         KValue *Bm, KValue *Out, const Epilogue &Epi,
                         const PatchOperand *Patches) {
  // Tile sizes: local to this builder (a unity build shares file scope).
  static constexpr int64_t TileM = 64, TileN = 64, TileK = 16, Threads = 16,
                           PerThread = 4; // TileM = Threads * PerThread
  DType E = Op.result()->Type.elem();
  SType ST = SType::of(E);
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  KValue *Zero = C(0), *One = C(1);
  // A batched b ([batch, k, n], sharing a) runs one grid layer per matrix.
  const unsigned NAxis = Op.operand(1)->Type.rank() - 1;
  KValue *M = B.dim(A, 0), *K = B.dim(A, 1),
         *N = Patches ? Patches->columns() : B.dim(Bm, NAxis);
  KValue *TM = C(TileM), *TN = C(TileN), *TK = C(TileK), *NT = C(Threads);
  auto ceilDiv = [&](KValue *X, KValue *D) {
    return I(IndexOp::Div, I(IndexOp::Add, X, I(IndexOp::Sub, D, One)), D);
  };
  KValue *Batch = NAxis != 2 ? One : Patches ? Patches->batch() : B.dim(Bm, 0);
  B.launch(ceilDiv(N, TN), ceilDiv(M, TM), Batch,
           Threads, Threads);
  KValue *As = B.shared(TensorType(E, {Dim::fixed(TileK), Dim::fixed(TileM)}));
  KValue *Bs = B.shared(TensorType(E, {Dim::fixed(TileK), Dim::fixed(TileN)}));
  KValue *Acc = B.scratch(
      TensorType(E, {Dim::fixed(PerThread), Dim::fixed(PerThread)}));
  KValue *Row0 = I(IndexOp::Mul, B.gpuIndex(GpuIdKind::BlockId, 1), TM);
  KValue *Col0 = I(IndexOp::Mul, B.gpuIndex(GpuIdKind::BlockId, 0), TN);
  auto at = [&](std::initializer_list<KValue *> RC) {
    std::vector<KValue *> Idx;
    if (NAxis == 2)
      Idx.push_back(B.gpuIndex(GpuIdKind::BlockId, 2));
    Idx.insert(Idx.end(), RC.begin(), RC.end());
    return Idx;
  };
  // A loop over [0, n) marked unroll(n).
  auto fixedLoop = [&](int64_t Nn) {
    KValue *IV = B.beginFor(Zero, C(Nn));
    return IV;
  };
  auto endFixed = [&](int64_t Nn) { B.endFor()->Marks.Unroll = unsigned(Nn); };
  // A guard: the body runs once when V < Bound.
  auto beginGuard = [&](KValue *V, KValue *Bound) {
    B.beginFor(V, I(IndexOp::Min, I(IndexOp::Add, V, One), Bound));
  };

  B.beginThreads(); // zero the accumulators
  {
    KValue *Z = B.constFloat(E, 0);
    KValue *Ii = fixedLoop(PerThread);
    KValue *Jj = fixedLoop(PerThread);
    B.store(Z, Acc, {Ii, Jj});
    endFixed(PerThread);
    endFixed(PerThread);
  }
  B.endThreads();

  KValue *K0 = B.beginFor(Zero, K, TileK);
  B.beginThreads(); // stage the tiles
  {
    KValue *Tx = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *Ty = B.gpuIndex(GpuIdKind::ThreadId, 1);
    KValue *Tid = I(IndexOp::Add, I(IndexOp::Mul, Ty, NT), Tx);
    KValue *Z = B.constFloat(E, 0);
    KValue *L = fixedLoop(TileM * TileK / (Threads * Threads));
    KValue *El = I(IndexOp::Add, Tid, I(IndexOp::Mul, L, C(Threads * Threads)));
    // A: element (r, c) of the 64 x 16 tile, c fastest.
    KValue *Ar = I(IndexOp::Div, El, TK), *Ac = I(IndexOp::Rem, El, TK);
    B.store(Z, As, {Ac, Ar});
    KValue *GR = I(IndexOp::Add, Row0, Ar), *GK = I(IndexOp::Add, K0, Ac);
    beginGuard(GR, M);
    beginGuard(GK, K);
    B.store(B.load(A, {GR, GK}), As, {Ac, Ar});
    B.endFor();
    B.endFor();
    // B: element (r, c) of the 16 x 64 tile, c fastest.
    KValue *Br = I(IndexOp::Div, El, TN), *Bc = I(IndexOp::Rem, El, TN);
    B.store(Z, Bs, {Br, Bc});
    KValue *BK = I(IndexOp::Add, K0, Br), *BC = I(IndexOp::Add, Col0, Bc);
    beginGuard(BK, K);
    beginGuard(BC, N);
    B.store(Patches ? Patches->element(B, B.gpuIndex(GpuIdKind::BlockId, 2), BK, BC)
                    : B.load(Bm, at({BK, BC})),
            Bs, {Br, Bc});
    B.endFor();
    B.endFor();
    endFixed(TileM * TileK / (Threads * Threads));
  }
  B.endThreads();
  B.barrier();
  B.beginThreads(); // multiply-add from shared memory
  {
    KValue *Tx = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *Ty = B.gpuIndex(GpuIdKind::ThreadId, 1);
    KValue *Kk = fixedLoop(TileK);
    KValue *Ii = fixedLoop(PerThread);
    KValue *Av = B.load(As, {Kk, I(IndexOp::Add, Ty, I(IndexOp::Mul, Ii, NT))});
    KValue *Jj = fixedLoop(PerThread);
    KValue *Bv = B.load(Bs, {Kk, I(IndexOp::Add, Tx, I(IndexOp::Mul, Jj, NT))});
    KValue *Old = B.load(Acc, {Ii, Jj});
    B.store(B.scalar(OpKind::Add, {Old, B.scalar(OpKind::Mul, {Av, Bv}, ST)}, ST),
            Acc, {Ii, Jj});
    endFixed(PerThread);
    endFixed(PerThread);
    endFixed(TileK);
  }
  B.endThreads();
  B.barrier();
  B.endFor(); // k0

  B.beginThreads(); // epilogue and store
  {
    KValue *Tx = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *Ty = B.gpuIndex(GpuIdKind::ThreadId, 1);
    KValue *Ii = fixedLoop(PerThread);
    KValue *R = I(IndexOp::Add, Row0, I(IndexOp::Add, Ty, I(IndexOp::Mul, Ii, NT)));
    KValue *Jj = fixedLoop(PerThread);
    KValue *Cc = I(IndexOp::Add, Col0, I(IndexOp::Add, Tx, I(IndexOp::Mul, Jj, NT)));
    beginGuard(R, M);
    beginGuard(Cc, N);
    KValue *V = B.load(Acc, {Ii, Jj});
    if (Epi)
      V = Epi(B, V, at({R, Cc}), 1);
    B.store(V, Out, at({R, Cc}));
    B.endFor();
    B.endFor();
    endFixed(PerThread);
    endFixed(PerThread);
  }
  B.endThreads();
}

llvm::Expected<std::unique_ptr<Kernel>>
dlc::lowerGpuMatMul(const Operation &Op, llvm::StringRef Name, bool Tf32,
                    bool Bf16) {
  const TensorType &AT = Op.operand(0)->Type, &BT = Op.operand(1)->Type,
                   &RT = Op.result()->Type;
  if (!isBlockedMatMul(Op))
    return makeError(Op.L, "the GPU tiled matmul takes f32 or f64 operands: "
                           "a 2-D a and a 2-D or 3-D b");
  auto K = newKernel(Name);
  KBuilder B(*K);
  KValue *A = B.arg("a", dynamicLike(AT)), *Bm = B.arg("b", dynamicLike(BT)),
         *Out = B.arg("out", dynamicLike(RT));
  if ((Tf32 || Bf16) && RT.elem() == DType::F32)
    buildGpuMatMulTf32(B, Op, A, Bm, Out, nullptr, nullptr, Bf16);
  else
    buildGpuMatMul(B, Op, A, Bm, Out, nullptr);
  return finishKernel(std::move(K));
}
