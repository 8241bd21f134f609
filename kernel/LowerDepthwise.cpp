// Depthwise 2-D convolution (each output channel reads one input channel:
// weights [M, 1, KH, KW], as in MobileNet's group = channels layers) as loops
// the LLVM vectorizer turns into straight vector code.
//
// The direct schedule (LowerConvPool.cpp) walks the window innermost with a
// clamped, masked load per tap, which no vectorizer can use. Here the result
// row is the innermost loop instead, and padding costs nothing: for each
// window tap (kh, kw) only the result positions whose input coordinate is
// inside the image are visited, so the taps that would read padding (zero)
// are skipped rather than masked:
//
//   parallel for nm in [0, N*M):              n = nm / M, m = nm % M
//     c = m / (M / G)
//     for oh:
//       for ow: out[n,m,oh,ow] = bias[m] (or 0)
//       for kh in the taps whose row ih = oh*sh + kh*dh - ph is inside:
//         for kw:
//           for ow in the positions whose iw = ow*sw + kw*dw - pw is inside:
//             out[n,m,oh,ow] += w[m,0,kh,kw] * x[n,c,ih,iw]
//       for ow: out[n,m,oh,ow] = epilogue(out[n,m,oh,ow])
//
// The tap ranges come from integer bounds: the positions o with
// 0 <= o*s + k*d - p < size are [ceil((p - k*d) / s), floor((size - 1 + p -
// k*d) / s) + 1), clamped to [0, extent).
#include "kernel/Lowering.h"
#include "kernel/LoweringUtil.h"

using namespace dlc;
using namespace dlc::kir;

namespace {
int64_t attrAt(const Operation &Op, llvm::StringRef Name, unsigned I,
               int64_t Default) {
  llvm::ArrayRef<int64_t> V = Op.getInts(Name);
  return V.empty() ? Default : V[I];
}

/// [Lo, Hi): the result positions o in [0, Extent) whose input coordinate
/// o * Stride + K * Dil - Pad lies in [0, Size).
std::pair<KValue *, KValue *> tapRange(KBuilder &B, KValue *K, int64_t Stride,
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
KValue *inputCoord(KBuilder &B, KValue *O, KValue *K, int64_t Stride,
                   int64_t Dil, int64_t Pad) {
  KValue *C = B.index(IndexOp::Add, B.index(IndexOp::Mul, O, B.constIndex(Stride)),
                      B.index(IndexOp::Mul, K, B.constIndex(Dil)));
  return B.index(IndexOp::Sub, C, B.constIndex(Pad));
}
} // namespace

bool kir::isDepthwiseConv(const Operation &Op, DType OutElem) {
  if (Op.kind() != OpKind::Conv || Op.result()->Type.elem() != OutElem)
    return false;
  const TensorType &WT = Op.operand(1)->Type;
  return WT.rank() == 4 && WT.dim(1).isStatic() && WT.dim(1).size() == 1 &&
         isFloat(OutElem);
}

void kir::buildDepthwiseConv(KBuilder &B, const Operation &Op, KValue *X,
                             KValue *W, KValue *Bias, KValue *Out,
                             const Epilogue *Epi) {
  DType E = Op.result()->Type.elem();
  SType ST = SType::of(E);
  int64_t G = Op.getInt("group");
  int64_t SH = attrAt(Op, "strides", 0, 1), SW = attrAt(Op, "strides", 1, 1);
  int64_t DH = attrAt(Op, "dilations", 0, 1), DW = attrAt(Op, "dilations", 1, 1);
  int64_t PH = attrAt(Op, "pads", 0, 0), PW = attrAt(Op, "pads", 1, 0);
  KValue *Zero = B.constIndex(0);
  KValue *M = B.dim(Out, 1), *OH = B.dim(Out, 2), *OW = B.dim(Out, 3);
  KValue *H = B.dim(X, 2), *Wd = B.dim(X, 3);
  KValue *PerGroup = B.index(IndexOp::Div, M, B.constIndex(G));

  // One parallel loop over (batch, channel) planes, so batch 1 still splits.
  KValue *NM = B.beginFor(Zero, B.index(IndexOp::Mul, B.dim(Out, 0), M));
  KValue *N = B.index(IndexOp::Div, NM, M), *Ch = B.index(IndexOp::Rem, NM, M);
  KValue *C = B.index(IndexOp::Div, Ch, PerGroup);
  KValue *Init = Bias ? B.load(Bias, {Ch}) : B.constFloat(E, 0.0);
  KValue *Oh = B.beginFor(Zero, OH);
  {
    KValue *Ow = B.beginFor(Zero, OW);
    B.store(Init, Out, {N, Ch, Oh, Ow});
    B.endFor();
  }
  // The taps kh whose row kh*DH + oh*SH - PH is inside: tapRange with kh
  // as the position (factor DH) and oh as the tap (factor SH).
  auto [KhLo, KhHi] = tapRange(B, Oh, DH, SH, PH, H, B.dim(W, 2));
  KValue *Kh = B.beginFor(KhLo, KhHi);
  KValue *Ih = inputCoord(B, Oh, Kh, SH, DH, PH);
  KValue *Kw = B.beginFor(Zero, B.dim(W, 3));
  KValue *Wv = B.load(W, {Ch, Zero, Kh, Kw});
  auto [OwLo, OwHi] = tapRange(B, Kw, SW, DW, PW, Wd, OW);
  KValue *Ow = B.beginFor(OwLo, OwHi);
  KValue *Iw = inputCoord(B, Ow, Kw, SW, DW, PW);
  KValue *Prod = B.scalar(OpKind::Mul, {Wv, B.load(X, {N, C, Ih, Iw})}, ST);
  B.store(B.scalar(OpKind::Add, {B.load(Out, {N, Ch, Oh, Ow}), Prod}, ST), Out,
          {N, Ch, Oh, Ow});
  B.endFor(); // ow
  B.endFor(); // kw
  B.endFor(); // kh
  if (Epi && *Epi) {
    KValue *Ow2 = B.beginFor(Zero, OW);
    std::vector<KValue *> Idx = {N, Ch, Oh, Ow2};
    B.store((*Epi)(B, B.load(Out, Idx), Idx, 1), Out, Idx);
    B.endFor();
  }
  B.endFor(); // oh
  B.endFor()->Marks.Parallel = true;
}
