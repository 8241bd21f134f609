// ONNX Resize and Upsample as separable interpolation: per resized axis,
// the source positions of the output samples are computed at import time
// when the axis' size is static (else at run time by resize_coords, with the
// taps and weights in graph ops), and the result is a weighted sum of
// gathers along that axis (1 tap for nearest, 2 for linear, 4 for cubic).
#include "frontend/onnx/NodeContext.h"
#include "ir/ShapeInference.h"
#include "ir/TensorLimits.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

namespace {
struct ResizeAttrs {
  std::string Mode, Coord, Nearest;
  double CubicA = -0.75;
  bool ExcludeOutside = false;
};
} // namespace

static double cubicWeight(double D, double A) {
  D = std::fabs(D);
  if (D <= 1)
    return ((A + 2) * D - (A + 3)) * D * D + 1;
  if (D < 2)
    return ((A * D - 5 * A) * D + 8 * A) * D - 4 * A;
  return 0;
}

/// The most output samples a static resized axis may have: its index and
/// weight tables (Taps of each, i64 and f64 at most) are import-time
/// constants, bounded like a literal's splat (MaxSplatBytes).
static int64_t maxResizeSamples(const ResizeAttrs &A) {
  int Taps = A.Mode == "nearest" ? 1 : A.Mode == "linear" ? 2 : 4;
  return int64_t(MaxSplatBytes / (uint64_t(Taps) * 16));
}

/// Resizes X along Axis from In to Out samples.
static Value *resizeAxis(NodeContext &C, const ResizeAttrs &A, Value *X,
                         int64_t Axis, int64_t In, int64_t Out, double Scale) {
  int Taps = A.Mode == "nearest" ? 1 : A.Mode == "linear" ? 2 : 4;
  std::vector<Tensor> Idx(Taps, Tensor(DType::I64, {Out}));
  std::vector<Tensor> W(Taps, Tensor(X->Type.elem(), {Out}));
  auto Clamp = [&](int64_t I) { return std::clamp<int64_t>(I, 0, In - 1); };
  for (int64_t O = 0; O < Out; ++O) {
    double S = resizeSourceCoord(A.Coord, double(O), Scale, In, Out);
    if (Taps == 1) {
      double R = A.Nearest == "floor"              ? std::floor(S)
                 : A.Nearest == "ceil"             ? std::ceil(S)
                 : A.Nearest == "round_prefer_ceil" ? std::floor(S + 0.5)
                                                    : std::ceil(S - 0.5);
      Idx[0].setI(O, Clamp(int64_t(R)));
      continue;
    }
    if (Taps == 2)
      S = std::clamp(S, 0.0, double(In - 1));
    int64_t Base = int64_t(std::floor(S));
    double T = S - double(Base), Sum = 0;
    std::vector<double> Ws(Taps);
    for (int K = 0; K < Taps; ++K) {
      int64_t Off = Taps == 2 ? K : K - 1;
      int64_t I = Base + Off;
      Ws[K] = Taps == 2 ? (K ? T : 1 - T) : cubicWeight(double(Off) - T, A.CubicA);
      if (A.ExcludeOutside && (I < 0 || I >= In))
        Ws[K] = 0;
      Sum += Ws[K];
      Idx[K].setI(O, Clamp(I));
    }
    for (int K = 0; K < Taps; ++K)
      W[K].setF(O, A.ExcludeOutside && Sum != 0 ? Ws[K] / Sum : Ws[K]);
  }
  std::vector<int64_t> WShape = {Out};
  WShape.resize(X->Type.rank() - Axis, 1);
  Value *Y = nullptr;
  for (int K = 0; K < Taps; ++K) {
    Value *G = C.op(OpKind::Gather, {X, C.constant(std::move(Idx[K]))},
                    {aInt("axis", Axis)});
    if (Taps > 1)
      G = C.op(OpKind::Mul, {G, C.op(OpKind::Reshape, {C.constant(std::move(W[K]))},
                                     {aInts("shape", WShape)})});
    Y = Y ? C.op(OpKind::Add, {Y, G}) : G;
  }
  return Y;
}

