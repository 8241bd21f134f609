// b of a fused GEMM given as the patches of an image (implicit GEMM): the
// im2col prologue of a matmul group (ir/FusionPlan step 6), computed where
// the GEMM packs each slice of b, so the patches are never stored.
//
// b[n, k, j] with k = (c, kh, kw) and j = oh * OW + ow is x[n, c, ih, iw],
// ih = oh * sh + kh * dh - ph and iw = ow + kw * dw - pw (stride 1 along
// W), zero outside the image. For one k and one output row oh, the columns
// of that row read a contiguous run of image row ih: the positions whose
// iw lies inside the image (tapRange) copy it, the few before and after it
// are zeros, and a row ih outside the image is all zeros. A slice of b
// that the GEMM packs (128 rows, one strip of columns) covers the output
// rows its columns fall in, so each (k, output row) pair is three short
// loops the vectorizer runs with masked lanes; reading the image (which
// stays in cache while its patches are packed) replaces writing the
// patches and reading them back.
#include "kernel/LoweringUtil.h"

using namespace dlc;
using namespace dlc::kir;

PatchOperand::PatchOperand(KBuilder &B, const Operation &Im2Col, KValue *X)
    : X(X), W(windowAttrs(Im2Col, 2, true)) {
  const TensorType &XT = Im2Col.operand(0)->Type;
  llvm::ArrayRef<int64_t> Kern = Im2Col.getInts("kernel");
  KH = Kern[0];
  KW = Kern[1];
  H = XT.dim(2).size();
  Wd = XT.dim(3).size();
  for (unsigned D = 0; D < 2; ++D) {
    int64_t In = XT.dim(2 + D).size();
    int64_t Span = W.Dilations[D] * (Kern[D] - 1) + 1;
    Out[D] = (In + W.Pads[D] + W.Pads[2 + D] - Span) / W.Strides[D] + 1;
  }
  Batch = B.dim(X, 0);
  N = B.constIndex(Out[0] * Out[1]);
}

/// (c, kh, kw) of patch row K.
std::array<KValue *, 3> PatchOperand::tap(KBuilder &B, KValue *K) const {
  KValue *C = B.index(IndexOp::Div, K, B.constIndex(KH * KW));
  KValue *R = B.index(IndexOp::Sub, K, B.index(IndexOp::Mul, C, B.constIndex(KH * KW)));
  KValue *Kh = B.index(IndexOp::Div, R, B.constIndex(KW));
  KValue *Kw = B.index(IndexOp::Sub, R, B.index(IndexOp::Mul, Kh, B.constIndex(KW)));
  return {C, Kh, Kw};
}

void PatchOperand::pack(KBuilder &B, KValue *Bi, KValue *KLo, KValue *KHi,
                        KValue *J0, KValue *JEnd, KValue *Packed) const {
  DType E = X->BufType.elem();
  auto I = [&](IndexOp Op, KValue *A, KValue *Bv) { return B.index(Op, A, Bv); };
  auto C = [&](int64_t V) { return B.constIndex(V); };
  KValue *Zero = C(0), *One = C(1), *OWc = C(Out[1]);
  KValue *ZeroF = B.constFloat(E, 0.0);
  // The output rows the columns [J0, JEnd) fall in.
  KValue *Oh = B.beginFor(I(IndexOp::Div, J0, OWc),
                          I(IndexOp::Div, I(IndexOp::Add, JEnd, C(Out[1] - 1)), OWc));
  KValue *RowLo = I(IndexOp::Mul, Oh, OWc);
  KValue *SegLo = I(IndexOp::Max, I(IndexOp::Sub, J0, RowLo), Zero);
  KValue *SegHi = I(IndexOp::Min, I(IndexOp::Sub, JEnd, RowLo), OWc);
  KValue *Dst = I(IndexOp::Sub, RowLo, J0); // packed column of position 0
  KValue *Kp = B.beginFor(KLo, KHi);
  auto [Ch, Kh, Kw] = tap(B, Kp);
  KValue *Ih = inputCoord(B, Oh, Kh, W.Strides[0], W.Dilations[0], W.Pads[0]);
  // 1 when 0 <= ih < H, else 0: min(max(v, 0), 1) of ih + 1 and H - ih.
  auto unit = [&](KValue *V) { return I(IndexOp::Min, I(IndexOp::Max, V, Zero), One); };
  KValue *RowOk = I(IndexOp::Mul, unit(I(IndexOp::Add, Ih, One)),
                    unit(I(IndexOp::Sub, C(H), Ih)));
  auto [Lo, Hi] = tapRange(B, Kw, 1, W.Dilations[1], W.Pads[1], C(Wd), OWc);
  KValue *A = I(IndexOp::Min, I(IndexOp::Max, Lo, SegLo), SegHi);
  KValue *Z = I(IndexOp::Max, I(IndexOp::Min, Hi, SegHi), A);
  Z = I(IndexOp::Add, A, I(IndexOp::Mul, I(IndexOp::Sub, Z, A), RowOk));
  KValue *Row = I(IndexOp::Sub, Kp, KLo);
  auto zeros = [&](KValue *From, KValue *To) {
    KValue *O = B.beginFor(From, To);
    B.store(ZeroF, Packed, {Row, I(IndexOp::Add, Dst, O)});
    B.endFor()->Marks.MaskedTail = true;
  };
  zeros(SegLo, A);
  KValue *O = B.beginFor(A, Z);
  KValue *Iw = inputCoord(B, O, Kw, 1, W.Dilations[1], W.Pads[1]);
  B.store(B.load(X, {Bi, Ch, Ih, Iw}), Packed, {Row, I(IndexOp::Add, Dst, O)});
  B.endFor()->Marks.MaskedTail = true;
  zeros(Z, SegHi);
  B.endFor(); // k
  B.endFor(); // output rows
}

KValue *PatchOperand::element(KBuilder &B, KValue *Bi, KValue *K,
                              KValue *J) const {
  DType E = X->BufType.elem();
  KValue *Zero = B.constIndex(0), *One = B.constIndex(1);
  auto [Ch, Kh, Kw] = tap(B, K);
  KValue *Oh = B.index(IndexOp::Div, J, B.constIndex(Out[1]));
  KValue *Ow = B.index(IndexOp::Sub, J, B.index(IndexOp::Mul, Oh, B.constIndex(Out[1])));
  auto [Ih, VH] = windowCoord(B, Oh, Kh, W.Strides[0], W.Pads[0], W.Dilations[0],
                              B.constIndex(H), Zero, One);
  auto [Iw, VW] = windowCoord(B, Ow, Kw, 1, W.Pads[1], W.Dilations[1],
                              B.constIndex(Wd), Zero, One);
  SType Bool = SType::of(DType::Bool);
  return B.scalar(OpKind::Where,
                  {B.scalar(OpKind::And, {VH, VW}, Bool), B.load(X, {Bi, Ch, Ih, Iw}),
                   B.constFloat(E, 0.0)},
                  SType::of(E));
}
