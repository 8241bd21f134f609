// Depthwise 2-D convolution (each output channel reads one input channel:
// weights [M, 1, KH, KW], as in MobileNet's group = channels layers) with the
// sums held in registers.
//
// The direct schedule (LowerConvPool.cpp) walks the window innermost with a
// clamped, masked load per tap, which no vectorizer can use. Here each result
// row is cut by where its window stays inside the image along the width:
//
//   parallel for nm in [0, N*M):              n = nm / M, m = nm % M
//     c = m / (M / G)
//     for oh:
//       kh in [KhLo, KhHi): the taps whose row oh*sh + kh*dh - ph is inside
//       [0, A) and [V, OW): scalar, one sum per position over the taps
//         (kh, kw) whose input is inside;
//       [A, V), stride 1 only: vectors of L positions whose every tap kw is
//         inside, so each tap is one contiguous load, a broadcast weight
//         and a multiply-add into the vector sum;
//       the sum (from the bias) goes through the epilogue and is stored once.
//
// The tap ranges come from integer bounds: the positions o with
// 0 <= o*s + k*d - p < size are [ceil((p - k*d) / s), floor((size - 1 + p -
// k*d) / s) + 1), clamped to [0, extent).
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

#include <optional>

using namespace dlc;
using namespace dlc::kir;

namespace {
int64_t attrAt(const Operation &Op, llvm::StringRef Name, unsigned I,
               int64_t Default) {
  llvm::ArrayRef<int64_t> V = Op.getInts(Name);
  return V.empty() ? Default : V[I];
}

} // namespace

/// [Lo, Hi): the result positions o in [0, Extent) whose input coordinate
/// o * Stride + K * Dil - Pad lies in [0, Size).
std::pair<KValue *, KValue *> kir::tapRange(KBuilder &B, KValue *K, int64_t Stride,
                                       int64_t Dil, int64_t Pad, KValue *Size,
                                       KValue *Extent) {
  KValue *Zero = B.constIndex(0), *S = B.constIndex(Stride);
  KValue *KD = B.index(IndexOp::Mul, K, B.constIndex(Dil));
  // Lo = ceil(max(Pad - K*Dil, 0) / Stride): non-negative, so division
  // rounding toward zero is fine.
  KValue *A = B.index(IndexOp::Max, B.index(IndexOp::Sub, B.constIndex(Pad), KD), Zero);
  KValue *Lo = B.index(IndexOp::Div, B.index(IndexOp::Add, A, B.constIndex(Stride - 1)), S);
  // Hi = floor((Size - 1 + Pad - K*Dil) / Stride) + 1 = floor((Size - 1 +
  // Pad - K*Dil + Stride) / Stride); a negative numerator means no position.
  KValue *Num = B.index(IndexOp::Sub, B.index(IndexOp::Add, Size, B.constIndex(Pad + Stride - 1)), KD);
  KValue *Hi = B.index(IndexOp::Div, B.index(IndexOp::Max, Num, Zero), S);
  return {Lo, B.index(IndexOp::Min, Hi, Extent)};
}

/// Input coordinate o * Stride + K * Dil - Pad.
KValue *kir::inputCoord(KBuilder &B, KValue *O, KValue *K, int64_t Stride,
                   int64_t Dil, int64_t Pad) {
  KValue *C = B.index(IndexOp::Add, B.index(IndexOp::Mul, O, B.constIndex(Stride)),
                      B.index(IndexOp::Mul, K, B.constIndex(Dil)));
  return B.index(IndexOp::Sub, C, B.constIndex(Pad));
}

bool kir::isDepthwiseConv(const Operation &Op, DType OutElem) {
  if (Op.kind() != OpKind::Conv || Op.result()->Type.elem() != OutElem)
    return false;
  const TensorType &WT = Op.operand(1)->Type;
  return WT.rank() == 4 && WT.dim(1).isStatic() && WT.dim(1).size() == 1 &&
         isFloat(OutElem);
}

