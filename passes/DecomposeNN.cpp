// Decomposition rules for gemm, global pooling, normalization, softmax,
// dropout and the losses.
#include "passes/Decompose.h"

using namespace dlc;

using Values = llvm::SmallVector<Value *, 1>;

static Value *softmaxLike(OpBuilder &B, Value *X, int64_t Axis, bool Log) {
  Value *M = B.create(OpKind::ReduceMax, {X}, {intsAttr("axes", {Axis})});
  Value *D = B.create(OpKind::Sub, {X, M});
  Value *Ex = B.create(OpKind::Exp, {D});
  Value *S = B.create(OpKind::ReduceSum, {Ex}, {intsAttr("axes", {Axis})});
  if (Log)
    return B.create(OpKind::Sub, {D, B.create(OpKind::Log, {S})});
  return B.create(OpKind::Div, {Ex, S});
}

/// [C] -> [C, 1, ..., 1] so that it broadcasts against [N, C, spatial...].
static Value *channelVector(OpBuilder &B, Value *V, unsigned Rank) {
  llvm::SmallVector<int64_t, 4> Axes;
  for (unsigned I = 2; I < Rank; ++I)
    Axes.push_back(I - 1);
  if (Axes.empty())
    return V;
  return B.create(OpKind::Unsqueeze, {V}, {intsAttr("axes", Axes)});
}

DecomposeResult dlc::decomposeNN(Operation &Op, OpBuilder &B) {
  Value *X = Op.operand(0);
  DType E = X->Type.elem();
  unsigned R = X->Type.rank();
  auto C = [&](double V) { return B.scalar(E, V); };
  switch (Op.kind()) {
  case OpKind::Gemm: {
    Value *A = X, *Bm = Op.operand(1);
    if (Op.getBool("trans_a"))
      A = B.create(OpKind::Transpose, {A}, {intsAttr("perm", {1, 0})});
    if (Op.getBool("trans_b"))
      Bm = B.create(OpKind::Transpose, {Bm}, {intsAttr("perm", {1, 0})});
    Value *Y = B.create(OpKind::MatMul, {A, Bm});
    if (Op.getFloat("alpha") != 1.0)
      Y = B.create(OpKind::Mul, {Y, C(Op.getFloat("alpha"))});
    if (Op.numOperands() == 3) {
      Value *Bias = Op.operand(2);
      if (Op.getFloat("beta") != 1.0)
        Bias = B.create(OpKind::Mul, {Bias, C(Op.getFloat("beta"))});
      Y = B.create(OpKind::Add, {Y, Bias});
    }
    return Values{Y};
  }
  case OpKind::GlobalAvgPool:
  case OpKind::GlobalMaxPool: {
    llvm::SmallVector<int64_t, 4> Axes;
    for (unsigned I = 2; I < R; ++I)
      Axes.push_back(I);
    OpKind K = Op.kind() == OpKind::GlobalAvgPool ? OpKind::ReduceMean
                                                  : OpKind::ReduceMax;
    return Values{B.create(K, {X}, {intsAttr("axes", Axes)})};
  }
  case OpKind::BatchNorm: {
    if (Op.getBool("training")) {
      // The batch's statistics over every axis but the channel axis 1:
      // y = (x - mean) * rsqrt(var + eps) * scale + bias, var biased.
      llvm::SmallVector<int64_t, 4> Axes = {0};
      for (unsigned I = 2; I < R; ++I)
        Axes.push_back(I);
      Value *Mean = B.create(OpKind::ReduceMean, {X}, {intsAttr("axes", Axes)});
      Value *D = B.create(OpKind::Sub, {X, Mean});
      Value *Var = B.create(OpKind::ReduceMean, {B.create(OpKind::Mul, {D, D})},
                            {intsAttr("axes", Axes)});
      Value *Inv = B.create(
          OpKind::Rsqrt,
          {B.create(OpKind::Add, {Var, C(Op.getFloat("epsilon"))})});
      Value *Y = B.create(OpKind::Mul, {D, Inv});
      Y = B.create(OpKind::Mul, {Y, channelVector(B, Op.operand(1), R)});
      return Values{
          B.create(OpKind::Add, {Y, channelVector(B, Op.operand(2), R)})};
    }
    // y = x * s + t with s = scale / sqrt(var + eps), t = bias - mean * s;
    // s and t are per-channel and fold to constants for frozen weights.
    Value *Inv = B.create(
        OpKind::Rsqrt,
        {B.create(OpKind::Add, {Op.operand(4), C(Op.getFloat("epsilon"))})});
    Value *S = B.create(OpKind::Mul, {Op.operand(1), Inv});
    Value *T = B.create(OpKind::Sub,
                        {Op.operand(2), B.create(OpKind::Mul, {Op.operand(3), S})});
    Value *Y = B.create(OpKind::Mul, {X, channelVector(B, S, R)});
    return Values{B.create(OpKind::Add, {Y, channelVector(B, T, R)})};
  }
  case OpKind::LayerNorm: {
    int64_t A = Op.getInt("axis");
    if (A < 0)
      A += R;
    llvm::SmallVector<int64_t, 4> Axes;
    for (unsigned I = A; I < R; ++I)
      Axes.push_back(I);
    Value *Mean = B.create(OpKind::ReduceMean, {X}, {intsAttr("axes", Axes)});
    Value *D = B.create(OpKind::Sub, {X, Mean});
    Value *Var = B.create(OpKind::ReduceMean, {B.create(OpKind::Mul, {D, D})},
                          {intsAttr("axes", Axes)});
    Value *Y = B.create(
        OpKind::Mul,
        {D, B.create(OpKind::Rsqrt,
                     {B.create(OpKind::Add, {Var, C(Op.getFloat("epsilon"))})})});
    if (Op.numOperands() > 1)
      Y = B.create(OpKind::Mul, {Y, Op.operand(1)});
    if (Op.numOperands() > 2)
      Y = B.create(OpKind::Add, {Y, Op.operand(2)});
    return Values{Y};
  }
  case OpKind::Softmax:
  case OpKind::LogSoftmax:
    return Values{softmaxLike(B, X, Op.getInt("axis"),
                              Op.kind() == OpKind::LogSoftmax)};
  case OpKind::Dropout: {
    double Ratio = Op.getFloat("ratio");
    if (!Op.getBool("training") || Ratio == 0)
      return Values{X};
    llvm::SmallVector<Value *, 2> Ops = {X};
    if (Op.numOperands() == 2)
      Ops.push_back(Op.operand(1));
    Value *U = B.create(OpKind::RandomUniform, Ops,
                        {intAttr("seed", Op.getInt("seed")),
                         {"dtype", Attribute::getType(E)}});
    Value *Keep = B.create(OpKind::GreaterEqual, {U, C(Ratio)});
    Value *Scaled = B.create(OpKind::Mul, {X, C(1.0 / (1.0 - Ratio))});
    return Values{B.create(OpKind::Where, {Keep, Scaled, C(0.0)})};
  }
  default:
    llvm_unreachable("not an NN composite");
  }
}

