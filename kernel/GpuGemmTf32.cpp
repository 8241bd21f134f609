// The GPU's 2-D f32 matmul on tensor cores with tf32 inputs (--precision
// tf32), built directly as GPU-mapped kernel IR, with the same optional
// fused epilogue and operand sources as the fp32 tiled kernel (GpuGemm.cpp).
//
// 1. The grid tiles the result in 64 x 64 blocks (x: columns, y: rows); a
//    block has 128 threads, 4 warps in a 2 x 2 grid, and warp (wm, wn) owns
//    the 32 x 32 results at rows 32 wm.., columns 32 wn..: 2 x 4 tiles of
//    m16n8, one mma_m16n8k8_tf32 each per 8 of k.
// 2. Its accumulators are per-thread scratch [2, 4, 4]: tile (i, j)'s
//    C/D fragment, element e at row g + 8 (e / 2), column 2 t + e % 2 of
//    the tile (lane l: g = l / 4, t = l % 4; kernel/KernelIR.h).
// 3. Per k step of 16 the block stages A[64 x 16] and B[16 x 64] in shared
//    memory, 8 elements per thread, rounded to tf32 (round_tf32: nearest,
//    ties away, as cvt.rna.tf32.f32) and zero outside the matrices; a
//    barrier; for each 8 of the step every warp loads its A fragments
//    (A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4] of each m16 tile) and B
//    fragments (B[t][g], B[t+4][g] of each n8 tile) and runs its 8 mma, all
//    straight-line code in one threads region (warp ops are never inside a
//    loop there); a barrier.
// 4. The results inside the matrix go through the epilogue and are stored.
// Products use tf32 inputs (10-bit mantissas) and f32 sums: results differ
// from fp32's by about 1e-3 relative, which is why it is opt-in.
// With Bf16 (--precision bf16) the operands are rounded to bf16 (7-bit
// mantissas, nearest even) and each warp runs one mma_m16n8k16_bf16 per
// tile per 16 of k, with fragments of 8 (a) and 4 (b) values: about 1e-2
// relative.
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include "ir/FusionPlan.h"

using namespace dlc;
using namespace dlc::kir;

