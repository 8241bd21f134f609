// ONNX normalizations: BatchNormalization (inference) maps to batch_norm;
// LayerNormalization (with its Mean and InvStdDev outputs),
// InstanceNormalization, GroupNormalization, RMSNormalization,
// MeanVarianceNormalization and LpNormalization are composed of reductions
// and elementwise ops.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

static void batchNorm(NodeContext &C) {
  C.allowAttrs({"epsilon", "momentum", "spatial", "training_mode", "is_test"});
  if (C.attrInt("training_mode", 0))
    return C.fail("training_mode = 1 is not supported");
  if (C.attrInt("spatial", 1) != 1)
    return C.fail("spatial = 0 is not supported");
  for (unsigned I = 1; I < C.numOutputs(); ++I)
    if (C.wantsOutput(I))
      return C.fail("the training outputs (running mean and variance) are "
                    "not supported");
  Value *X = C.in(0);
  if (!X)
    return;
  DType E = X->Type.elem();
  C.setOutput(0, C.op(OpKind::BatchNorm,
                      {X, C.cast(C.in(1), E), C.cast(C.in(2), E),
                       C.cast(C.in(3), E), C.cast(C.in(4), E)},
                      {aFloat("epsilon", C.attrFloat("epsilon", 1e-5))}));
}

namespace {
struct Moments {
  Value *Centered = nullptr, *Mean = nullptr, *InvStd = nullptr;
};
} // namespace

/// Mean and 1/sqrt(var + eps) of X over Axes (kept as size 1).
static Moments moments(NodeContext &C, Value *X, llvm::ArrayRef<int64_t> Axes,
                       double Eps) {
  Moments M;
  if (!X)
    return M;
  std::vector<NamedAttr> A = {aInts("axes", Axes), aBool("keepdims", true)};
  M.Mean = C.op(OpKind::ReduceMean, {X}, A);
  M.Centered = C.op(OpKind::Sub, {X, M.Mean});
  Value *Var =
      C.op(OpKind::ReduceMean, {C.op(OpKind::Mul, {M.Centered, M.Centered})}, A);
  M.InvStd = C.op(OpKind::Rsqrt,
                  {C.op(OpKind::Add, {Var, C.scalar(X->Type.elem(), Eps)})});
  return M;
}

/// The type statistics are computed in: f32 for 16-bit floats when
/// stash_type asks for it.
static DType stashType(NodeContext &C, Value *X) {
  DType E = X->Type.elem();
  return C.attrInt("stash_type", 1) == 1 && E != DType::F64 ? DType::F32 : E;
}

/// The axes from attribute `axis` (default -1) to the last one; false
/// (after reporting) when the axis is out of range.
static bool trailingAxes(NodeContext &C, Value *X, std::vector<int64_t> &Axes) {
  int64_t R = X->Type.rank();
  int64_t Axis = C.axisOf(X, -1);
  if (Axis < 0)
    return false;
  for (int64_t I = Axis; I < R; ++I)
    Axes.push_back(I);
  return true;
}

static void layerNorm(NodeContext &C) {
  C.allowAttrs({"axis", "epsilon", "stash_type"});
  Value *X = C.in(0);
  if (!X)
    return;
  std::vector<int64_t> Axes;
  if (!trailingAxes(C, X, Axes))
    return;
  DType E = X->Type.elem(), W = stashType(C, X);
  Moments M = moments(C, C.cast(X, W), Axes, C.attrFloat("epsilon", 1e-5));
  Value *Y = C.cast(C.op(OpKind::Mul, {M.Centered, M.InvStd}), E);
  Y = C.op(OpKind::Mul, {Y, C.in(1)});
  if (C.has(2))
    Y = C.op(OpKind::Add, {Y, C.in(2)});
  C.setOutput(0, Y);
  if (C.wantsOutput(1))
    C.setOutput(1, M.Mean);
  if (C.wantsOutput(2))
    C.setOutput(2, M.InvStd);
}

static void rmsNorm(NodeContext &C) {
  C.allowAttrs({"axis", "epsilon", "stash_type"});
  Value *X = C.in(0);
  if (!X)
    return;
  std::vector<int64_t> Axes;
  if (!trailingAxes(C, X, Axes))
    return;
  DType E = X->Type.elem(), W = stashType(C, X);
  Value *XW = C.cast(X, W);
  Value *Ms = C.op(OpKind::ReduceMean, {C.op(OpKind::Mul, {XW, XW})},
                   {aInts("axes", Axes), aBool("keepdims", true)});
  Value *Inv = C.op(OpKind::Rsqrt, {C.op(OpKind::Add,
                                         {Ms, C.scalar(W, C.attrFloat("epsilon", 1e-5))})});
  Value *Y = C.cast(C.op(OpKind::Mul, {XW, Inv}), E);
  C.setOutput(0, C.op(OpKind::Mul, {Y, C.in(1)}));
}

/// V[C] reshaped to [C, 1, ..., 1] so it broadcasts over X[N, C, *].
static Value *perChannel(NodeContext &C, Value *V, unsigned Rank) {
  std::vector<int64_t> S = {-1};
  S.resize(Rank - 1, 1);
  return C.op(OpKind::Reshape, {V}, {aInts("shape", S)});
}