/// Resizes X along Axis, whose size is known only at run time, to Size
/// samples (by Scale when Size is 0): resize_coords computes the source
/// coordinates; taps, clamping and weights are the static path's, in ops.
static Value *resizeAxisDynamic(NodeContext &C, const ResizeAttrs &A, Value *X,
                                int64_t Axis, int64_t Size, double Scale) {
  const DType F = DType::F64, I64 = DType::I64;
  Value *S = C.op(OpKind::ResizeCoords, {X},
                  {aInt("axis", Axis), aFloat("scale", Scale), aInt("size", Size),
                   aStr("mode", A.Coord)});
  Value *Last = C.op(OpKind::Sub, {C.dimOf(X, unsigned(Axis)), C.scalar(I64, 1)});
  auto Bin = [&](OpKind K, Value *L, Value *R) { return C.op(K, {L, R}); };
  auto Num = [&](double V) { return C.scalar(F, V); };
  auto Clamp = [&](Value *I) {
    return Bin(OpKind::Min, Bin(OpKind::Max, I, C.scalar(I64, 0)), Last);
  };
  auto Take = [&](Value *Idx) {
    return C.op(OpKind::Gather, {X, Idx}, {aInt("axis", Axis)});
  };
  std::vector<int64_t> WShape = {-1};
  WShape.resize(X->Type.rank() - Axis, 1);
  auto Weighted = [&](Value *G, Value *W) {
    W = C.op(OpKind::Reshape, {C.cast(W, X->Type.elem())},
             {aInts("shape", WShape)});
    return Bin(OpKind::Mul, G, W);
  };
  if (A.Mode == "nearest") {
    Value *R = A.Nearest == "floor" ? C.op(OpKind::Floor, {S})
               : A.Nearest == "ceil" ? C.op(OpKind::Ceil, {S})
               : A.Nearest == "round_prefer_ceil"
                   ? C.op(OpKind::Floor, {Bin(OpKind::Add, S, Num(0.5))})
                   : C.op(OpKind::Ceil, {Bin(OpKind::Sub, S, Num(0.5))});
    return Take(Clamp(C.cast(R, I64)));
  }
  if (A.Mode == "linear") {
    S = Bin(OpKind::Min, Bin(OpKind::Max, S, Num(0)), C.cast(Last, F));
    Value *Base = C.op(OpKind::Floor, {S});
    Value *T = Bin(OpKind::Sub, S, Base);
    Value *I0 = C.cast(Base, I64);
    Value *I1 = Bin(OpKind::Min, Bin(OpKind::Add, I0, C.scalar(I64, 1)), Last);
    return Bin(OpKind::Add, Weighted(Take(I0), Bin(OpKind::Sub, Num(1), T)),
               Weighted(Take(I1), T));
  }
  // Cubic: taps at Base - 1 .. Base + 2, at distances 1 + T, T, 1 - T,
  // 2 - T; the inner two are within 1 (first polynomial), the outer two in
  // [1, 2] (second polynomial).
  Value *Base = C.op(OpKind::Floor, {S});
  Value *T = Bin(OpKind::Sub, S, Base);
  Value *IB = C.cast(Base, I64);
  double Ac = A.CubicA;
  auto Near = [&](Value *D) { // ((A + 2) d - (A + 3)) d^2 + 1
    Value *P = Bin(OpKind::Sub, Bin(OpKind::Mul, D, Num(Ac + 2)), Num(Ac + 3));
    return Bin(OpKind::Add, Bin(OpKind::Mul, P, Bin(OpKind::Mul, D, D)), Num(1));
  };
  auto Far = [&](Value *D) { // ((A d - 5A) d + 8A) d - 4A
    Value *P = Bin(OpKind::Sub, Bin(OpKind::Mul, D, Num(Ac)), Num(5 * Ac));
    P = Bin(OpKind::Add, Bin(OpKind::Mul, P, D), Num(8 * Ac));
    return Bin(OpKind::Sub, Bin(OpKind::Mul, P, D), Num(4 * Ac));
  };
  Value *W[4] = {Far(Bin(OpKind::Add, Num(1), T)), Near(T),
                 Near(Bin(OpKind::Sub, Num(1), T)),
                 Far(Bin(OpKind::Sub, Num(2), T))};
  Value *Idx[4];
  for (int K = 0; K < 4; ++K)
    Idx[K] = Bin(OpKind::Add, IB, C.scalar(I64, double(K - 1)));
  if (A.ExcludeOutside) {
    Value *Sum = nullptr;
    for (int K = 0; K < 4; ++K) {
      Value *In = C.op(OpKind::And,
                       {Bin(OpKind::GreaterEqual, Idx[K], C.scalar(I64, 0)),
                        Bin(OpKind::LessEqual, Idx[K], Last)});
      W[K] = C.op(OpKind::Where, {In, W[K], Num(0)});
      Sum = Sum ? Bin(OpKind::Add, Sum, W[K]) : W[K];
    }
    Value *NonZero = C.op(OpKind::Not, {Bin(OpKind::Equal, Sum, Num(0))});
    for (int K = 0; K < 4; ++K)
      W[K] = C.op(OpKind::Where, {NonZero, Bin(OpKind::Div, W[K], Sum), W[K]});
  }
  Value *Y = nullptr;
  for (int K = 0; K < 4; ++K) {
    Value *G = Weighted(Take(Clamp(Idx[K])), W[K]);
    Y = Y ? Bin(OpKind::Add, Y, G) : G;
  }
  return Y;
}

