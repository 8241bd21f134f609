// ONNX DFT composed of dlc ops: the signal axis is moved last and multiplied
// by cosine / sine matrices built at import time (forward, inverse, one-sided
// forward and one-sided inverse, i.e. irfft), with dft_length truncating or
// zero-padding the signal; and the window functions (Hann, Hamming,
// Blackman) as constants built at import time.
#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/OnnxTensor.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

/// A [Rows, Cols] matrix of element type E with entries Fn(row, col).
template <typename FnT>
static Value *matrix(NodeContext &C, DType E, int64_t Rows, int64_t Cols,
                     FnT Fn) {
  std::optional<Tensor> T =
      newConstantTensor(C, E, {Rows, Cols}, "the DFT matrix");
  if (!T)
    return nullptr;
  for (int64_t I = 0; I < Rows; ++I)
    for (int64_t J = 0; J < Cols; ++J)
      T->setF(I * Cols + J, Fn(I, J));
  return C.constant(std::move(*T));
}

static void dft(NodeContext &C) {
  C.allowAttrs({"axis", "inverse", "onesided"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t R = X->Type.rank();
  if (R < 2 || !isFloat(X->Type.elem()))
    return C.fail("needs a float input of rank >= 2, got " + X->Type.str());
  const Dim &CD = X->Type.dim(R - 1);
  if (!CD.isStatic())
    return C.failNeedsStatic(CD, "the last dim must be 1 (real) or 2 "
                                 "(complex), got " + X->Type.str());
  if (CD.size() != 1 && CD.size() != 2)
    return C.fail("the last dim must be 1 (real) or 2 (complex), got " +
                  X->Type.str());
  bool Complex = CD.size() == 2;
  int64_t Axis = C.Opset >= 20 ? -2 : C.attrInt("axis", 1);
  if (C.Opset >= 20 && C.has(2)) {
    std::optional<int64_t> A = C.intScalarIn(2, "axis");
    if (!A)
      return;
    Axis = *A;
  }
  if (Axis < -R || Axis >= R - 1 || Axis == -1)
    return C.fail("axis " + llvm::Twine(Axis) + " is out of range for " +
                  X->Type.str());
  Axis = Axis < 0 ? Axis + R : Axis;
  bool Inverse = C.attrInt("inverse", 0) != 0;
  bool OneSided = C.attrInt("onesided", 0) != 0;
  if (OneSided && !Inverse && Complex)
    return C.fail("onesided needs a real input");
  const Dim &LD = X->Type.dim(Axis);
  if (!LD.isStatic())
    return C.failNeedsStatic(LD, "needs a signal length known at import "
                                 "time, got " +
                  X->Type.str());
  int64_t L = LD.size();
  int64_t N = Inverse && OneSided ? 2 * (L - 1) : L;
  if (C.has(1)) {
    std::optional<double> Len = C.scalarIn(1, "dft_length");
    if (!Len)
      return;
    if (!(*Len >= -double(MaxElements) && *Len <= double(MaxElements)))
      return C.fail("dft_length is out of range (at most 2^40)");
    N = int64_t(*Len);
  }
  if (N <= 0)
    return C.fail("the DFT length must be positive, got " + llvm::Twine(N));

  // Input rows used (the rest is truncated; missing rows are zero padding)
  // and output frequencies / samples.
  int64_t In = std::min(L, Inverse && OneSided ? N / 2 + 1 : N);
  int64_t Out = !Inverse && OneSided ? N / 2 + 1 : N;
  // Sums run in f64: an inverse of a forward transform must give zeros where
  // the reference does, to well below f32 rounding of the terms.
  DType E = DType::F64;
  double Sign = Inverse ? 1.0 : -1.0, Scale = Inverse ? 1.0 / double(N) : 1.0;
  auto Angle = [&](int64_t J, int64_t K) {
    return 2.0 * M_PI * double((J * K) % N) / double(N);
  };
  // Weight of input row J in an irfft (Hermitian symmetry): 2 except for the
  // zero frequency and the Nyquist one.
  auto Herm = [&](int64_t J) {
    return !(Inverse && OneSided) || J == 0 || 2 * J == N ? 1.0 : 2.0;
  };
  Value *Cos = matrix(C, E, In, Out, [&](int64_t J, int64_t K) {
    return Herm(J) * Scale * std::cos(Angle(J, K));
  });
  Value *Sin = matrix(C, E, In, Out, [&](int64_t J, int64_t K) {
    return Herm(J) * Sign * Scale * std::sin(Angle(J, K));
  });

  std::vector<int64_t> Perm, Inv;
  axisLastPerm(R - 1, Axis, Perm, Inv);
  auto part = [&](int64_t I) {
    Value *V = C.op(OpKind::Gather, {X, C.scalar(DType::I64, I)},
                    {aInt("axis", R - 1)});
    V = C.cast(C.op(OpKind::Transpose, {V}, {aInts("perm", Perm)}), E);
    if (In < L)
      V = C.op(OpKind::Slice, {V}, {aInts("starts", {0}), aInts("ends", {In}),
                                    aInts("axes", {R - 2})});
    return V;
  };
  Value *Re = part(0), *Im = Complex ? part(1) : nullptr;
  // (Re + i Im)(cos + i s sin) with s = Sign folded into Sin.
  Value *ORe = C.op(OpKind::MatMul, {Re, Cos});
  Value *OIm = C.op(OpKind::MatMul, {Re, Sin});
  if (Im) {
    ORe = C.op(OpKind::Sub, {ORe, C.op(OpKind::MatMul, {Im, Sin})});
    OIm = C.op(OpKind::Add, {OIm, C.op(OpKind::MatMul, {Im, Cos})});
  }
  auto back = [&](Value *V) {
    V = C.cast(C.op(OpKind::Transpose, {V}, {aInts("perm", Inv)}),
               X->Type.elem());
    return C.op(OpKind::Unsqueeze, {V}, {aInts("axes", {R - 1})});
  };
  if (Inverse && OneSided)
    C.setOutput(0, back(ORe));
  else
    C.setOutput(0, C.op(OpKind::Concat, {back(ORe), back(OIm)},
                        {aInt("axis", R - 1)}));
}

/// HannWindow, HammingWindow, BlackmanWindow: sum over k of
/// (-1)^k a_k cos(2 pi k n / N), N = size (periodic) or size - 1
/// (symmetric), computed in f64 at import time (size is known then; a
/// size given at run time makes dlc::Model compile per value).
template <int Kind> static void window(NodeContext &C) {
  C.allowAttrs({"output_datatype", "periodic"});
  auto Size = C.intsIn(0, "size");
  if (!Size)
    return;
  if (Size->size() != 1)
    return C.fail("size must be one integer, got " +
                  llvm::Twine(Size->size()) + " values");
  int64_t L = (*Size)[0];
  if (L < 0 || L > (int64_t(1) << 28))
    return C.fail("size " + llvm::Twine(L) +
                  " is out of range (0 to 2^28)");
  auto E = dtypeFromOnnx(int32_t(C.attrInt("output_datatype", 1)));
  if (!E || !(isFloat(*E) || isInteger(*E)))
    return C.fail("output_datatype " +
                  llvm::Twine(C.attrInt("output_datatype", 1)) +
                  " is not a numeric element type");
  double N = double(C.attrInt("periodic", 1) ? L : L - 1);
  // Coefficients a_0, a_1, a_2.
  double A[3] = {0.5, 0.5, 0};
  if (Kind == 1)
    A[0] = 25.0 / 46.0, A[1] = 1 - 25.0 / 46.0;
  if (Kind == 2)
    A[0] = 0.42, A[1] = 0.5, A[2] = 0.08;
  Tensor W(DType::F64, {L});
  for (int64_t I = 0; I < L; ++I) {
    double X = N == 0 ? 0 : 2 * M_PI * double(I) / N;
    W.setF(I, A[0] - A[1] * std::cos(X) + A[2] * std::cos(2 * X));
  }
  C.setOutput(0, C.cast(C.constant(std::move(W)), *E));
}

void onnximp::addSignalOps(std::vector<OpEntry> &T) {
  T.push_back({"DFT", 17, dft, {1, 2}});
  T.push_back({"HannWindow", 17, window<0>, {0}});
  T.push_back({"HammingWindow", 17, window<1>, {0}});
  T.push_back({"BlackmanWindow", 17, window<2>, {0}});
}