namespace {
/// The plane schedule's sizes: static planes, sh x sw phase planes of
/// Hq x Wq floats (the padded input deinterleaved by stride).
struct Planes {
  int64_t H, W, KH, KW, OH, OW, Hq, Wq, XsLen;
};

/// The sizes, when every dim is static and the phase planes fit in a
/// thread's stack budget.
std::optional<Planes> planesFor(const Operation &Op, unsigned L) {
  const TensorType &XT = Op.operand(0)->Type, &WT = Op.operand(1)->Type,
                   &RT = Op.result()->Type;
  for (const TensorType *T : {&XT, &WT, &RT})
    if (!T->dim(2).isStatic() || !T->dim(3).isStatic())
      return std::nullopt;
  Planes P;
  P.H = XT.dim(2).size(), P.W = XT.dim(3).size();
  P.KH = WT.dim(2).size(), P.KW = WT.dim(3).size();
  P.OH = RT.dim(2).size(), P.OW = RT.dim(3).size();
  int64_t SH = attrAt(Op, "strides", 0, 1), SW = attrAt(Op, "strides", 1, 1);
  int64_t Hp = attrAt(Op, "pads", 0, 0) + P.H + attrAt(Op, "pads", 2, 0);
  int64_t Wp = attrAt(Op, "pads", 1, 0) + P.W + attrAt(Op, "pads", 3, 0);
  P.Hq = (Hp + SH - 1) / SH, P.Wq = (Wp + SW - 1) / SW;
  P.XsLen = SH * SW * P.Hq * P.Wq;
  const int64_t Budget = 64 << 10; // elements: 256 KiB of f32
  if (P.OH < 1 || P.OW < 1 || P.XsLen > Budget)
    return std::nullopt;
  return P;
}
} // namespace

