// ONNX movement ops. Their shape-like operands (Reshape's shape, Slice's
// starts, Pad's pads, ...) were attributes in early opsets and became inputs
// later; dlc keeps them as attributes where they are import-time constants.
// The shapes of Reshape and Expand, and Tile's repeats, may also be computed
// at run time (see ShapeSyms.cpp): by_value operands of reshape / expand.
#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/NodeContext.h"
#include "ir/ShapeInference.h"

using namespace dlc;
using namespace dlc::onnximp;

/// Reshape to a shape computed at run time from dims of other values: its
/// entries as attribute sizes (0 copying X's own dim, -1 for the one left
/// unknown), or else as the dims of a like operand. False when neither
/// works (the shape is then read by value).
static bool reshapeSym(NodeContext &C, Value *X, llvm::ArrayRef<SymDim> E,
                       bool AllowZero) {
  std::vector<int64_t> Attr;
  int Unknown = 0;
  bool Infer = false, NeedLike = false;
  for (size_t K = 0; K < E.size(); ++K) {
    const SymDim &S = E[K];
    if (!S.Of) {
      Infer |= S.Const == -1;
      NeedLike |= S.Const == 0 && AllowZero;
      Attr.push_back(S.Const);
    } else if (S.Of == X && S.Dim == K) {
      Attr.push_back(0);
    } else if (S.Of->Type.dim(S.Dim).isStatic() && S.Of->Type.dim(S.Dim).size()) {
      Attr.push_back(S.Of->Type.dim(S.Dim).size());
    } else {
      ++Unknown;
      Attr.push_back(-1);
    }
  }
  if (!NeedLike && Unknown + Infer <= 1) {
    C.setOutput(0, C.op(OpKind::Reshape, {X}, {aInts("shape", Attr)}));
    return true;
  }
  if (Infer)
    return false;
  Value *Like = C.likeOf(E);
  C.setOutput(0, C.op(OpKind::Reshape, {X, Like}, {aInts("shape", {})}));
  return true;
}

static void reshape(NodeContext &C) {
  C.allowAttrs({"allowzero"});
  bool AllowZero = C.attrInt("allowzero", 0);
  if (!C.constIn(1)) {
    Value *X = C.in(0);
    if (!X)
      return;
    if (auto E = C.symIn(1))
      if (reshapeSym(C, X, *E, AllowZero))
        return;
    // A run-time shape; dlc's reshape reads its 0 entries as ONNX does
    // under the same allowzero.
    Value *S = C.shapeIn(1, "shape");
    if (!S)
      return;
    std::vector<NamedAttr> Attrs = {aInts("shape", {}),
                                    aBool("by_value", true)};
    if (AllowZero)
      Attrs.push_back(aBool("allowzero", true));
    C.setOutput(0, C.op(OpKind::Reshape, {X, S}, Attrs));
    return;
  }
  auto S = C.intsIn(1, "shape");
  if (!S)
    return;
  std::vector<NamedAttr> Attrs = {aInts("shape", *S)};
  if (AllowZero && llvm::is_contained(*S, 0))
    Attrs.push_back(aBool("allowzero", true));
  C.setOutput(0, C.op(OpKind::Reshape, {C.in(0)}, Attrs));
}

static void transpose(NodeContext &C) {
  C.allowAttrs({"perm"});
  C.setOutput(0, C.op(OpKind::Transpose, {C.in(0)},
                      {aInts("perm", C.attrInts("perm"))}));
}