static void resizeWith(NodeContext &C, const ResizeAttrs &A,
                       std::vector<double> Scales, std::vector<int64_t> Sizes) {
  Value *X = C.in(0);
  if (!X || C.failed())
    return;
  if (A.Mode != "nearest" && A.Mode != "linear" && A.Mode != "cubic")
    return C.fail("mode '" + A.Mode + "' is not supported");
  if (A.Coord != "half_pixel" && A.Coord != "asymmetric" &&
      A.Coord != "align_corners" && A.Coord != "pytorch_half_pixel")
    return C.fail("coordinate_transformation_mode '" + A.Coord +
                  "' is not supported");
  unsigned R = X->Type.rank();
  if ((Scales.empty() && Sizes.size() != R) || (Sizes.empty() && Scales.size() != R))
    return C.fail("needs one scale or size per dim of " + X->Type.str());
  Value *Y = X;
  for (unsigned D = 0; D < R; ++D) {
    if (!Scales.empty() && Scales[D] == 1.0)
      continue;
    if (!Sizes.empty() && Sizes[D] < 0) // an axis that is not resized
      continue;
    if (!X->Type.dim(D).isStatic()) {
      if (Sizes.empty() ? !(Scales[D] > 0) : Sizes[D] == 0)
        return C.fail("empty resize along dim " + llvm::Twine(D));
      Y = resizeAxisDynamic(C, A, Y, D, Sizes.empty() ? 0 : Sizes[D],
                            Sizes.empty() ? Scales[D] : 1.0);
      if (!Y || C.failed())
        return;
      continue;
    }
    int64_t In = X->Type.dim(D).size();
    // In double first: a huge scale must not overflow the conversion.
    double OutD = Sizes.empty() ? std::floor(double(In) * Scales[D])
                                : double(Sizes[D]);
    int64_t Limit = maxResizeSamples(A);
    if (OutD > double(Limit))
      return C.fail(llvm::Twine(Sizes.empty() ? "scales" : "sizes") + "[" +
                    llvm::Twine(D) + "] = " +
                    (Sizes.empty() ? llvm::formatv("{0}", Scales[D]).str()
                                   : std::to_string(Sizes[D])) +
                    " resizes dim " + llvm::Twine(D) + " of " +
                    X->Type.str() + " to more than " + llvm::Twine(Limit) +
                    " samples (the most a static resized dim may have)");
    int64_t Out = OutD >= 0 ? int64_t(OutD) : 0;
    if (Out == In && Sizes.size())
      continue;
    double Scale = Sizes.empty() ? Scales[D] : double(Out) / double(In);
    if (Out <= 0 || In <= 0)
      return C.fail("empty resize along dim " + llvm::Twine(D));
    Y = resizeAxis(C, A, Y, D, In, Out, Scale);
    if (!Y || C.failed()) // an axis' ops failed (a result too big, ...)
      return;
  }
  C.setOutput(0, Y == X ? C.op(OpKind::Identity, {X}) : Y);
}

