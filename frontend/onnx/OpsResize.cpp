// ONNX Resize and Upsample as separable interpolation: per resized axis,
// the source positions of the output samples are computed at import time
// when the axis' size is static (else at run time by resize_coords, with the
// taps and weights in graph ops), and the result is a weighted sum of
// gathers along that axis (1 tap for nearest, 2 for linear, 4 for cubic;
// more with antialias, whose filter widens by 1 / scale when downsampling).
// tf_crop_and_resize samples the roi's region and puts extrapolation_value
// where a sample falls outside the input.
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
  bool Antialias = false;
  double Extrapolation = 0;
  /// tf_crop_and_resize: per dim, the region [start, end] (empty: [0, 1]).
  std::vector<double> RoiStart, RoiEnd;
  double roiStart(int64_t D) const {
    return RoiStart.empty() ? 0 : RoiStart[D];
  }
  double roiEnd(int64_t D) const { return RoiEnd.empty() ? 1 : RoiEnd[D]; }
  bool crops() const { return Coord == "tf_crop_and_resize"; }
};

/// The most taps antialias may use along one dim (linear down to scale
/// 1 / 32, cubic to 1 / 16).
constexpr int MaxAntialiasTaps = 64;
} // namespace

/// The first tap's offset from floor(source coordinate) and the number of
/// taps: the filter's support (1 for linear, 2 for cubic) widened by
/// 1 / Scale when antialias downsamples.
static std::pair<int64_t, int> resizeTaps(const ResizeAttrs &A, double Scale) {
  if (A.Mode == "nearest")
    return {0, 1};
  double Support = A.Mode == "linear" ? 1 : 2;
  double S = A.Antialias ? std::min(Scale, 1.0) : 1.0;
  int64_t Start = int64_t(std::floor(-Support / S)) + 1;
  return {Start, int(2 - 2 * Start)};
}

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
  if (A.Antialias)
    Taps = MaxAntialiasTaps;
  return int64_t(MaxSplatBytes / (uint64_t(Taps) * 16));
}

/// X with extrapolation_value at the samples along Axis flagged by Outside
/// (bool, [samples]).
static Value *extrapolate(NodeContext &C, const ResizeAttrs &A, Value *X,
                          int64_t Axis, Value *Outside) {
  std::vector<int64_t> Shape = {-1};
  Shape.resize(X->Type.rank() - Axis, 1);
  Outside = C.op(OpKind::Reshape, {Outside}, {aInts("shape", Shape)});
  return C.op(OpKind::Where,
              {Outside, C.scalar(X->Type.elem(), A.Extrapolation), X});
}

