// ONNX movement ops. Their shape-like operands (Reshape's shape, Slice's
// starts, Pad's pads, ...) were attributes in early opsets and became inputs
// later; dlc keeps them as attributes, so inputs must be import-time
// constants, except the shapes of Reshape and Expand computed from the dims
// of other values (see ShapeSyms.cpp).
#include "frontend/onnx/NodeContext.h"
#include "ir/ShapeInference.h"

using namespace dlc;
using namespace dlc::onnximp;

/// Reshape to a shape computed at run time from dims of other values: its
/// entries as attribute sizes (0 copying X's own dim, -1 for the one left
/// unknown), or else as the dims of a like operand.
static void reshapeSym(NodeContext &C, Value *X, llvm::ArrayRef<SymDim> E,
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
  if (!NeedLike && Unknown + Infer <= 1)
    return C.setOutput(0, C.op(OpKind::Reshape, {X}, {aInts("shape", Attr)}));
  if (Infer)
    return C.fail("a shape with -1 and sizes known only at run time is not "
                  "supported");
  Value *Like = C.likeOf(E);
  C.setOutput(0, C.op(OpKind::Reshape, {X, Like}, {aInts("shape", {})}));
}

static void reshape(NodeContext &C) {
  C.allowAttrs({"allowzero"});
  if (!C.constIn(1))
    if (auto E = C.symIn(1)) {
      Value *X = C.in(0);
      if (X)
        reshapeSym(C, X, *E, C.attrInt("allowzero", 0));
      return;
    }
  auto S = C.intsIn(1, "shape");
  if (!S)
    return;
  if (C.attrInt("allowzero", 0) && llvm::is_contained(*S, 0))
    return C.fail("allowzero = 1 with a 0 in the shape is not supported");
  C.setOutput(0, C.op(OpKind::Reshape, {C.in(0)}, {aInts("shape", *S)}));
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

static void slice(NodeContext &C) {
  std::vector<int64_t> Starts, Ends, Axes, Steps;
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

static void pad(NodeContext &C) {
  Value *X = C.in(0);
  if (!X)
    return;
  std::string Mode = C.attrStr("mode", "constant");
  if (Mode != "constant" && Mode != "reflect" && Mode != "edge")
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
  if (!C.constIn(1))
    if (auto E = C.symIn(1)) {
      Value *Like = C.likeOf(*E);
      return C.setOutput(0, C.op(OpKind::Expand, {C.in(0), Like}));
    }
  auto S = C.intsIn(1, "shape");
  if (S)
    C.setOutput(0, C.op(OpKind::Expand, {C.in(0)}, {aInts("shape", *S)}));
}

static void tile(NodeContext &C) {
  C.allowAttrs({});
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
