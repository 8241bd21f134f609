// ONNX normalizations: BatchNormalization maps to batch_norm (training_mode
// to its `training` attribute);
// LayerNormalization (with its Mean and InvStdDev outputs),
// InstanceNormalization, GroupNormalization, RMSNormalization,
// MeanVarianceNormalization, LpNormalization and LRN are composed of
// reductions, slices and elementwise ops.
#include "frontend/onnx/NodeContext.h"
#include "ir/Printer.h"

#include <cstdint>

using namespace dlc;
using namespace dlc::onnximp;

/// BatchNormalization. training_mode = 1 becomes batch_norm {training =
/// true}: one op that the interpreter, the decomposition (and so the JIT and
/// autodiff) run with the batch's statistics, rather than reductions
/// spelled out here. The op stays recognizable as a batch norm, so `dlc
/// train` handles it exactly like an inference-mode export (its running
/// statistics, when they are parameters, get the training pass's update)
/// and the exporter writes it back as one node. The running_mean and
/// running_var outputs (the updated statistics, ONNX's momentum form) are
/// computed here from reductions: only a model that asks for them pays.
static void batchNorm(NodeContext &C) {
  C.allowAttrs({"epsilon", "momentum", "spatial", "training_mode", "is_test"});
  bool Training = C.attrInt("training_mode", 0) != 0;
  if (C.attrInt("spatial", 1) != 1)
    return C.fail("spatial = 0 is not supported");
  double Momentum = C.attrFloat("momentum", 0.9);
  if (!(Momentum >= 0 && Momentum < 1))
    return C.fail("momentum must be in [0, 1) (ONNX's form: running = running "
                  "* momentum + batch * (1 - momentum); PyTorch's 0.1 is 0.9), "
                  "got " + formatDouble(Momentum));
  bool WantsRunning = false;
  for (unsigned I = 1; I < C.numOutputs(); ++I)
    WantsRunning |= C.wantsOutput(I);
  if (WantsRunning && C.Opset < 14)
    return C.fail("the training outputs (mean, var, saved_mean, saved_var) of "
                  "opset " + llvm::Twine(C.Opset) +
                  " are not supported; export "
                  "with opset 14 or later (training_mode = 1 with the "
                  "running_mean and running_var outputs)");
  if (WantsRunning && !Training)
    return C.fail("outputs running_mean and running_var need training_mode = "
                  "1 (ONNX leaves them empty in inference mode)");
  Value *X = C.in(0);
  if (!X)
    return;
  DType E = X->Type.elem();
  std::vector<NamedAttr> Attrs = {
      aFloat("epsilon", C.attrFloat("epsilon", 1e-5))};
  // Kept for training (the running statistics' update). Without the
  // attribute an inference-mode node leaves the choice to the trainer's
  // default; a training-mode node has ONNX's default, 0.9.
  if (C.hasAttr("momentum") || Training)
    Attrs.push_back(aFloat("momentum", Momentum));
  if (Training)
    Attrs.push_back(aBool("training", true));
  Value *Mean = C.cast(C.in(3), E), *Var = C.cast(C.in(4), E);
  C.setOutput(0, C.op(OpKind::BatchNorm,
                      {X, C.cast(C.in(1), E), C.cast(C.in(2), E), Mean, Var},
                      std::move(Attrs)));
  if (!WantsRunning || C.failed() || X->Type.rank() < 2)
    return;
  // running = running * momentum + batch statistic * (1 - momentum), with
  // the biased variance (as onnxruntime computes it).
  std::vector<int64_t> Axes = {0};
  for (unsigned A = 2; A < X->Type.rank(); ++A)
    Axes.push_back(A);
  Arith A{C};
  Value *BatchMean = C.op(OpKind::ReduceMean, {X}, {aInts("axes", Axes)});
  Value *D = A.sub(X, BatchMean);
  Value *BatchVar = C.op(OpKind::ReduceMean, {A.mul(D, D)},
                         {aInts("axes", Axes), aBool("keepdims", false)});
  BatchMean = C.op(OpKind::Squeeze, {BatchMean}, {aInts("axes", Axes)});
  auto Update = [&](Value *Old, Value *New, unsigned In) -> Value * {
    Value *R = A.add(A.mul(Old, C.scalar(E, Momentum)),
                     A.mul(New, C.scalar(E, 1 - Momentum)));
    Value *Orig = C.in(In);
    return R && Orig ? C.cast(R, Orig->Type.elem()) : nullptr;
  };
  if (C.wantsOutput(1))
    C.setOutput(1, Update(Mean, BatchMean, 3));
  if (C.wantsOutput(2))
    C.setOutput(2, Update(Var, BatchVar, 4));
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
  if (!N)
    return;
  // A slice whose norm is 0 stays 0 (not 0 / 0); the divisor there is 1 so
  // the division's gradient stays finite too.
  DType E = N->Type.elem();
  Value *Zero = C.op(OpKind::Equal, {N, C.scalar(E, 0)});
  Value *Safe = C.op(OpKind::Where, {Zero, C.scalar(E, 1), N});
  C.setOutput(0, C.op(OpKind::Where,
                      {Zero, C.scalar(E, 0), C.op(OpKind::Div, {X, Safe})}));
}