static void resize(NodeContext &C) {
  C.allowAttrs({"mode", "coordinate_transformation_mode", "nearest_mode",
                "cubic_coeff_a", "exclude_outside", "extrapolation_value",
                "antialias", "axes", "keep_aspect_ratio_policy"});
  ResizeAttrs A;
  A.Mode = C.attrStr("mode", "nearest");
  A.Coord = C.attrStr("coordinate_transformation_mode",
                      C.Opset < 11 ? "asymmetric" : "half_pixel");
  A.Nearest = C.attrStr("nearest_mode", C.Opset < 11 ? "floor" : "round_prefer_floor");
  A.CubicA = C.attrFloat("cubic_coeff_a", -0.75);
  A.ExcludeOutside = C.attrInt("exclude_outside", 0);
  if (C.attrInt("antialias", 0))
    return C.fail("antialias is not supported");
  std::string Policy = C.attrStr("keep_aspect_ratio_policy", "stretch");
  if (Policy != "stretch" && Policy != "not_larger" && Policy != "not_smaller")
    return C.fail("keep_aspect_ratio_policy '" + Policy + "' is not supported");
  unsigned ScalesIn = C.Opset < 11 ? 1 : 2;
  std::vector<double> Scales;
  std::vector<int64_t> Sizes;
  if (C.has(ScalesIn)) {
    if (!C.in(ScalesIn))
      return;
    const Tensor *T = C.constIn(ScalesIn);
    if (!T)
      return C.fail("operand 'scales' must be known at import time");
    for (int64_t I = 0; I < T->numElements(); ++I) {
      double V = T->getF(I);
      if (!std::isfinite(V) || V <= 0)
        return C.fail("scales[" + llvm::Twine(I) + "] = " +
                      llvm::formatv("{0}", V).str() +
                      ": scales must be finite and positive");
      Scales.push_back(V);
    }
  }
  if (Scales.empty() && C.has(3)) {
    auto S = C.intsIn(3, "sizes");
    if (!S)
      return;
    Sizes = *S;
    for (int64_t N : Sizes)
      if (N <= 0)
        return C.fail("sizes must be positive, got " + llvm::Twine(N));
  }
  // Scales or sizes for the listed axes only: spread to every dim.
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t R = X->Type.rank();
  if (C.hasAttr("axes")) {
    std::vector<int64_t> Axes = C.attrInts("axes");
    if (Axes.size() != std::max(Scales.size(), Sizes.size()))
      return C.fail("axes and scales/sizes differ in length");
    std::vector<double> FullS(Scales.empty() ? 0 : R, 1.0);
    // -1: an axis that is not resized.
    std::vector<int64_t> FullN(Sizes.empty() ? 0 : R, -1);
    for (size_t I = 0; I < Axes.size(); ++I) {
      int64_t Ax = normAxis(Axes[I], R);
      if (Ax < 0)
        return C.fail("axis out of range");
      if (!Scales.empty())
        FullS[Ax] = Scales[I];
      else
        FullN[Ax] = Sizes[I];
    }
    Scales = FullS;
    Sizes = FullN;
  }
  if (!Sizes.empty() && Policy != "stretch" && int64_t(Sizes.size()) == R) {
    // One scale for every axis that changes, the smallest or the largest.
    double S = Policy == "not_larger" ? INFINITY : 0;
    // Over the resized axes (sizes of -1 mark the others).
    for (int64_t I = 0; I < R; ++I) {
      if (Sizes[I] < 0)
        continue;
      if (!X->Type.dim(I).isStatic())
        return C.failNeedsStatic(X->Type.dim(I),
                                 "keep_aspect_ratio_policy '" + Policy +
                                     "' needs "
                      "static resized dims, got " + X->Type.str());
      double Si = double(Sizes[I]) / double(X->Type.dim(I).size());
      S = Policy == "not_larger" ? std::min(S, Si) : std::max(S, Si);
    }
    for (int64_t I = 0; I < R; ++I)
      if (Sizes[I] >= 0) {
        double N = std::round(S * double(X->Type.dim(I).size()));
        if (!(N <= double(maxResizeSamples(A))))
          return C.fail("sizes resize dim " + llvm::Twine(I) + " of " +
                        X->Type.str() + " to more than " +
                        llvm::Twine(maxResizeSamples(A)) +
                        " samples (the most a static resized dim may have)");
        Sizes[I] = int64_t(N);
      }
  }
  resizeWith(C, A, Scales, Sizes);
}

static void upsample(NodeContext &C) {
  C.allowAttrs({"mode", "scales"});
  ResizeAttrs A;
  A.Mode = C.attrStr("mode", "nearest");
  A.Coord = "asymmetric";
  A.Nearest = "floor";
  std::vector<double> Scales;
  if (C.Opset < 9) {
    Scales = C.attrFloats("scales");
  } else {
    if (!C.in(1))
      return;
    const Tensor *T = C.constIn(1);
    if (!T)
      return C.fail("operand 'scales' must be known at import time");
    for (int64_t I = 0; I < T->numElements(); ++I)
      Scales.push_back(T->getF(I));
  }
  resizeWith(C, A, Scales, {});
}

void onnximp::addResizeOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"Resize", 10, resize, {1, 2, 3}},
      {"Upsample", 7, upsample, {1}},
  });
}
