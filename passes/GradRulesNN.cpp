// Gradient rules for matmul, convolution and the movement ops (the rules
// that scatter are in GradRulesWindow.cpp).
#include "passes/Autodiff.h"
#include "passes/Decompose.h"

#include <numeric>

using namespace dlc;
using namespace dlc::grad;

using Ints = llvm::SmallVector<int64_t, 6>;

/// Transposes the last two dims.
static Value *swapLast(OpBuilder &B, Value *V) {
  unsigned R = V->Type.rank();
  Ints Perm(R);
  std::iota(Perm.begin(), Perm.end(), 0);
  std::swap(Perm[R - 1], Perm[R - 2]);
  return B.create(OpKind::Transpose, {V}, {intsAttr("perm", Perm)});
}

static llvm::Error matmulGrad(Operation &Op, Value *G, llvm::ArrayRef<bool> Need,
                              OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out) {
  Value *A = Op.operand(0), *Bm = Op.operand(1);
  // 1-D operands are promoted to matrices, as the forward op does.
  if (A->Type.rank() == 1) {
    A = B.create(OpKind::Unsqueeze, {A}, {intsAttr("axes", {0})});
    G = B.create(OpKind::Unsqueeze, {G},
                 {intsAttr("axes", {int64_t(G->Type.rank()) - (Bm->Type.rank() == 1 ? 0 : 1)})});
  }
  if (Bm->Type.rank() == 1) {
    Bm = B.create(OpKind::Unsqueeze, {Bm}, {intsAttr("axes", {1})});
    G = B.create(OpKind::Unsqueeze, {G}, {intsAttr("axes", {int64_t(G->Type.rank())})});
  }
  for (unsigned I = 0; I < 2; ++I) {
    if (!Need[I])
      continue;
    Value *Operand = I == 0 ? A : Bm;
    Value *D = I == 0 ? B.create(OpKind::MatMul, {G, swapLast(B, Bm)})
                      : B.create(OpKind::MatMul, {swapLast(B, A), G});
    D = sumToShape(B, D, Operand->Type);
    auto R = reshapeTo(B, D, Op.operand(I)->Type, Op);
    if (!R)
      return R.takeError();
    Out[I] = *R;
  }
  return llvm::Error::success();
}