/// Resizes X along Axis from In to Out samples.
static Value *resizeAxis(NodeContext &C, const ResizeAttrs &A, Value *X,
                         int64_t Axis, int64_t In, int64_t Out, double Scale) {
  auto [Start, Taps] = resizeTaps(A, Scale);
  if (Taps > MaxAntialiasTaps) {
    C.fail(llvm::formatv("antialias at scale {0} along dim {1} needs {2} taps; "
                         "at most {3} are supported",
                         Scale, Axis, Taps, MaxAntialiasTaps)
               .str());
    return nullptr;
  }
  std::vector<Tensor> Idx(Taps, Tensor(DType::I64, {Out}));
  std::vector<Tensor> W(Taps, Tensor(X->Type.elem(), {Out}));
  Tensor Outside(DType::Bool, {Out});
  bool AnyOutside = false;
  double AaScale = A.Antialias ? std::min(Scale, 1.0) : 1.0;
  auto Clamp = [&](int64_t I) { return std::clamp<int64_t>(I, 0, In - 1); };
  for (int64_t O = 0; O < Out; ++O) {
    double S = resizeSourceCoord(A.Coord, double(O), Scale, In, Out,
                                 A.roiStart(Axis), A.roiEnd(Axis));
    bool Out_ = A.crops() && (S < 0 || S > double(In - 1));
    Outside.setI(O, Out_);
    AnyOutside |= Out_;
    if (Taps == 1) {
      double R = A.Nearest == "floor"              ? std::floor(S)
                 : A.Nearest == "ceil"             ? std::ceil(S)
                 : A.Nearest == "round_prefer_ceil" ? std::floor(S + 0.5)
                                                    : std::ceil(S - 0.5);
      Idx[0].setI(O, Clamp(int64_t(R)));
      continue;
    }
    if (A.Mode == "linear" && !A.Antialias)
      S = std::clamp(S, 0.0, double(In - 1));
    int64_t Base = int64_t(std::floor(S));
    double T = S - double(Base), Sum = 0;
    std::vector<double> Ws(Taps);
    for (int K = 0; K < Taps; ++K) {
      int64_t Off = Start + K;
      int64_t I = Base + Off;
      double D = (double(Off) - T) * AaScale;
      Ws[K] = A.Mode == "linear" ? std::max(0.0, 1 - std::fabs(D))
                                 : cubicWeight(D, A.CubicA);
      if (A.ExcludeOutside && (I < 0 || I >= In))
        Ws[K] = 0;
      Sum += Ws[K];
      Idx[K].setI(O, Clamp(I));
    }
    // Antialias weights are normalized (the widened filter's taps do not
    // sum to 1); exclude_outside renormalizes the taps left.
    bool Normalize = (A.Antialias || A.ExcludeOutside) && Sum != 0;
    for (int K = 0; K < Taps; ++K)
      W[K].setF(O, Normalize ? Ws[K] / Sum : Ws[K]);
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
  if (AnyOutside)
    Y = extrapolate(C, A, Y, Axis, C.constant(std::move(Outside)));
  return Y;
}

/// Resizes X along Axis, whose size is known only at run time, to Size
/// samples (by Scale when Size is 0): resize_coords computes the source
/// coordinates; taps, clamping and weights are the static path's, in ops.
static Value *resizeAxisDynamic(NodeContext &C, const ResizeAttrs &A, Value *X,
                                int64_t Axis, int64_t Size, double Scale) {
  const DType F = DType::F64, I64 = DType::I64;
  Value *S =
      C.op(OpKind::ResizeCoords, {X},
           {aInt("axis", Axis), aFloat("scale", Scale), aInt("size", Size),
            aStr("mode", A.Coord), aFloat("roi_start", A.roiStart(Axis)),
            aFloat("roi_end", A.roiEnd(Axis))});
  Value *Last = C.op(OpKind::Sub, {C.dimOf(X, unsigned(Axis)), C.scalar(I64, 1)});
  // tf_crop_and_resize: samples outside the input take extrapolation_value.
  Value *Outside = nullptr;
  if (A.crops())
    Outside = C.op(OpKind::Or, {C.op(OpKind::Less, {S, C.scalar(F, 0)}),
                                C.op(OpKind::Greater, {S, C.cast(Last, F)})});
  auto Done = [&](Value *Y) {
    return Outside ? extrapolate(C, A, Y, Axis, Outside) : Y;
  };
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
    return Done(Take(Clamp(C.cast(R, I64))));
  }
  if (A.Mode == "linear") {
    S = Bin(OpKind::Min, Bin(OpKind::Max, S, Num(0)), C.cast(Last, F));
    Value *Base = C.op(OpKind::Floor, {S});
    Value *T = Bin(OpKind::Sub, S, Base);
    Value *I0 = C.cast(Base, I64);
    Value *I1 = Bin(OpKind::Min, Bin(OpKind::Add, I0, C.scalar(I64, 1)), Last);
    return Done(Bin(OpKind::Add,
                    Weighted(Take(I0), Bin(OpKind::Sub, Num(1), T)),
                    Weighted(Take(I1), T)));
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
  return Done(Y);
}

static void resizeWith(NodeContext &C, const ResizeAttrs &A,
                       std::vector<double> Scales, std::vector<int64_t> Sizes) {
  Value *X = C.in(0);
  if (!X || C.failed())
    return;
  if (A.Mode != "nearest" && A.Mode != "linear" && A.Mode != "cubic")
    return C.fail("mode '" + A.Mode + "' is not supported");
  if (!isResizeCoordMode(A.Coord))
    return C.fail("coordinate_transformation_mode '" + A.Coord +
                  "' is not supported");
  if (A.Antialias && A.Mode == "nearest")
    return C.fail("antialias needs mode linear or cubic, got nearest");
  unsigned R = X->Type.rank();
  if ((Scales.empty() && Sizes.size() != R) || (Sizes.empty() && Scales.size() != R))
    return C.fail("needs one scale or size per dim of " + X->Type.str());
  Value *Y = X;
  for (unsigned D = 0; D < R; ++D) {
    // A dim is kept as it is unless it is resized or cropped.
    bool Cropped = A.roiStart(D) != 0 || A.roiEnd(D) != 1;
    if (!Scales.empty() && Scales[D] == 1.0 && !Cropped)
      continue;
    if (!Sizes.empty() && Sizes[D] < 0) // an axis that is not resized
      continue;
    if (!X->Type.dim(D).isStatic() && A.Antialias)
      return C.failNeedsStatic(
          X->Type.dim(D), "antialias needs dim " + llvm::Twine(D) +
                              " known at import time, got " + X->Type.str());
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
    if (Out == In && Sizes.size() && !Cropped)
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
  A.Antialias = C.attrInt("antialias", 0) != 0;
  A.Extrapolation = C.attrFloat("extrapolation_value", 0);
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
  if (A.crops()) {
    // roi: the starts then the ends of the region, per dim (or per axis).
    if (C.Opset < 11 || !C.has(1))
      return C.fail("tf_crop_and_resize needs the roi input");
    if (!C.in(1))
      return;
    const Tensor *T = C.constIn(1);
    if (!T)
      return C.fail("operand 'roi' must be known at import time");
    std::vector<int64_t> Axes;
    if (C.hasAttr("axes"))
      for (int64_t Ax : C.attrInts("axes"))
        Axes.push_back(normAxis(Ax, R));
    else
      for (int64_t I = 0; I < R; ++I)
        Axes.push_back(I);
    int64_t N = int64_t(Axes.size());
    if (T->numElements() != 2 * N)
      return C.fail("roi must have " + llvm::Twine(2 * N) +
                    " values (starts and ends of " + llvm::Twine(N) +
                    " dims), got " + llvm::Twine(T->numElements()));
    A.RoiStart.assign(R, 0);
    A.RoiEnd.assign(R, 1);
    for (int64_t I = 0; I < N; ++I) {
      double S = T->getF(I), E = T->getF(N + I);
      if (!std::isfinite(S) || !std::isfinite(E))
        return C.fail("roi must be finite, got [" +
                      llvm::formatv("{0}, {1}", S, E).str() + "] for dim " +
                      llvm::Twine(Axes[I]));
      A.RoiStart[Axes[I]] = S;
      A.RoiEnd[Axes[I]] = E;
    }
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