void kir::buildGpuMatMulTf32(KBuilder &B, const Operation &Op, KValue *A,
                             KValue *Bm, KValue *Out, const Epilogue &Epi,
                             const PatchOperand *Patches, bool Bf16) {
  // Tile sizes: local to this builder (a unity build shares file scope).
  static constexpr int64_t TileM = 64, TileN = 64, TileK = 16, Threads = 128,
                           WarpM = 32, WarpN = 32, MTiles = WarpM / 16,
                           NTiles = WarpN / 8;
  const DType E = DType::F32;
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto I = [&](IndexOp O, KValue *X, KValue *Y) { return B.index(O, X, Y); };
  KValue *Zero = C(0), *One = C(1);
  const unsigned NAxis = Op.operand(1)->Type.rank() - 1;
  KValue *M = B.dim(A, 0), *K = B.dim(A, 1),
         *N = Patches ? Patches->columns() : B.dim(Bm, NAxis);
  auto ceilDiv = [&](KValue *X, int64_t D) {
    return I(IndexOp::Div, I(IndexOp::Add, X, C(D - 1)), C(D));
  };
  KValue *Batch = NAxis != 2 ? One : Patches ? Patches->batch() : B.dim(Bm, 0);
  B.launch(ceilDiv(N, TileN), ceilDiv(M, TileM), Batch, Threads);
  KValue *As = B.shared(TensorType(E, {Dim::fixed(TileM), Dim::fixed(TileK)}));
  KValue *Bs = B.shared(TensorType(E, {Dim::fixed(TileK), Dim::fixed(TileN)}));
  KValue *Acc = B.scratch(TensorType(
      E, {Dim::fixed(MTiles), Dim::fixed(NTiles), Dim::fixed(4)}));
  // Fragments: tf32 a 4, b 2 per 8 of k; bf16 a 8, b 4 per 16 of k.
  const int64_t AFrag = Bf16 ? 8 : 4, BFrag = Bf16 ? 4 : 2;
  KValue *AF = B.scratch(TensorType(E, {Dim::fixed(MTiles), Dim::fixed(AFrag)}));
  KValue *BF = B.scratch(TensorType(E, {Dim::fixed(NTiles), Dim::fixed(BFrag)}));
  auto round = [&](KValue *V) { return Bf16 ? B.roundBf16(V) : B.roundTf32(V); };
  KValue *Row0 = I(IndexOp::Mul, B.gpuIndex(GpuIdKind::BlockId, 1), C(TileM));
  KValue *Col0 = I(IndexOp::Mul, B.gpuIndex(GpuIdKind::BlockId, 0), C(TileN));
  auto at = [&](std::initializer_list<KValue *> RC) {
    std::vector<KValue *> Idx;
    if (NAxis == 2)
      Idx.push_back(B.gpuIndex(GpuIdKind::BlockId, 2));
    Idx.insert(Idx.end(), RC.begin(), RC.end());
    return Idx;
  };
  auto fixedLoop = [&](int64_t Nn) { return B.beginFor(Zero, C(Nn)); };
  auto endFixed = [&](int64_t Nn) { B.endFor()->Marks.Unroll = unsigned(Nn); };
  auto beginGuard = [&](KValue *V, KValue *Bound) {
    B.beginFor(V, I(IndexOp::Min, I(IndexOp::Add, V, One), Bound));
  };
  // The thread's warp position and lane coordinates (item 1, 2).
  struct Lane {
    KValue *RowBase, *ColBase, *G, *T;
  };
  auto lane = [&]() {
    KValue *Tid = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *W = I(IndexOp::Div, Tid, C(32)), *L = I(IndexOp::Rem, Tid, C(32));
    Lane R;
    R.RowBase = I(IndexOp::Mul, I(IndexOp::Div, W, C(2)), C(WarpM));
    R.ColBase = I(IndexOp::Mul, I(IndexOp::Rem, W, C(2)), C(WarpN));
    R.G = I(IndexOp::Div, L, C(4));
    R.T = I(IndexOp::Rem, L, C(4));
    return R;
  };

  B.beginThreads(); // zero the accumulators
  {
    KValue *Z = B.constFloat(E, 0);
    KValue *Ii = fixedLoop(MTiles), *Jj = fixedLoop(NTiles), *Ee = fixedLoop(4);
    B.store(Z, Acc, {Ii, Jj, Ee});
    endFixed(4);
    endFixed(NTiles);
    endFixed(MTiles);
  }
  B.endThreads();

  KValue *K0 = B.beginFor(Zero, K, TileK);
  B.beginThreads(); // stage the tiles, rounded to tf32
  {
    KValue *Tid = B.gpuIndex(GpuIdKind::ThreadId, 0);
    KValue *Z = B.constFloat(E, 0);
    KValue *L = fixedLoop(TileM * TileK / Threads);
    KValue *El = I(IndexOp::Add, Tid, I(IndexOp::Mul, L, C(Threads)));
    // A: element (r, c) of the 64 x 16 tile, c fastest.
    KValue *Ar = I(IndexOp::Div, El, C(TileK)), *Ac = I(IndexOp::Rem, El, C(TileK));
    B.store(Z, As, {Ar, Ac});
    KValue *GR = I(IndexOp::Add, Row0, Ar), *GK = I(IndexOp::Add, K0, Ac);
    beginGuard(GR, M);
    beginGuard(GK, K);
    B.store(round(B.load(A, {GR, GK})), As, {Ar, Ac});
    B.endFor();
    B.endFor();
    // B: element (r, c) of the 16 x 64 tile, c fastest.
    KValue *Br = I(IndexOp::Div, El, C(TileN)), *Bc = I(IndexOp::Rem, El, C(TileN));
    B.store(Z, Bs, {Br, Bc});
    KValue *BK = I(IndexOp::Add, K0, Br), *BC = I(IndexOp::Add, Col0, Bc);
    beginGuard(BK, K);
    beginGuard(BC, N);
    KValue *V = Patches ? Patches->element(B, B.gpuIndex(GpuIdKind::BlockId, 2), BK, BC)
                        : B.load(Bm, at({BK, BC}));
    B.store(round(V), Bs, {Br, Bc});
    B.endFor();
    B.endFor();
    endFixed(TileM * TileK / Threads);
  }
  B.endThreads();
  B.barrier();
  B.beginThreads(); // the warps' mma, straight-line
  {
    Lane Ln = lane();
    for (int64_t Kk = 0; Bf16 && Kk < TileK; Kk += 16) {
      // a: (row g or g+8, column 2t + (i & 1) (+8 for i >= 4)); b: (k 2t +
      // (i & 1) (+8 for i >= 2), column g).
      KValue *T2 = I(IndexOp::Add, I(IndexOp::Mul, Ln.T, C(2)), C(Kk));
      for (int64_t Mi = 0; Mi < MTiles; ++Mi) {
        KValue *R0 = I(IndexOp::Add, Ln.RowBase, I(IndexOp::Add, Ln.G, C(Mi * 16)));
        for (int64_t F = 0; F < 8; ++F) {
          KValue *Row = (F / 2) % 2 ? I(IndexOp::Add, R0, C(8)) : R0;
          KValue *Col = I(IndexOp::Add, T2, C((F & 1) + 8 * (F / 4)));
          B.store(B.load(As, {Row, Col}), AF, {C(Mi), C(F)});
        }
      }
      for (int64_t Nj = 0; Nj < NTiles; ++Nj) {
        KValue *Cn = I(IndexOp::Add, Ln.ColBase, I(IndexOp::Add, Ln.G, C(Nj * 8)));
        for (int64_t F = 0; F < 4; ++F)
          B.store(B.load(Bs, {I(IndexOp::Add, T2, C((F & 1) + 8 * (F / 2))), Cn}),
                  BF, {C(Nj), C(F)});
      }
      for (int64_t Mi = 0; Mi < MTiles; ++Mi) {
        KValue *Av = B.load(AF, {C(Mi), Zero}, 8);
        for (int64_t Nj = 0; Nj < NTiles; ++Nj) {
          KValue *Bv = B.load(BF, {C(Nj), Zero}, 4);
          KValue *Cv = B.load(Acc, {C(Mi), C(Nj), Zero}, 4);
          B.store(B.mmaBf16(Av, Bv, Cv), Acc, {C(Mi), C(Nj), Zero});
        }
      }
    }
    for (int64_t Kk = 0; !Bf16 && Kk < TileK; Kk += 8) {
      KValue *KA = I(IndexOp::Add, Ln.T, C(Kk)), *KB = I(IndexOp::Add, Ln.T, C(Kk + 4));
      for (int64_t Mi = 0; Mi < MTiles; ++Mi) {
        KValue *R0 = I(IndexOp::Add, Ln.RowBase, I(IndexOp::Add, Ln.G, C(Mi * 16)));
        KValue *R8 = I(IndexOp::Add, R0, C(8));
        KValue *Row[4] = {R0, R8, R0, R8}, *Col[4] = {KA, KA, KB, KB};
        for (int64_t F = 0; F < 4; ++F)
          B.store(B.load(As, {Row[F], Col[F]}), AF, {C(Mi), C(F)});
      }
      for (int64_t Nj = 0; Nj < NTiles; ++Nj) {
        KValue *Cn = I(IndexOp::Add, Ln.ColBase, I(IndexOp::Add, Ln.G, C(Nj * 8)));
        B.store(B.load(Bs, {KA, Cn}), BF, {C(Nj), Zero});
        B.store(B.load(Bs, {KB, Cn}), BF, {C(Nj), One});
      }
      for (int64_t Mi = 0; Mi < MTiles; ++Mi) {
        KValue *Av = B.load(AF, {C(Mi), Zero}, 4);
        for (int64_t Nj = 0; Nj < NTiles; ++Nj) {
          KValue *Bv = B.load(BF, {C(Nj), Zero}, 2);
          KValue *Cv = B.load(Acc, {C(Mi), C(Nj), Zero}, 4);
          B.store(B.mma(Av, Bv, Cv), Acc, {C(Mi), C(Nj), Zero});
        }
      }
    }
  }
  B.endThreads();
  B.barrier();
  B.endFor(); // k0

  B.beginThreads(); // epilogue and store
  {
    Lane Ln = lane();
    KValue *Ii = fixedLoop(MTiles), *Jj = fixedLoop(NTiles), *Ee = fixedLoop(4);
    // Row g + 8 (e / 2), column 2 t + e % 2 of tile (i, j).
    KValue *R = I(IndexOp::Add,
                  I(IndexOp::Add, Row0, Ln.RowBase),
                  I(IndexOp::Add, I(IndexOp::Mul, Ii, C(16)),
                    I(IndexOp::Add, Ln.G, I(IndexOp::Mul, I(IndexOp::Div, Ee, C(2)), C(8)))));
    KValue *Cc = I(IndexOp::Add,
                   I(IndexOp::Add, Col0, Ln.ColBase),
                   I(IndexOp::Add, I(IndexOp::Mul, Jj, C(8)),
                     I(IndexOp::Add, I(IndexOp::Mul, Ln.T, C(2)), I(IndexOp::Rem, Ee, C(2)))));
    beginGuard(R, M);
    beginGuard(Cc, N);
    KValue *V = B.load(Acc, {Ii, Jj, Ee});
    if (Epi)
      V = Epi(B, V, at({R, Cc}), 1);
    B.store(V, Out, at({R, Cc}));
    B.endFor();
    B.endFor();
    endFixed(4);
    endFixed(NTiles);
    endFixed(MTiles);
  }
  B.endThreads();
}