static void flatten(NodeContext &C) {
  C.allowAttrs({"axis"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t Axis = C.attrInt("axis", 1);
  if (Axis < 0)
    Axis += X->Type.rank();
  C.setOutput(0, C.op(OpKind::Flatten, {X}, {aInt("axis", Axis)}));
}

/// Axes of Squeeze and Unsqueeze: an attribute before opset 13, an input
/// after.
static std::optional<std::vector<int64_t>> axesOf(NodeContext &C) {
  C.allowAttrs({"axes"});
  if (C.Opset < 13)
    return C.attrInts("axes");
  if (C.hasAttr("axes")) {
    C.fail("'axes' is an input, not an attribute, from opset 13");
    return std::nullopt;
  }
  if (!C.has(1))
    return std::vector<int64_t>();
  return C.intsIn(1, "axes");
}

static void squeeze(NodeContext &C) {
  auto A = axesOf(C);
  if (A)
    C.setOutput(0, C.op(OpKind::Squeeze, {C.in(0)}, {aInts("axes", *A)}));
}

static void unsqueeze(NodeContext &C) {
  auto A = axesOf(C);
  if (A)
    C.setOutput(0, C.op(OpKind::Unsqueeze, {C.in(0)}, {aInts("axes", *A)}));
}

static void concat(NodeContext &C) {
  C.allowAttrs({"axis"});
  std::vector<Value *> Ins;
  for (unsigned I = 0; I < C.numInputs(); ++I)
    Ins.push_back(C.in(I));
  C.setOutput(0, C.op(OpKind::Concat, Ins, {aInt("axis", C.attrInt("axis", 0))}));
}

static void split(NodeContext &C) {
  C.allowAttrs({"axis", "split", "num_outputs"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t Axis = C.axisOf(X, 0);
  if (Axis < 0)
    return;
  std::vector<int64_t> Sizes;
  if (C.Opset < 13) {
    Sizes = C.attrInts("split");
  } else if (C.has(1)) {
    auto S = C.intsIn(1, "split");
    if (!S)
      return;
    Sizes = *S;
  }
  std::vector<NamedAttr> Attrs = {aInt("axis", Axis)};
  if (Sizes.empty()) {
    // An even split (the last piece may be smaller): the sizes follow from
    // the dim, at run time when it is not static.
    int64_t N = C.hasAttr("num_outputs") ? C.attrInt("num_outputs", 1)
                                         : C.numOutputs();
    if (N <= 0)
      return C.fail("the number of outputs must be positive");
    const Dim &D = X->Type.dim(Axis);
    if (D.isStatic())
      Sizes = splitParts(D.size(), N);
    else
      Attrs.push_back(aInt("parts", N));
  }
  if (!Sizes.empty())
    Attrs.push_back(aInts("sizes", Sizes));
  auto Rs = C.opN(OpKind::Split, {X}, Attrs);
  if (Rs.empty())
    return;
  if (Rs.size() != C.numOutputs())
    return C.fail("split into " + llvm::Twine(Rs.size()) + " pieces but the "
                  "node has " + llvm::Twine(C.numOutputs()) + " outputs");
  for (unsigned I = 0; I < Rs.size(); ++I)
    C.setOutput(I, Rs[I]);
}

/// Slice with starts or ends known only at run time (axes and steps are
/// constants): per axis, a gather at start + step * iota over the length,
/// with ONNX's clamping computed in the graph and the length read by value.
static void sliceByValue(NodeContext &C) {
  C.allowAttrs({});
  Value *X = C.in(0), *S = C.shapeIn(1, "starts"), *E = C.shapeIn(2, "ends");
  if (!X || !S || !E)
    return;
  int64_t K = S->Type.dim(0).size(), Rank = X->Type.rank();
  std::vector<int64_t> Axes, Steps(K, 1);
  for (int64_t I = 0; I < K; ++I)
    Axes.push_back(I);
  for (unsigned In : {3u, 4u}) {
    if (!C.has(In))
      continue;
    const char *Name = In == 3 ? "axes" : "steps";
    if (!C.constIn(In))
      return C.fail("operand '" + llvm::Twine(Name) + "' must be known at "
                    "import time when starts or ends are computed at run time");
    auto V = C.intsIn(In, Name);
    if (!V)
      return;
    (In == 3 ? Axes : Steps) = *V;
  }
  if (E->Type.dim(0).size() != K || int64_t(Axes.size()) != K ||
      int64_t(Steps.size()) != K)
    return C.fail("starts, ends, axes and steps must have one length");
  auto I64 = [&](int64_t V) { return C.scalar(DType::I64, double(V)); };
  Value *Y = X;
  for (int64_t I = 0; I < K && !C.failed(); ++I) {
    int64_t A = normAxis(Axes[I], Rank), St = Steps[I];
    if (A < 0 || St == 0)
      return C.fail("axis " + llvm::Twine(Axes[I]) + " or step " +
                    llvm::Twine(St) + " is invalid");
    Value *Dim = C.dimOf(X, A);
    // Negative counts from the end, then clamp to [Lo, dim + HiOff].
    auto Norm = [&](Value *V, int64_t Lo, int64_t HiOff) {
      V = C.op(OpKind::Where, {C.op(OpKind::Less, {V, I64(0)}),
                               C.op(OpKind::Add, {V, Dim}), V});
      V = C.op(OpKind::Max, {V, I64(Lo)});
      return C.op(OpKind::Min, {V, C.op(OpKind::Add, {Dim, I64(HiOff)})});
    };
    Value *B = C.op(OpKind::Gather, {S, I64(I)}),
          *End = C.op(OpKind::Gather, {E, I64(I)});
    B = St > 0 ? Norm(B, 0, 0) : Norm(B, 0, -1);
    End = St > 0 ? Norm(End, 0, 0) : Norm(End, -1, -1);
    // Length ceil(|end - start| / |step|) in the step's direction, or 0.
    int64_t Abs = St > 0 ? St : -St;
    Value *D = St > 0 ? C.op(OpKind::Sub, {End, B}) : C.op(OpKind::Sub, {B, End});
    // (in f64: clamped indices are exact there, and the CPU has no i64 div)
    Value *N = C.op(OpKind::Ceil, {C.op(OpKind::Div, {C.cast(D, DType::F64),
                                                      C.scalar(DType::F64, Abs)})});
    N = C.op(OpKind::Max, {C.cast(N, DType::I64), I64(0)});
    N = C.op(OpKind::Reshape, {N}, {aInts("shape", {1})});
    Value *Like = C.op(OpKind::Expand, {I64(0), N}, {aBool("by_value", true)});
    Value *Idx = C.op(OpKind::Add, {B, C.op(OpKind::Mul, {C.iota(Like, 0), I64(St)})});
    Y = C.op(OpKind::Gather, {Y, Idx}, {aInt("axis", A)});
  }
  C.setOutput(0, Y);
}

static void slice(NodeContext &C) {
  std::vector<int64_t> Starts, Ends, Axes, Steps;
  if (C.Opset >= 10 && (!C.constIn(1) || !C.constIn(2)))
    return sliceByValue(C);
  if (C.Opset < 10) {
    C.allowAttrs({"starts", "ends", "axes"});
    Starts = C.attrInts("starts");
    Ends = C.attrInts("ends");
    Axes = C.attrInts("axes");
  } else {
    C.allowAttrs({});
    auto S = C.intsIn(1, "starts"), E = C.intsIn(2, "ends");
    if (!S || !E)
      return;
    Starts = *S;
    Ends = *E;
    if (C.has(3)) {
      auto A = C.intsIn(3, "axes");
      if (!A)
        return;
      Axes = *A;
    }
    if (C.has(4)) {
      auto St = C.intsIn(4, "steps");
      if (!St)
        return;
      Steps = *St;
    }
  }
  C.setOutput(0, C.op(OpKind::Slice, {C.in(0)},
                      {aInts("starts", Starts), aInts("ends", Ends),
                       aInts("axes", Axes), aInts("steps", Steps)}));
}

/// Pad's wrap mode: per padded dim a gather of the positions (i - begin)
/// mod size, so the dim continues periodically on both sides (pads larger
/// than the dim repeat it; negative pads crop). Needs the padded dims known.
static void wrapPad(NodeContext &C, Value *X, llvm::ArrayRef<int64_t> Pads) {
  int64_t R = X->Type.rank();
  Value *Y = X;
  for (int64_t D = 0; D < R; ++D) {
    int64_t Begin = Pads[D], End = Pads[D + R];
    if (!Begin && !End)
      continue;
    const Dim &Dm = X->Type.dim(D);
    if (!Dm.isStatic())
      return C.failNeedsStatic(Dm, "mode 'wrap' needs dim " + llvm::Twine(D) +
                                       " known at import time, got " +
                                       X->Type.str());
    const int64_t Huge = int64_t(1) << 40; // beyond any tensor: no overflow below
    if (Begin > Huge || Begin < -Huge || End > Huge || End < -Huge)
      return C.fail("mode 'wrap' pads " + llvm::Twine(Begin) + ", " + llvm::Twine(End) +
                    " of dim " + llvm::Twine(D) + " are out of range");
    int64_t N = Dm.size(), Out = N + Begin + End;
    if (Out < 0 || (N == 0 && Out > 0))
      return C.fail("pads " + llvm::Twine(Begin) + ", " + llvm::Twine(End) +
                    " cannot wrap dim " + llvm::Twine(D) + " of " +
                    X->Type.str());
    if (!withinFoldLimit(Out, 1))
      return C.fail("mode 'wrap' pads dim " + llvm::Twine(D) + " to " +
                    llvm::Twine(Out) + " elements, too many");
    Tensor Idx(DType::I64, {Out});
    for (int64_t I = 0; I < Out; ++I)
      Idx.setI(I, (((I - Begin) % N) + N) % N);
    Y = C.op(OpKind::Gather, {Y, C.constant(std::move(Idx))},
             {aInt("axis", D)});
  }
  C.setOutput(0, Y == X ? C.op(OpKind::Identity, {X}) : Y);
}

static void pad(NodeContext &C) {
  Value *X = C.in(0);
  if (!X)
    return;
  std::string Mode = C.attrStr("mode", "constant");
  if (Mode != "constant" && Mode != "reflect" && Mode != "edge" &&
      !(Mode == "wrap" && C.Opset >= 19))
    return C.fail("mode '" + Mode + "' is not supported");
  std::vector<int64_t> Pads;
  double V = 0;
  if (C.Opset < 11) {
    C.allowAttrs({"mode", "pads", "value"});
    Pads = C.attrInts("pads");
    V = C.attrFloat("value", 0);
  } else {
    C.allowAttrs({"mode"});
    auto P = C.intsIn(1, "pads");
    if (!P)
      return;
    Pads = *P;
    if (C.has(2)) {
      auto S = C.scalarIn(2, "constant_value");
      if (!S)
        return;
      V = *S;
    }
    if (C.has(3)) {
      // Pads for the listed axes only: spread to every dim.
      auto A = C.intsIn(3, "axes");
      if (!A)
        return;
      int64_t R = X->Type.rank();
      std::vector<int64_t> Full(2 * R, 0);
      for (size_t I = 0; I < A->size() && 2 * I + 1 <= Pads.size(); ++I) {
        int64_t Ax = normAxis((*A)[I], R);
        if (Ax < 0 || Pads.size() != 2 * A->size())
          return C.fail("pads and axes do not match the input's rank");
        Full[Ax] = Pads[I];
        Full[Ax + R] = Pads[I + A->size()];
      }
      Pads = Full;
    }
  }
  if (Mode == "wrap") {
    if (int64_t(Pads.size()) != 2 * int64_t(X->Type.rank()))
      return C.fail("pads must have " + llvm::Twine(2 * X->Type.rank()) +
                    " values for " + X->Type.str() + ", got " +
                    llvm::Twine(Pads.size()));
    return wrapPad(C, X, Pads);
  }
  C.setOutput(0, C.op(OpKind::Pad, {X}, {aInts("pads", Pads),
                                         aStr("mode", Mode),
                                         aFloat("value", V)}));
}

static void gather(NodeContext &C) {
  C.allowAttrs({"axis"});
  C.setOutput(0, C.op(OpKind::Gather, {C.in(0), C.in(1)},
                      {aInt("axis", C.attrInt("axis", 0))}));
}

static void expand(NodeContext &C) {
  C.allowAttrs({});
  if (!C.constIn(1)) {
    if (auto E = C.symIn(1))
      if (llvm::all_of(*E, [](const SymDim &D) { return D.Of || D.Const >= 0; })) {
        Value *Like = C.likeOf(*E);
        return C.setOutput(0, C.op(OpKind::Expand, {C.in(0), Like}));
      }
    Value *S = C.shapeIn(1, "shape");
    if (S)
      C.setOutput(0, C.op(OpKind::Expand, {C.in(0), S},
                          {aBool("by_value", true)}));
    return;
  }
  auto S = C.intsIn(1, "shape");
  if (S)
    C.setOutput(0, C.op(OpKind::Expand, {C.in(0)}, {aInts("shape", *S)}));
}

/// Tile by repeats R known at run time: X[d0, d1, ...] viewed as
/// [1, d0, 1, d1, ...], expanded to [r0, d0, r1, d1, ...] and reshaped to
/// [r0 * d0, r1 * d1, ...], both shapes computed by value.
static void tileByValue(NodeContext &C, Value *X, Value *R) {
  int64_t Rank = X->Type.rank();
  if (R->Type.dim(0).size() != Rank)
    return C.fail("repeats must have " + llvm::Twine(Rank) + " entries");
  std::vector<int64_t> Axes, Col = {Rank, 1};
  for (int64_t I = 0; I < Rank; ++I)
    Axes.push_back(2 * I);
  Value *Sh = C.op(OpKind::ShapeOf, {X});
  Value *Pairs = C.op(OpKind::Concat,
                      {C.op(OpKind::Reshape, {R}, {aInts("shape", Col)}),
                       C.op(OpKind::Reshape, {Sh}, {aInts("shape", Col)})},
                      {aInt("axis", 1)});
  Value *Wide = C.op(OpKind::Reshape, {Pairs}, {aInts("shape", {2 * Rank})});
  Value *Y = C.op(OpKind::Unsqueeze, {X}, {aInts("axes", Axes)});
  Y = C.op(OpKind::Expand, {Y, Wide}, {aBool("by_value", true)});
  Value *Out = C.op(OpKind::Mul, {R, Sh});
  C.setOutput(0, C.op(OpKind::Reshape, {Y, Out},
                      {aInts("shape", {}), aBool("by_value", true)}));
}

static void tile(NodeContext &C) {
  C.allowAttrs({});
  if (!C.constIn(1)) {
    Value *X = C.in(0), *R = C.shapeIn(1, "repeats");
    if (X && R)
      tileByValue(C, X, R);
    return;
  }
  auto R = C.intsIn(1, "repeats");
  if (R)
    C.setOutput(0, C.op(OpKind::Tile, {C.in(0)}, {aInts("repeats", *R)}));
}

/// DepthToSpace and SpaceToDepth for C, H or W not static: reshapes that
/// each infer at most one dim (the others copied or the block size) between
/// transposes; the reshapes check divisibility at run time.
static Value *depthSpaceDynamic(NodeContext &C, Value *X, int64_t B,
                                bool ToSpace, bool CRD) {
  auto Reshape = [&](Value *V, std::vector<int64_t> S) {
    return C.op(OpKind::Reshape, {V}, {aInts("shape", S)});
  };
  auto Transpose = [&](Value *V, std::vector<int64_t> P) {
    return C.op(OpKind::Transpose, {V}, {aInts("perm", P)});
  };
  if (ToSpace) {
    // [N,C,H,W] -> [N,H,W,C] -> [N,H,W, i,j,C' (DCR) | C',i,j (CRD)]
    // -> [N,C',W,j,H,i] -> [N,C',W,j,H*B] -> [N,C',H*B,W,j] -> [N,C',H*B,W*B]
    Value *Y = Transpose(X, {0, 2, 3, 1});
    Y = CRD ? Reshape(Y, {0, 0, 0, -1, B, B}) : Reshape(Y, {0, 0, 0, B, B, -1});
    Y = CRD ? Transpose(Y, {0, 3, 2, 5, 1, 4}) : Transpose(Y, {0, 5, 2, 4, 1, 3});
    Y = Transpose(Reshape(Y, {0, 0, 0, 0, -1}), {0, 1, 4, 2, 3});
    return Reshape(Y, {0, 0, 0, -1});
  }
  // [N,C,H,W] -> [N,C,H,W',j] -> [N,C,j,W',H] -> [N,C,j,W',H',i]
  // -> [N,H',W',i,j,C] -> [N,H',W',B*B*C] -> [N,B*B*C,H',W']
  Value *Y = Transpose(Reshape(X, {0, 0, 0, -1, B}), {0, 1, 4, 3, 2});
  Y = Transpose(Reshape(Y, {0, 0, 0, 0, -1, B}), {0, 4, 3, 5, 2, 1});
  return Transpose(Reshape(Y, {0, 0, 0, -1}), {0, 3, 1, 2});
}

/// DepthToSpace and SpaceToDepth as reshape, transpose, reshape.
template <bool ToSpace> static void depthSpace(NodeContext &C) {
  C.allowAttrs({"blocksize", "mode"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t B = C.attrInt("blocksize", 0);
  if (X->Type.rank() != 4 || B <= 0)
    return C.fail("needs a 4-D input and a positive blocksize");
  std::string Mode = C.attrStr("mode", "DCR");
  if (ToSpace && Mode != "DCR" && Mode != "CRD")
    return C.fail("mode must be DCR or CRD, got '" + Mode + "'");
  for (unsigned I = 1; I < 4; ++I)
    if (!X->Type.dim(I).isStatic())
      return C.setOutput(0, depthSpaceDynamic(C, X, B, ToSpace, Mode == "CRD"));
  int64_t Ch = X->Type.dim(1).size(), H = X->Type.dim(2).size(),
          W = X->Type.dim(3).size();
  std::vector<int64_t> S1, Perm, S2;
  if (ToSpace) {
    bool CRD = Mode == "CRD";
    if (Ch % (B * B))
      return C.fail("channels must be a multiple of blocksize^2");
    int64_t Co = Ch / (B * B);
    S1 = CRD ? std::vector<int64_t>{0, Co, B, B, H, W}
             : std::vector<int64_t>{0, B, B, Co, H, W};
    Perm = CRD ? std::vector<int64_t>{0, 1, 4, 2, 5, 3}
               : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
    S2 = {0, Co, H * B, W * B};
  } else {
    if (H % B || W % B)
      return C.fail("H and W must be multiples of blocksize");
    S1 = {0, Ch, H / B, B, W / B, B};
    Perm = {0, 3, 5, 1, 2, 4};
    S2 = {0, Ch * B * B, H / B, W / B};
  }
  Value *Y = C.op(OpKind::Reshape, {X}, {aInts("shape", S1)});
  Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", Perm)});
  C.setOutput(0, C.op(OpKind::Reshape, {Y}, {aInts("shape", S2)}));
}

void onnximp::addMovementOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"Reshape", 5, reshape, {1}},
      {"Transpose", 1, transpose, {}},
      {"Flatten", 1, flatten, {}},
      {"Squeeze", 1, squeeze, {1}},
      {"Unsqueeze", 1, unsqueeze, {1}},
      {"Concat", 4, concat, {}},
      {"Split", 2, split, {1}},
      {"Slice", 1, slice, {1, 2, 3, 4}},
      {"Pad", 2, pad, {1, 2, 3}},
      {"Gather", 1, gather, {}},
      {"Expand", 8, expand, {1}},
      {"Tile", 6, tile, {1}},
      {"DepthToSpace", 1, depthSpace<true>, {}},
      {"SpaceToDepth", 1, depthSpace<false>, {}},
  });
}