/// The plane schedule: per (image, channel), the padded input is copied
/// into a thread-private buffer, deinterleaved into sh x sw phase planes of
/// Wq columns, so that every tap (kh, kw) of every result position reads at
/// a fixed offset from the position: result q = oh * Wq + ow reads phase
/// ((kh*dh) mod sh, (kw*dw) mod sw) at q + ((kh*dh) div sh) * Wq + (kw*dw)
/// div sw. Each result row is then one vector loop with no bounds checks
/// (a masked last vector), KH * KW broadcast weights held in registers,
/// the sum going through the epilogue to the output once.
static void depthwisePlanes(KBuilder &B, const Operation &Op, const Planes &P,
                            unsigned L, KValue *X, KValue *W, KValue *Bias,
                            KValue *Out, const Epilogue *Epi) {
  DType E = Op.result()->Type.elem();
  int64_t G = Op.getInt("group");
  int64_t SH = attrAt(Op, "strides", 0, 1), SW = attrAt(Op, "strides", 1, 1);
  int64_t DH = attrAt(Op, "dilations", 0, 1), DW = attrAt(Op, "dilations", 1, 1);
  int64_t PH = attrAt(Op, "pads", 0, 0), PW = attrAt(Op, "pads", 1, 0);
  auto C = [&](int64_t V) { return B.constIndex(V); };
  auto add = [&](KValue *A, KValue *Bv) { return B.index(IndexOp::Add, A, Bv); };
  auto mul = [&](KValue *A, KValue *Bv) { return B.index(IndexOp::Mul, A, Bv); };
  KValue *Zero = C(0), *ZeroF = B.constFloat(E, 0.0);
  KValue *M = B.dim(Out, 1);
  KValue *PerGroup = B.index(IndexOp::Div, M, C(G));
  KValue *NM = B.beginFor(Zero, mul(B.dim(Out, 0), M));
  KValue *N = B.index(IndexOp::Div, NM, M), *Ch = B.index(IndexOp::Rem, NM, M);
  KValue *Cin = B.index(IndexOp::Div, Ch, PerGroup);
  KValue *Xs = B.scratch(TensorType(E, {Dim::fixed(P.XsLen)}));
  const int64_t PlaneLen = P.Hq * P.Wq;
  // Rows here are short and static: kept whole (not unrolled in full) and
  // vectorized with a masked last vector.
  auto zeros = [&](KValue *Lo, KValue *Hi) {
    KValue *I = B.beginFor(Lo, Hi);
    B.store(ZeroF, Xs, {I});
    B.endFor()->Marks.MaskedTail = true;
  };
  // The phase planes. The sw planes of one row phase are filled
  // together: over the columns j that every one of them takes from inside
  // the input, one loop loads input columns j*sw + rw - pw for each rw,
  // which the vectorizer turns into contiguous loads and shuffles (an
  // interleaved group) instead of one strided scalar load per element;
  // each plane's few edge columns are copied one by one.
  for (int64_t Rh = 0; Rh < SH; ++Rh) {
    auto [ILo, IHi] = tapRange(B, C(Rh), SH, 1, PH, C(P.H), C(P.Hq));
    ILo = B.index(IndexOp::Min, ILo, IHi);
    std::vector<KValue *> Base, JLo, JHi;
    KValue *JL = nullptr, *JH = nullptr;
    for (int64_t Rw = 0; Rw < SW; ++Rw) {
      Base.push_back(C((Rh * SW + Rw) * PlaneLen));
      auto [Lo, Hi] = tapRange(B, C(Rw), SW, 1, PW, C(P.W), C(P.Wq));
      JLo.push_back(B.index(IndexOp::Min, Lo, Hi));
      JHi.push_back(Hi);
      JL = JL ? B.index(IndexOp::Max, JL, JLo.back()) : JLo.back();
      JH = JH ? B.index(IndexOp::Min, JH, JHi.back()) : JHi.back();
      zeros(Base.back(), add(Base.back(), mul(ILo, C(P.Wq))));
    }
    JH = B.index(IndexOp::Max, JH, JL);
    KValue *I = B.beginFor(ILo, IHi);
    KValue *Xr = inputCoord(B, I, C(Rh), SH, 1, PH);
    std::vector<KValue *> Row;
    auto copy = [&](int64_t Rw, KValue *J) {
      B.store(B.load(X, {N, Cin, Xr, inputCoord(B, J, C(Rw), SW, 1, PW)}), Xs,
              {add(Row[Rw], J)});
    };
    for (int64_t Rw = 0; Rw < SW; ++Rw) {
      Row.push_back(add(Base[Rw], mul(I, C(P.Wq))));
      zeros(Row[Rw], add(Row[Rw], JLo[Rw]));
      KValue *J = B.beginFor(JLo[Rw], B.index(IndexOp::Max, JLo[Rw], JL));
      copy(Rw, J);
      B.endFor();
    }
    KValue *JRest = JL;
    if (SW > 1) {
      // Whole vectors of every phase: each a strided load (L x SW
      // consecutive input columns and a shuffle) and one store. LLVM's own
      // vectorization of the loop below (an interleaved group, masked)
      // measured slower than its scalar copy, which took most of a
      // stride-2 plane's time. A vector starting at column j reads input
      // columns up to j*SW + 2*SW - 2 - PW + (L-1)*SW, which must lie in
      // the row; the columns past the last whole vector are copied below.
      int64_t JLs = 0, JHs = P.Wq;
      for (int64_t Rw = 0; Rw < SW; ++Rw) {
        JLs = std::max(JLs, (std::max<int64_t>(PW - Rw, 0) + SW - 1) / SW);
        JHs = std::min(JHs, std::max<int64_t>(P.W + PW + SW - 1 - Rw, 0) / SW);
      }
      int64_t Last = P.W - 1 + PW - (2 * SW - 2) - (int64_t(L) - 1) * SW;
      int64_t NVec = 0;
      while (Last >= 0 && JLs + (NVec + 1) * int64_t(L) <= JHs &&
             (JLs + NVec * int64_t(L)) * SW <= Last)
        ++NVec;
      if (NVec > 0) {
        KValue *Jv = B.beginFor(C(JLs), C(JLs + NVec * int64_t(L)), L);
        for (int64_t Rw = 0; Rw < SW; ++Rw)
          B.store(B.load(X, {N, Cin, Xr, inputCoord(B, Jv, C(Rw), SW, 1, PW)}, L,
                         unsigned(SW)),
                  Xs, {add(Row[Rw], Jv)});
        B.endFor();
        JRest = B.index(IndexOp::Max, JL, C(JLs + NVec * int64_t(L)));
      }
    }
    KValue *J = B.beginFor(JRest, JH);
    for (int64_t Rw = 0; Rw < SW; ++Rw)
      copy(Rw, J);
    B.endFor()->Marks.MaskedTail = SW == 1;
    for (int64_t Rw = 0; Rw < SW; ++Rw) {
      KValue *J = B.beginFor(B.index(IndexOp::Min, JH, JHi[Rw]), JHi[Rw]);
      copy(Rw, J);
      B.endFor();
      zeros(add(Row[Rw], JHi[Rw]), add(Row[Rw], C(P.Wq)));
    }
    B.endFor();
    for (int64_t Rw = 0; Rw < SW; ++Rw)
      zeros(add(Base[Rw], mul(IHi, C(P.Wq))), add(Base[Rw], C(PlaneLen)));
  }
  // Each tap's weight (loop invariant: the vectorizer broadcasts it once)
  // and its offset from the result position.
  std::vector<KValue *> Wt;
  std::vector<int64_t> Off;
  for (int64_t Kh = 0; Kh < P.KH; ++Kh)
    for (int64_t Kw = 0; Kw < P.KW; ++Kw) {
      Wt.push_back(B.load(W, {Ch, Zero, C(Kh), C(Kw)}));
      int64_t Rh = Kh * DH % SH, Rw = Kw * DW % SW;
      Off.push_back((Rh * SW + Rw) * PlaneLen + Kh * DH / SH * P.Wq + Kw * DW / SW);
    }
  KValue *Init = Bias ? B.load(Bias, {Ch}) : ZeroF;
  // Each result row: one loop the vectorizer takes with a masked last
  // vector, the taps summed in registers and the sum stored once through
  // the epilogue.
  KValue *Oh = B.beginFor(Zero, C(P.OH));
  KValue *Row = mul(Oh, C(P.Wq));
  KValue *Ow = B.beginFor(Zero, C(P.OW));
  KValue *Q = add(Row, Ow);
  KValue *Acc = B.local(E);
  B.set(Acc, Init);
  for (size_t T = 0; T < Wt.size(); ++T)
    B.set(Acc, B.scalar(OpKind::Add,
                        {B.get(Acc), B.scalar(OpKind::Mul,
                                              {Wt[T], B.load(Xs, {add(Q, C(Off[T]))})},
                                              SType::of(E))},
                        SType::of(E)));
  KValue *V = B.get(Acc);
  std::vector<KValue *> Idx = {N, Ch, Oh, Ow};
  if (Epi && *Epi)
    V = (*Epi)(B, V, Idx, 1);
  B.store(V, Out, Idx);
  B.endFor()->Marks.MaskedTail = true;
  B.endFor(); // oh
  B.endFor()->Marks.Parallel = true;
}