DecomposeResult dlc::decomposeLoss(Operation &Op, OpBuilder &B) {
  Value *P = Op.operand(0), *T = Op.operand(1);
  DType E = P->Type.elem();
  auto C = [&](double V) { return B.scalar(E, V); };
  Value *PerElem; // loss per sample (CE/NLL) or per element (MSE/BCE)
  switch (Op.kind()) {
  case OpKind::SoftmaxCrossEntropy:
  case OpKind::NllLoss: {
    Value *LogP = Op.kind() == OpKind::SoftmaxCrossEntropy
                      ? softmaxLike(B, P, 1, /*Log=*/true)
                      : P;
    Value *Target = T;
    if (isInteger(T->Type.elem())) {
      const Dim &Classes = P->Type.dim(1);
      // A symbolic class count takes the depth from the scores at run time.
      Target = Classes.isStatic()
                   ? B.create(OpKind::OneHot, {T},
                              {intAttr("depth", Classes.size()),
                               {"dtype", Attribute::getType(E)}})
                   : B.create(OpKind::OneHot, {T, P},
                              {{"dtype", Attribute::getType(E)}});
    }
    PerElem = B.create(
        OpKind::Neg,
        {B.create(OpKind::ReduceSum, {B.create(OpKind::Mul, {Target, LogP})},
                  {intsAttr("axes", {1}), boolAttr("keepdims", false)})});
    break;
  }
  case OpKind::MseLoss: {
    Value *D = B.create(OpKind::Sub, {P, T});
    PerElem = B.create(OpKind::Mul, {D, D});
    break;
  }
  case OpKind::BceLoss: {
    // -(t * max(log p, -100) + (1 - t) * max(log(1 - p), -100))
    Value *LogP = B.create(OpKind::Max, {B.create(OpKind::Log, {P}), C(-100)});
    Value *Log1mP = B.create(
        OpKind::Max,
        {B.create(OpKind::Log, {B.create(OpKind::Sub, {C(1.0), P})}), C(-100)});
    Value *Pos = B.create(OpKind::Mul, {T, LogP});
    Value *Neg = B.create(OpKind::Mul,
                          {B.create(OpKind::Sub, {C(1.0), T}), Log1mP});
    PerElem = B.create(OpKind::Neg, {B.create(OpKind::Add, {Pos, Neg})});
    break;
  }
  default:
    llvm_unreachable("not a loss");
  }
  llvm::StringRef Red = Op.getString("reduction");
  if (Red == "none")
    return Values{PerElem};
  OpKind K = Red == "sum" ? OpKind::ReduceSum : OpKind::ReduceMean;
  return Values{B.create(K, {PerElem}, {boolAttr("keepdims", false)})};
}