static llvm::Error convGrad(Operation &Op, Value *G, llvm::ArrayRef<bool> Need,
                            OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0), *W = Op.operand(1);
  const TensorType &XT = X->Type, &WT = W->Type, &YT = Op.result()->Type;
  unsigned S = XT.rank() - 2;
  int64_t Group = Op.getInt("group");
  auto Attr = [&](llvm::StringRef Name, int64_t Default, unsigned Count) {
    Ints V(Op.getInts(Name).begin(), Op.getInts(Name).end());
    if (V.empty())
      V.assign(Count, Default);
    return V;
  };
  Ints Strides = Attr("strides", 1, S), Pads = Attr("pads", 0, 2 * S),
       Dil = Attr("dilations", 1, S);
  for (unsigned I = 0; I < S; ++I)
    if (!XT.dim(2 + I).isStatic() || !WT.dim(2 + I).isStatic() ||
        !YT.dim(2 + I).isStatic())
      return unsupported(Op, "non-static spatial or kernel dims (" + XT.str() +
                                 ", " + WT.str() + ")");
  if (Need[0] && Group == 1 && allEqual(Strides, 1)) {
    // Stride 1: dx is a plain convolution of g with the weights transposed
    // ([C, M, k...]) and flipped, padded by d (k - 1) - p, so it runs on
    // the GEMM path like the forward conv.
    Ints NewPads(2 * S), Perm = {1, 0}, Axes, Starts, Ends, Steps;
    bool Fits = true;
    for (unsigned I = 0; I < S; ++I) {
      int64_t Reach = Dil[I] * (WT.dim(2 + I).size() - 1);
      NewPads[I] = Reach - Pads[I];
      NewPads[S + I] = Reach - Pads[S + I];
      Fits &= NewPads[I] >= 0 && NewPads[S + I] >= 0;
      Perm.push_back(2 + I);
      Axes.push_back(2 + I);
      Starts.push_back(-1);
      Ends.push_back(INT64_MIN);
      Steps.push_back(-1);
    }
    if (Fits) {
      Value *WT2 = B.create(OpKind::Transpose, {W}, {intsAttr("perm", Perm)});
      Value *Flip = B.create(OpKind::Slice, {WT2},
                             {intsAttr("starts", Starts), intsAttr("ends", Ends),
                              intsAttr("axes", Axes), intsAttr("steps", Steps)});
      Out[0] = B.create(OpKind::Conv, {G, Flip},
                        {intsAttr("pads", NewPads), intsAttr("dilations", Dil)});
    }
  }
  if (Need[0] && !Out[0]) {
    // dx: the transposed convolution of g with the same weights; the output
    // padding recovers the input rows the forward stride skipped.
    Ints OutPad;
    for (unsigned I = 0; I < S; ++I) {
      int64_t Covered = Strides[I] * (YT.dim(2 + I).size() - 1) +
                        Dil[I] * (WT.dim(2 + I).size() - 1) + 1 - Pads[I] -
                        Pads[S + I];
      OutPad.push_back(XT.dim(2 + I).size() - Covered);
    }
    Out[0] = B.create(OpKind::ConvTranspose, {G, W},
                      {intsAttr("strides", Strides), intsAttr("pads", Pads),
                       intsAttr("dilations", Dil), intAttr("group", Group),
                       intsAttr("output_padding", OutPad)});
  }
  if (Need[1]) {
    if (!WT.isStatic())
      return unsupported(Op, "weights of non-static shape " + WT.str());
    // dw[M, C*K] = g[M, N*P] @ im2col(x)[N*P, C*K], per group: group j
    // pairs result channels j*M/group.. with input channels j*C/group...
    int64_t M = WT.dim(0).size(), CK = *WT.numElements() / M, P = 1;
    int64_t MG = M / Group, CG = WT.dim(1).size();
    Ints Kernel;
    for (unsigned I = 0; I < S; ++I) {
      Kernel.push_back(WT.dim(2 + I).size());
      P *= YT.dim(2 + I).size();
    }
    llvm::SmallVector<Value *, 4> Parts;
    for (int64_t J = 0; J < Group; ++J) {
      Value *XJ = Group == 1 ? X : sliceChannels(B, X, J * CG, (J + 1) * CG);
      Value *GJ = Group == 1 ? G : sliceChannels(B, G, J * MG, (J + 1) * MG);
      Value *Cols = B.create(OpKind::Im2Col, {XJ},
                             {intsAttr("kernel", Kernel), intsAttr("strides", Strides),
                              intsAttr("pads", Pads), intsAttr("dilations", Dil)});
      Cols = B.create(OpKind::Reshape, {Cols}, {intsAttr("shape", {-1, CK})});
      Value *Gm = B.create(OpKind::Reshape, {GJ}, {intsAttr("shape", {-1, MG, P})});
      Gm = B.create(OpKind::Transpose, {Gm}, {intsAttr("perm", {1, 0, 2})});
      Gm = B.create(OpKind::Reshape, {Gm}, {intsAttr("shape", {MG, -1})});
      Parts.push_back(B.create(OpKind::MatMul, {Gm, Cols}));
    }
    Value *DW = Group == 1 ? Parts[0]
                           : B.create(OpKind::Concat, Parts, {intAttr("axis", 0)});
    Ints WShape;
    for (const Dim &D : WT.dims())
      WShape.push_back(D.size());
    Out[1] = B.create(OpKind::Reshape, {DW}, {intsAttr("shape", WShape)});
  }
  if (Op.numOperands() == 3 && Need[2]) {
    Out[2] = grad::channelSum(B, G, S);
  }
  return llvm::Error::success();
}

Value *grad::channelSum(OpBuilder &B, Value *G, unsigned S) {
  Ints Axes = {0};
  for (unsigned I = 0; I < S; ++I)
    Axes.push_back(2 + I);
  return B.create(OpKind::ReduceSum, {G},
                  {intsAttr("axes", Axes), boolAttr("keepdims", false)});
}

llvm::Error grad::nnGrad(Operation &Op, Value *G, llvm::ArrayRef<bool> Need,
                         OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out) {
  switch (Op.kind()) {
  case OpKind::MatMul:
    return matmulGrad(Op, G, Need, B, Out);
  case OpKind::Conv:
    return convGrad(Op, G, Need, B, Out);
  case OpKind::MaxPool:
  case OpKind::AvgPool:
    return poolGrad(Op, G, B, Out);
  case OpKind::ConvTranspose:
    return convTransposeGrad(Op, G, Need, B, Out);
  case OpKind::Im2Col:
    return im2colGrad(Op, G, B, Out);
  default:
    llvm_unreachable("not an NN op with a gradient rule");
  }
}

/// Normalized [start, end) of a unit-step slice along a dim of size N.
static std::pair<int64_t, int64_t> sliceRange(int64_t Start, int64_t End,
                                              int64_t N) {
  auto Norm = [&](int64_t V) {
    if (V < 0)
      V += N;
    return std::clamp<int64_t>(V, 0, N);
  };
  return {Norm(Start), std::max(Norm(Start), Norm(End))};
}