void kir::buildDepthwiseConv(KBuilder &B, const Operation &Op, KValue *X,
                             KValue *W, KValue *Bias, KValue *Out,
                             const Epilogue *Epi, bool ForGpu) {
  DType E = Op.result()->Type.elem();
  if (!ForGpu)
    if (auto P = planesFor(Op, 64 / dtypeSize(E)))
      return depthwisePlanes(B, Op, *P, 64 / dtypeSize(E), X, W, Bias, Out, Epi);
  SType ST = SType::of(E);
  const unsigned L = 64 / dtypeSize(E); // one AVX-512 register
  int64_t G = Op.getInt("group");
  int64_t SH = attrAt(Op, "strides", 0, 1), SW = attrAt(Op, "strides", 1, 1);
  int64_t DH = attrAt(Op, "dilations", 0, 1), DW = attrAt(Op, "dilations", 1, 1);
  int64_t PH = attrAt(Op, "pads", 0, 0), PW = attrAt(Op, "pads", 1, 0);
  const TensorType &WT = Op.operand(1)->Type;
  KValue *Zero = B.constIndex(0);
  KValue *M = B.dim(Out, 1), *OH = B.dim(Out, 2), *OW = B.dim(Out, 3);
  KValue *H = B.dim(X, 2), *Wd = B.dim(X, 3), *KW = B.dim(W, 3);
  KValue *PerGroup = B.index(IndexOp::Div, M, B.constIndex(G));

  // One parallel loop over (batch, channel) planes, so batch 1 still splits.
  KValue *NM = B.beginFor(Zero, B.index(IndexOp::Mul, B.dim(Out, 0), M));
  KValue *N = B.index(IndexOp::Div, NM, M), *Ch = B.index(IndexOp::Rem, NM, M);
  KValue *C = B.index(IndexOp::Div, Ch, PerGroup);
  KValue *Init = Bias ? B.load(Bias, {Ch}) : B.constFloat(E, 0.0);
  KValue *Oh = B.beginFor(Zero, OH);
  // The taps kh whose row kh*DH + oh*SH - PH is inside: tapRange with kh
  // as the position (factor DH) and oh as the tap (factor SH).
  auto [KhLo, KhHi] = tapRange(B, Oh, DH, SH, PH, H, B.dim(W, 2));
  auto finish = [&](KValue *Sum, KValue *Ow, unsigned Lanes) {
    std::vector<KValue *> Idx = {N, Ch, Oh, Ow};
    if (Epi && *Epi)
      Sum = (*Epi)(B, Sum, Idx, Lanes);
    B.store(Sum, Out, Idx);
  };
  // Positions [Lo, Hi) one at a time, each over the taps kw inside.
  auto scalarPositions = [&](KValue *Lo, KValue *Hi) {
    KValue *Ow = B.beginFor(Lo, Hi);
    KValue *Acc = B.local(E);
    B.set(Acc, Init);
    auto [KwLo, KwHi] = tapRange(B, Ow, DW, SW, PW, Wd, KW);
    KValue *Kh = B.beginFor(KhLo, KhHi);
    KValue *Ih = inputCoord(B, Oh, Kh, SH, DH, PH);
    KValue *Kw = B.beginFor(KwLo, KwHi);
    KValue *Iw = inputCoord(B, Ow, Kw, SW, DW, PW);
    KValue *Prod = B.scalar(OpKind::Mul, {B.load(W, {Ch, Zero, Kh, Kw}),
                                          B.load(X, {N, C, Ih, Iw})}, ST);
    B.set(Acc, B.scalar(OpKind::Add, {B.get(Acc), Prod}, ST));
    B.endFor(); // kw
    B.endFor(); // kh
    finish(B.get(Acc), Ow, 1);
    B.endFor(); // ow
  };
  if (SW != 1 || !WT.dim(3).isStatic()) {
    scalarPositions(Zero, OW);
  } else {
    // [A, V): whole vectors of positions where tap 0 and the last tap,
    // hence every tap, are inside.
    int64_t KWs = WT.dim(3).size();
    KValue *A = tapRange(B, Zero, 1, DW, PW, Wd, OW).first;
    KValue *Z = tapRange(B, B.constIndex(KWs - 1), 1, DW, PW, Wd, OW).second;
    Z = B.index(IndexOp::Max, Z, A);
    KValue *Lc = B.constIndex(L);
    KValue *V = B.index(IndexOp::Add, A,
                        B.index(IndexOp::Mul,
                                B.index(IndexOp::Div, B.index(IndexOp::Sub, Z, A), Lc), Lc));
    scalarPositions(Zero, A);
    SType VT = SType::vec(E, L);
    KValue *Ow = B.beginFor(A, V, L);
    KValue *Acc = B.local(E, L);
    B.set(Acc, B.broadcast(Init, L));
    KValue *Kh = B.beginFor(KhLo, KhHi);
    KValue *Ih = inputCoord(B, Oh, Kh, SH, DH, PH);
    for (int64_t Kw = 0; Kw < KWs; ++Kw) {
      KValue *Kc = B.constIndex(Kw);
      KValue *Wv = B.broadcast(B.load(W, {Ch, Zero, Kh, Kc}), L);
      KValue *Xv = B.load(X, {N, C, Ih, inputCoord(B, Ow, Kc, 1, DW, PW)}, L);
      B.set(Acc, B.scalar(OpKind::Add,
                          {B.get(Acc), B.scalar(OpKind::Mul, {Wv, Xv}, VT)}, VT));
    }
    B.endFor(); // kh
    finish(B.get(Acc), Ow, L);
    B.endFor(); // ow vectors
    scalarPositions(V, OW);
  }
  B.endFor(); // oh
  B.endFor()->Marks.Parallel = true;
}