/// LRN: x / (bias + alpha / size * sum of x^2 over the channels c - (size -
/// 1) / 2 to c + size / 2)^beta, the sum over `size` shifted slices of the
/// squares zero-padded along the channels.
static void lrn(NodeContext &C) {
  C.allowAttrs({"alpha", "beta", "bias", "size"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t N = C.attrInt("size", 0);
  unsigned R = X->Type.rank();
  if (N < 1 || N > 4096)
    return C.fail("size must be in 1 to 4096, got " + llvm::Twine(N));
  if (R < 3 || !isFloat(X->Type.elem()))
    return C.fail("needs a float input of rank >= 3, got " + X->Type.str());
  DType E = X->Type.elem();
  int64_t Before = (N - 1) / 2, After = N - 1 - Before;
  std::vector<int64_t> Pads(2 * R, 0);
  Pads[1] = Before;
  Pads[R + 1] = After;
  Value *Sq = C.op(OpKind::Pad, {C.op(OpKind::Mul, {X, X})},
                   {aInts("pads", Pads)});
  Value *Sum = nullptr;
  for (int64_t K = 0; K < N; ++K) {
    // Channels K to K + C of the padded squares (end counted from the end).
    int64_t End = K == N - 1 ? INT64_MAX : K - (N - 1);
    Value *S = C.op(OpKind::Slice, {Sq},
                    {aInts("starts", {K}), aInts("ends", {End}),
                     aInts("axes", {1}), aInts("steps", {1})});
    Sum = Sum ? C.op(OpKind::Add, {Sum, S}) : S;
  }
  double Alpha = C.attrFloat("alpha", 1e-4), Beta = C.attrFloat("beta", 0.75);
  Value *D = C.op(OpKind::Add, {C.scalar(E, C.attrFloat("bias", 1.0)),
                                C.op(OpKind::Mul, {Sum, C.scalar(E, Alpha / double(N))})});
  C.setOutput(0, C.op(OpKind::Div, {X, C.op(OpKind::Pow, {D, C.scalar(E, Beta)})}));
}

void onnximp::addNormOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"LRN", 1, lrn, {}},
      {"BatchNormalization", 6, batchNorm, {}},
      {"LayerNormalization", 17, layerNorm, {}},
      {"RMSNormalization", 23, rmsNorm, {}},
      {"InstanceNormalization", 6, instanceNorm, {}},
      {"GroupNormalization", 18, groupNorm, {}},
      {"MeanVarianceNormalization", 9, meanVarianceNorm, {}},
      {"LpNormalization", 1, lpNorm, {}},
  });
}