static void instanceNorm(NodeContext &C) {
  C.allowAttrs({"epsilon"});
  Value *X = C.in(0);
  if (!X)
    return;
  unsigned R = X->Type.rank();
  if (R < 3)
    return C.fail("input must have rank 3 or more, got " + X->Type.str());
  std::vector<int64_t> Axes;
  for (unsigned I = 2; I < R; ++I)
    Axes.push_back(I);
  Moments M = moments(C, X, Axes, C.attrFloat("epsilon", 1e-5));
  Value *Y = C.op(OpKind::Mul, {M.Centered, M.InvStd});
  Y = C.op(OpKind::Mul, {Y, perChannel(C, C.in(1), R)});
  C.setOutput(0, C.op(OpKind::Add, {Y, perChannel(C, C.in(2), R)}));
}

static void groupNorm(NodeContext &C) {
  C.allowAttrs({"epsilon", "num_groups", "stash_type"});
  Value *X = C.in(0);
  if (!X)
    return;
  unsigned R = X->Type.rank();
  int64_t G = C.attrInt("num_groups", 0);
  if (R < 2 || G <= 0)
    return C.fail("needs a rank of at least 2 and num_groups > 0, got " +
                  X->Type.str() + " and " + llvm::Twine(G));
  Value *Scale = C.in(1), *Bias = C.in(2);
  if (!Scale || !Bias)
    return;
  // The channel count, when known: from x, else (opset 21, one scale per
  // channel) from the scale. Unknown, the grouping reshape checks at run
  // time that the groups divide the channels.
  const Dim &CD = X->Type.dim(1);
  const Dim &SD = Scale->Type.rank() == 1 ? Scale->Type.dim(0) : CD;
  std::optional<int64_t> Ch;
  if (CD.isStatic())
    Ch = CD.size();
  else if (C.Opset >= 21 && SD.isStatic())
    Ch = SD.size();
  if (Ch && *Ch % G)
    return C.fail("num_groups must divide the channels of " + X->Type.str());
  DType E = X->Type.elem(), W = stashType(C, X);
  Value *XW = C.cast(X, W);
  Value *Grouped =
      C.op(OpKind::Reshape, {XW}, {aInts("shape", {0, G, -1})});
  Moments M = moments(C, Grouped, {2}, C.attrFloat("epsilon", 1e-5));
  Value *Y = C.op(OpKind::Mul, {M.Centered, M.InvStd});
  // Back to x's shape (taken at run time from x itself unless static).
  if (X->Type.isStatic()) {
    std::vector<int64_t> Back;
    for (const Dim &D : X->Type.dims())
      Back.push_back(D.size());
    Y = C.op(OpKind::Reshape, {Y}, {aInts("shape", Back)});
  } else {
    Y = C.op(OpKind::Reshape, {Y, XW}, {aInts("shape", {})});
  }
  Y = C.cast(Y, E);
  if (C.Opset < 21 && (!Ch || *Ch != G)) {
    // Per-group scale and bias: repeat each over its channels.
    if (!Ch)
      return C.fail("a per-group scale (opset < 21) needs a static channel "
                    "dim, got " + X->Type.str());
    auto Rep = [&](Value *V) {
      Value *U = C.op(OpKind::Unsqueeze, {V}, {aInts("axes", {1})});
      U = C.op(OpKind::Expand, {U}, {aInts("shape", {G, *Ch / G})});
      return C.op(OpKind::Reshape, {U}, {aInts("shape", {*Ch})});
    };
    Scale = Rep(Scale);
    Bias = Rep(Bias);
  }
  Y = C.op(OpKind::Mul, {Y, perChannel(C, Scale, R)});
  C.setOutput(0, C.op(OpKind::Add, {Y, perChannel(C, Bias, R)}));
}

static void meanVarianceNorm(NodeContext &C) {
  C.allowAttrs({"axes"});
  std::vector<int64_t> Axes = C.attrInts("axes");
  if (!C.hasAttr("axes"))
    Axes = {0, 2, 3};
  Moments M = moments(C, C.in(0), Axes, 1e-9);
  C.setOutput(0, C.op(OpKind::Mul, {M.Centered, M.InvStd}));
}

static void lpNorm(NodeContext &C) {
  C.allowAttrs({"axis", "p"});
  Value *X = C.in(0);
  int64_t P = C.attrInt("p", 2);
  if (P != 1 && P != 2)
    return C.fail("p must be 1 or 2, got " + llvm::Twine(P));
  std::vector<NamedAttr> A = {aInts("axes", {C.attrInt("axis", -1)}),
                              aBool("keepdims", true)};
  Value *N = P == 1 ? C.op(OpKind::ReduceSum, {C.op(OpKind::Abs, {X})}, A)
                    : C.op(OpKind::Sqrt,
                           {C.op(OpKind::ReduceSum,
                                 {C.op(OpKind::Mul, {X, X})}, A)});
  C.setOutput(0, C.op(OpKind::Div, {X, N}));
}

void onnximp::addNormOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"BatchNormalization", 6, batchNorm, {}},
      {"LayerNormalization", 17, layerNorm, {}},
      {"RMSNormalization", 23, rmsNorm, {}},
      {"InstanceNormalization", 6, instanceNorm, {}},
      {"GroupNormalization", 18, groupNorm, {}},
      {"MeanVarianceNormalization", 9, meanVarianceNorm, {}},
      {"LpNormalization", 1, lpNorm, {}},
  });
}
