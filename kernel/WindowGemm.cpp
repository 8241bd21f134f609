// The CPU's lowering of a convolution written as a matmul of its weights
// by an im2col prologue (ir/FusionPlan step 6, windowIm2Col): a GEMM whose
// b rows are shifted windows of a padded copy of the image.
//
// Pad each channel of the image (Wp = pl + W + pr wide) and split it into
// its stride phases: phase (rh, rw) holds the padded elements
// (oh * sh + rh, q * sw + rw), in rows Wq = ceil(Wp / sw) wide (one phase,
// the padded image itself, for unit strides). Number the output positions
// on that grid: position p = oh * Wq + ow, of which the columns ow < OW
// are outputs and the others are computed and thrown away. Patch row
// k = (c, kh, kw) at position p is then element
// p + (dy / sh) * Wq + dx / sw of phase (dy mod sh, dx mod sw) of channel
// c, where (dy, dx) = (kh * dh, kw * dw): every row of b is a contiguous
// run of the buffer, shifted per tap. So the register blocks (MR rows of
// weights x NV vectors of positions) load their b vectors straight from
// there, without packing and without patches, and keep the whole k
// reduction in registers. A finished block goes through a small tile from
// which its output positions are copied out, row segment by row segment,
// through the group's epilogue. The price is Wq - OW wasted columns per
// row (2 of 58 in a padded 56-wide layer, 3 of 115 in ResNet's first).
//
// One unit of the parallel loop is one band of BR output rows of one
// image (and one group of weight rows). It fills the phase rows its band
// reads into a thread-private scratch buffer, so units share nothing; the
// bands are as few as keep that buffer within windowScratchBudget. Images
// of fewer than 4 bands are split by weight rows too, so that batch 1
// runs on a few threads.
#include "kernel/LoweringUtil.h"

#include "ir/FusionPlan.h"

#include <algorithm>

using namespace dlc;
using namespace dlc::kir;