llvm::Error grad::movementGrad(Operation &Op, llvm::ArrayRef<Value *> ResultGrads,
                               OpBuilder &B, llvm::SmallVectorImpl<Value *> &Out) {
  Value *X = Op.operand(0), *G = ResultGrads[0];
  const TensorType &XT = X->Type;
  unsigned R = XT.rank();
  switch (Op.kind()) {
  case OpKind::Reshape:
  case OpKind::Flatten:
  case OpKind::Squeeze:
  case OpKind::Unsqueeze: {
    auto V = reshapeTo(B, G, XT, Op);
    if (!V)
      return V.takeError();
    Out[0] = *V;
    return llvm::Error::success();
  }
  case OpKind::Transpose: {
    llvm::ArrayRef<int64_t> Perm = Op.getInts("perm");
    Ints Inv(R);
    for (unsigned I = 0; I < R; ++I)
      Inv[Perm.empty() ? R - 1 - I : Perm[I]] = I;
    Out[0] = B.create(OpKind::Transpose, {G}, {intsAttr("perm", Inv)});
    return llvm::Error::success();
  }
  case OpKind::Expand:
    Out[0] = sumToShape(B, G, XT);
    return llvm::Error::success();
  case OpKind::Concat: {
    int64_t Axis = Op.getInt("axis");
    if (Axis < 0)
      Axis += R;
    int64_t Offset = 0;
    for (unsigned I = 0; I < Op.numOperands(); ++I) {
      const Dim &D = Op.operand(I)->Type.dim(Axis);
      if (!D.isStatic())
        return unsupported(Op, "operands of non-static size along the axis");
      Out[I] = B.create(OpKind::Slice, {G},
                        {intsAttr("starts", {Offset}),
                         intsAttr("ends", {Offset + D.size()}),
                         intsAttr("axes", {Axis})});
      Offset += D.size();
    }
    return llvm::Error::success();
  }
  case OpKind::Split: {
    llvm::SmallVector<Value *, 4> Parts;
    for (unsigned I = 0; I < Op.numResults(); ++I)
      Parts.push_back(ResultGrads[I] ? ResultGrads[I]
                                     : broadcastLike(B, B.scalar(XT.elem(), 0.0),
                                                     Op.result(I)));
    Out[0] = B.create(OpKind::Concat, Parts,
                      {intAttr("axis", Op.getInt("axis"))});
    return llvm::Error::success();
  }
  case OpKind::Slice: {
    llvm::ArrayRef<int64_t> Starts = Op.getInts("starts"), Ends = Op.getInts("ends"),
                            Axes = Op.getInts("axes"), Steps = Op.getInts("steps");
    if (!allEqual(Steps, 1))
      return unsupported(Op, "slices with steps other than 1");
    Ints Pads(2 * R, 0);
    for (unsigned I = 0; I < Starts.size(); ++I) {
      int64_t A = Axes.empty() ? I : (Axes[I] < 0 ? Axes[I] + R : Axes[I]);
      if (!XT.dim(A).isStatic())
        return unsupported(Op, "slices along a non-static dim");
      int64_t N = XT.dim(A).size();
      auto [S, E] = sliceRange(Starts[I], Ends[I], N);
      Pads[A] = S;
      Pads[R + A] = N - E;
    }
    Out[0] = B.create(OpKind::Pad, {G}, {intsAttr("pads", Pads)});
    return llvm::Error::success();
  }
  case OpKind::Gather:
    return gatherGrad(Op, G, B, Out);
  case OpKind::Tile:
    return tileGrad(Op, G, B, Out);
  case OpKind::Pad: {
    llvm::ArrayRef<int64_t> Pads = Op.getInts("pads");
    if (Op.getString("mode") != "constant" ||
        llvm::any_of(Pads, [](int64_t P) { return P < 0; }))
      return unsupported(Op, "pads other than non-negative constant padding");
    Ints Starts, Ends, Axes;
    Out[0] = G;
    for (unsigned A = 0; A < R; ++A) {
      if (Pads[A] == 0 && Pads[R + A] == 0)
        continue;
      Axes.push_back(A);
      Starts.push_back(Pads[A]);
      Ends.push_back(Pads[R + A] > 0 ? -Pads[R + A] : INT64_MAX);
    }
    if (!Axes.empty())
      Out[0] = B.create(OpKind::Slice, {G}, {intsAttr("starts", Starts),
                                           intsAttr("ends", Ends),
                                           intsAttr("axes", Axes)});
    return llvm::Error::success();
  }
  default:
    llvm_unreachable("not a movement op with a gradient rule");
  }
}
