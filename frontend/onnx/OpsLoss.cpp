// ONNX losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss for
// any number of spatial dims, class weights and ignore_index, composed of
// one_hot, products and reductions (a class count only known at run time
// is taken from the input's shape).
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// The loss of log-probabilities LP[N, C, d...] at integer targets
/// T[N, d...], with optional class weights W[C].
static Value *nll(NodeContext &C, Value *LP, Value *T, Value *W) {
  if (!LP || !T)
    return nullptr;
  unsigned R = LP->Type.rank();
  if (R < 2) {
    C.fail("needs input [N, C, ...], got " + LP->Type.str());
    return nullptr;
  }
  std::string Red = C.attrStr("reduction", "mean");
  if (Red != "none" && Red != "sum" && Red != "mean") {
    C.fail("reduction '" + Red + "' is not supported");
    return nullptr;
  }
  DType E = LP->Type.elem();
  Value *Ti = C.cast(T, DType::I64);
  Value *Mask = nullptr;
  if (C.hasAttr("ignore_index")) {
    Value *II = C.scalar(DType::I64, double(C.attrInt("ignore_index", 0)));
    Mask = C.op(OpKind::Not, {C.op(OpKind::Equal, {Ti, II})});
    Ti = C.op(OpKind::Where, {Mask, Ti, C.scalar(DType::I64, 0)});
  }
  Value *Hot;
  if (LP->Type.dim(1).isStatic()) {
    Hot = C.op(OpKind::OneHot, {Ti}, {aInt("depth", LP->Type.dim(1).size()),
                                      aType("dtype", E)});
  } else {
    // The depth is the class dim, moved last (its values are not read).
    Value *Like = LP;
    if (R > 2) {
      std::vector<int64_t> Perm, Inv;
      axisLastPerm(R, 1, Perm, Inv);
      Like = C.op(OpKind::Transpose, {LP}, {aInts("perm", Perm)});
    }
    Hot = C.op(OpKind::OneHot, {Ti, Like}, {aInt("depth", 0), aType("dtype", E)});
  }
  if (R > 2) {
    std::vector<int64_t> Perm = {0, int64_t(R) - 1};
    for (unsigned I = 1; I + 1 < R; ++I)
      Perm.push_back(I);
    Hot = C.op(OpKind::Transpose, {Hot}, {aInts("perm", Perm)});
  }
  Value *Picked = C.op(OpKind::ReduceSum, {C.op(OpKind::Mul, {LP, Hot})},
                       {aInts("axes", {1}), aBool("keepdims", false)});
  Value *Wt = W ? C.op(OpKind::Gather, {W, Ti}) : nullptr;
  if (Mask) {
    Value *M = C.cast(Mask, E);
    Wt = Wt ? C.op(OpKind::Mul, {Wt, M}) : M;
  }
  Value *Loss = C.op(OpKind::Neg, {Picked});
  if (Wt)
    Loss = C.op(OpKind::Mul, {Loss, Wt});
  if (Red == "none")
    return Loss;
  std::vector<NamedAttr> All = {aInts("axes", {}), aBool("keepdims", false)};
  Value *Sum = C.op(OpKind::ReduceSum, {Loss}, All);
  if (Red == "sum")
    return Sum;
  if (!Wt)
    return C.op(OpKind::ReduceMean, {Loss}, All);
  return C.op(OpKind::Div, {Sum, C.op(OpKind::ReduceSum, {Wt}, All)});
}

static void nllLoss(NodeContext &C) {
  C.allowAttrs({"reduction", "ignore_index"});
  Value *W = C.has(2) ? C.in(2) : nullptr;
  C.setOutput(0, nll(C, C.in(0), C.in(1), W));
}

static void softmaxCrossEntropy(NodeContext &C) {
  C.allowAttrs({"reduction", "ignore_index"});
  Value *X = C.in(0);
  Value *LP = C.op(OpKind::LogSoftmax, {X}, {aInt("axis", 1)});
  Value *W = C.has(2) ? C.in(2) : nullptr;
  C.setOutput(0, nll(C, LP, C.in(1), W));
  if (C.wantsOutput(1))
    C.setOutput(1, LP);
}

void onnximp::addLossOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"NegativeLogLikelihoodLoss", 12, nllLoss, {}},
      {"SoftmaxCrossEntropyLoss", 12, softmaxCrossEntropy, {}},
  });
}