bool kir::buildWindowGemm(KBuilder &B, const Operation &Op,
                          const Operation &Im2Col, KValue *A, KValue *X,
                          KValue *Out, unsigned VectorBytes,
                          const Epilogue &Epi) {
  std::optional<Im2ColGeometry> Geo = windowIm2Col(Im2Col);
  const Dim &MDim = Op.operand(0)->Type.dim(0);
  if (!Geo || !MDim.isStatic())
    return false;
  const Im2ColGeometry &G = *Geo;
  DType E = Op.result()->Type.elem();
  const int64_t L = VectorBytes / dtypeSize(E);
  const int64_t M = MDim.size(), C = G.C, H = G.In[0], W = G.In[1];
  const int64_t OH = G.Out[0], OW = G.Out[1];
  const int64_t KH = G.Kernel[0], KW = G.Kernel[1];
  const int64_t SH = G.Stride[0], SW = G.Stride[1];
  const int64_t Wp = W + G.PadBegin[1] + G.PadEnd[1];
  // A phase's rows are Wq wide; Reach: the phase rows below an output row
  // that its taps reach.
  const int64_t Wq = (Wp + SW - 1) / SW, Reach = G.Dilation[0] * (KH - 1) / SH;
  auto scratchElems = [&](int64_t BR) { return windowScratchElems(G, BR, L); };
  // Bands: the fewest whose scratch stays within windowScratchBudget (L2).
  const int64_t Budget = windowScratchBudget / int64_t(dtypeSize(E));
  int64_t Bands = 1;
  while (Bands < OH && scratchElems((OH + Bands - 1) / Bands) > Budget)
    ++Bands;
  int64_t BR = (OH + Bands - 1) / Bands;
  if (scratchElems(BR) > Budget)
    return false;
  Bands = (OH + BR - 1) / BR; // no empty band
  // Units (below): an odd number of bands from 3 to 7 gets one more, so
  // that two threads share an image's bands evenly.
  if (Bands % 2 && Bands > 1 && Bands < 8) {
    BR = (OH + Bands) / (Bands + 1);
    Bands = (OH + BR - 1) / BR;
  }
  // Register blocks MR x NV vectors (blockRows: 6 x 4, 8 x 3 and 12 x 2
  // with AVX-512, 6 x 2 and 12 x 1 with 16 registers): the one that
  // computes the fewest positions past the end of a full band's
  // Nb = (BR - 1) * Wq + OW, the widest on a tie. A 12 x 1 block loads
  // more than it multiplies (12 broadcasts and a vector per 12 FMAs, where
  // 6 x 2 loads 8), so with 16 registers it must save a tenth of the
  // positions.
  const int64_t NbFull = (BR - 1) * Wq + OW;
  const int64_t MaxNV = maxBlockVectors(VectorBytes);
  int64_t NV = MaxNV;
  for (int64_t V = MaxNV - 1; V >= std::max<int64_t>(1, MaxNV - 2); --V) {
    auto over = [&](int64_t NVc) { return (NbFull + NVc * L - 1) / (NVc * L) * NVc * L; };
    if (MaxNV == 2 ? 10 * over(V) < 9 * over(NV) : over(V) < over(NV))
      NV = V;
  }
  const int64_t MR = blockRows(unsigned(NV), VectorBytes), NR = NV * L;
  // At least 4 units per batch where the weights allow, so that batch 1
  // keeps a few threads busy: fewer than 4 bands are split further by
  // groups of weight rows. Each group pads the band again, which cost 7%
  // of a 32-to-64-channel 3x3 layer at batch 64, so larger batches (whose
  // images give the units; the batch is known at run time) take one group.
  int64_t RowGroups = 1;
  while (Bands * RowGroups < 4 && M >= 2 * RowGroups * MR)
    RowGroups *= 2;
  const int64_t RG = ((M + RowGroups - 1) / RowGroups + MR - 1) / MR * MR;
  // Strides in the scratch: of a phase, of a channel (all its phases).
  // Only the phases some tap reads are stored, in slots of PS elements.
  const llvm::SmallVector<int64_t, 4> Phases = windowPhases(G);
  auto slot = [&](int64_t Phase) {
    return int64_t(llvm::find(Phases, Phase) - Phases.begin());
  };
  const int64_t PS = (BR + Reach) * Wq, CS = int64_t(Phases.size()) * PS;
  const int64_t MF = M / MR * MR, MRem = M % MR;

  auto I = [&](IndexOp IOp, KValue *Lhs, KValue *Rhs) { return B.index(IOp, Lhs, Rhs); };
  auto K = [&](int64_t V) { return B.constIndex(V); };
  KValue *Zero = K(0), *One = K(1);
  KValue *ZeroS = B.constFloat(E, 0.0), *ZeroV = B.constFloat(E, 0.0, unsigned(L));
  SType VT = SType::vec(E, unsigned(L));

  // Units: (image, band, row group) triples. Whole is 1 when the batch
  // has at least 4 bands, else 0; the row groups are RowGroups (RG rows
  // each) or, when Whole, one group of every row.
  KValue *NImg = B.dim(X, 0);
  KValue *Whole = I(IndexOp::Min,
                    I(IndexOp::Max, I(IndexOp::Sub, I(IndexOp::Mul, NImg, K(Bands)), K(3)),
                      Zero),
                    One);
  KValue *Groups = I(IndexOp::Sub, K(RowGroups), I(IndexOp::Mul, Whole, K(RowGroups - 1)));
  KValue *GroupRows = I(IndexOp::Add, K(RG), I(IndexOp::Mul, Whole, K(M - RG)));
  KValue *PerImage = I(IndexOp::Mul, Groups, K(Bands));
  KValue *Unit = B.beginFor(Zero, I(IndexOp::Mul, NImg, PerImage));
  KValue *Bi = I(IndexOp::Div, Unit, PerImage);
  KValue *BandGroup = I(IndexOp::Sub, Unit, I(IndexOp::Mul, Bi, PerImage));
  KValue *Band = I(IndexOp::Div, BandGroup, Groups);
  KValue *RLo = I(IndexOp::Mul, I(IndexOp::Sub, BandGroup, I(IndexOp::Mul, Band, Groups)),
                  GroupRows);
  KValue *RHi = I(IndexOp::Min, I(IndexOp::Add, RLo, GroupRows), K(M));
  KValue *OhLo = I(IndexOp::Mul, Band, K(BR));
  KValue *OhHi = I(IndexOp::Min, I(IndexOp::Add, OhLo, K(BR)), K(OH));
  KValue *S = B.scratch(TensorType(E, {Dim::fixed(scratchElems(BR))}));
  KValue *Tile = B.scratch(TensorType(E, {Dim::fixed(MR), Dim::fixed(NR)}));

  // Padding: phase (rh, rw) of channel c holds the padded image's
  // elements (hp, wp) = ((OhLo + r) * SH + rh, q * SW + rw) at
  // S[c * CS + slot * PS + r * Wq + q]: x[Bi, c, hp - pt, wp - pl] inside
  // the image, else zero; the tail of the scratch is zeroed too.
  auto zeros = [&](KValue *From, KValue *To) {
    KValue *O = B.beginFor(From, To);
    B.store(ZeroS, S, {O});
    B.endFor()->Marks.MaskedTail = true;
  };
  zeros(K(C * CS), K(scratchElems(BR)));
  auto floorDiv = [](int64_t A, int64_t D) { return A >= 0 ? A / D : -((-A + D - 1) / D); };
  for (int64_t Phase : Phases) {
    const int64_t Rh = Phase / SW, Rw = Phase % SW;
    // The phase columns whose wp - pl lies inside the image.
    int64_t Pl = G.PadBegin[1];
    int64_t QLo = std::clamp<int64_t>(-floorDiv(Rw - Pl, SW), 0, Wq);
    int64_t QHi = std::clamp<int64_t>(floorDiv(W - 1 + Pl - Rw, SW) + 1, QLo, Wq);
    KValue *Ch = B.beginFor(Zero, K(C));
    KValue *R = B.beginFor(Zero, K(BR + Reach));
    KValue *Ih = I(IndexOp::Sub,
                   I(IndexOp::Add, I(IndexOp::Mul, I(IndexOp::Add, OhLo, R), K(SH)), K(Rh)),
                   K(G.PadBegin[0]));
    // 1 when 0 <= ih < H, else 0.
    auto unit = [&](KValue *V) { return I(IndexOp::Min, I(IndexOp::Max, V, Zero), One); };
    KValue *RowOk = I(IndexOp::Mul, unit(I(IndexOp::Add, Ih, One)),
                      unit(I(IndexOp::Sub, K(H), Ih)));
    KValue *Base = I(IndexOp::Add, I(IndexOp::Mul, Ch, K(CS)),
                     I(IndexOp::Add, K(slot(Phase) * PS), I(IndexOp::Mul, R, K(Wq))));
    KValue *CopyHi = I(IndexOp::Add, K(QLo), I(IndexOp::Mul, RowOk, K(QHi - QLo)));
    zeros(Base, I(IndexOp::Add, Base, K(QLo)));
    KValue *Q = B.beginFor(K(QLo), CopyHi);
    KValue *Iw = I(IndexOp::Add, I(IndexOp::Mul, Q, K(SW)), K(Rw - Pl));
    B.store(B.load(X, {Bi, Ch, Ih, Iw}), S, {I(IndexOp::Add, Base, Q)});
    {
      // A strided copy stays scalar past the first layers' few channels:
      // LLVM's interleaved vector loads of it took ResNet-18's 64-channel
      // stride-2 layer from 0.8-1.3 to 1.4-2.1 s of compile time on AVX2,
      // with no run-time difference in its model (the 3-channel first
      // layers, whose copy is a larger share of their work, keep them).
      kir::LoopMarks &Copy = B.endFor()->Marks;
      Copy.MaskedTail = SW == 1;
      if (SW > 1 && C > 4)
        Copy.Vectorize = 1;
    }
    zeros(I(IndexOp::Add, Base, CopyHi), I(IndexOp::Add, Base, K(Wq)));
    B.endFor(); // rows
    B.endFor(); // channels
  }

  // The band's positions, relative to its first row: [0, Nb), the
  // trailing columns of its last row left out.
  KValue *Nb = I(IndexOp::Add,
                 I(IndexOp::Mul, I(IndexOp::Sub, I(IndexOp::Sub, OhHi, OhLo), One), K(Wq)),
                 K(OW));
  auto final = [&](KValue *V, std::vector<KValue *> Idx) {
    return Epi ? Epi(B, V, Idx, 1) : V;
  };

  // The MRb x NV block of the result at weight row I0 and band position J0.
  auto block = [&](int64_t MRb, KValue *I0, KValue *J0) {
    std::vector<std::vector<KValue *>> Acc(MRb, std::vector<KValue *>(NV));
    for (auto &Row : Acc)
      for (KValue *&V : Row) {
        V = B.local(E, unsigned(L));
        B.set(V, ZeroV);
      }
    std::vector<KValue *> Rows;
    for (int64_t R = 0; R < MRb; ++R)
      Rows.push_back(I(IndexOp::Add, I0, K(R)));
    KValue *Ch = B.beginFor(Zero, K(C));
    KValue *CBase = I(IndexOp::Add, I(IndexOp::Mul, Ch, K(CS)), J0);
    KValue *KBase = I(IndexOp::Mul, Ch, K(KH * KW));
    for (int64_t Kh = 0; Kh < KH; ++Kh)
      for (int64_t Kw = 0; Kw < KW; ++Kw) {
        int64_t Dy = Kh * G.Dilation[0], Dx = Kw * G.Dilation[1];
        KValue *Off = I(IndexOp::Add, CBase,
                        K(slot(Dy % SH * SW + Dx % SW) * PS + Dy / SH * Wq + Dx / SW));
        std::vector<KValue *> BV;
        for (int64_t V = 0; V < NV; ++V)
          BV.push_back(B.load(S, {I(IndexOp::Add, Off, K(V * L))}, unsigned(L)));
        KValue *Kk = I(IndexOp::Add, KBase, K(Kh * KW + Kw));
        for (int64_t R = 0; R < MRb; ++R) {
          KValue *AV = B.broadcast(B.load(A, {Rows[R], Kk}), unsigned(L));
          for (int64_t V = 0; V < NV; ++V)
            B.set(Acc[R][V],
                  B.scalar(OpKind::Add,
                           {B.get(Acc[R][V]), B.scalar(OpKind::Mul, {AV, BV[V]}, VT)}, VT));
        }
      }
    B.endFor(); // channels
    for (int64_t R = 0; R < MRb; ++R)
      for (int64_t V = 0; V < NV; ++V)
        B.store(B.get(Acc[R][V]), Tile, {K(R), K(V * L)});
    // Copy the block's output positions out: for each weight row, the
    // segments of the band's output rows that [J0, JEnd) covers.
    KValue *JEnd = I(IndexOp::Min, I(IndexOp::Add, J0, K(NR)), Nb);
    KValue *R = B.beginFor(Zero, K(MRb));
    KValue *Row = I(IndexOp::Add, I0, R);
    KValue *Oh = B.beginFor(I(IndexOp::Div, J0, K(Wq)),
                            I(IndexOp::Div, I(IndexOp::Add, JEnd, K(Wq - 1)), K(Wq)));
    KValue *RowLo = I(IndexOp::Mul, Oh, K(Wq));
    KValue *SegLo = I(IndexOp::Max, I(IndexOp::Sub, J0, RowLo), Zero);
    KValue *SegHi = I(IndexOp::Min, I(IndexOp::Sub, JEnd, RowLo), K(OW));
    KValue *TileCol = I(IndexOp::Sub, RowLo, J0); // tile column of ow = 0
    KValue *OutCol = I(IndexOp::Mul, I(IndexOp::Add, OhLo, Oh), K(OW));
    KValue *Ow = B.beginFor(SegLo, SegHi);
    KValue *J = I(IndexOp::Add, OutCol, Ow);
    KValue *Val = B.load(Tile, {R, I(IndexOp::Add, TileCol, Ow)});
    B.store(final(Val, {Bi, Row, J}), Out, {Bi, Row, J});
    B.endFor()->Marks.MaskedTail = true; // positions
    B.endFor();                          // output rows
    B.endFor();                          // weight rows
  };

  // The group's full blocks of weight rows, then the rows past the last
  // full block (in the last group only); for each, every block of
  // positions, so that its rows of weights stay in cache (the image's
  // scratch is in L2 either way).
  KValue *I0 = B.beginFor(RLo, I(IndexOp::Min, RHi, K(MF)), MR);
  KValue *J0 = B.beginFor(Zero, Nb, NR);
  block(MR, I0, J0);
  B.endFor();
  B.endFor();
  if (MRem) {
    KValue *I1 = B.beginFor(I(IndexOp::Max, RLo, K(MF)), RHi, MRem);
    KValue *J1 = B.beginFor(Zero, Nb, NR);
    block(MRem, I1, J1);
    B.endFor();
    B.endFor();
  }
  B.endFor()->Marks.Parallel = true; // units
  return true;
}
