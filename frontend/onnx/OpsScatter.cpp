// ONNX ScatterElements (and the older Scatter) and ScatterND composed of
// dlc ops, without a scatter primitive: every data position compares its
// linear index with the linear index of every update (a [data..., updates]
// grid), and takes the updates that land on it, combined by the reduction
// (none, add, mul, max, min). The grid costs data x updates elements, so
// this suits the small updates of index-style scatters.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// sum_k Coords[k] * stride_k, the strides those of X's first
/// Coords.size() dims (sizes read at run time where not static).
static Value *linearIndex(NodeContext &C, Value *X,
                          llvm::ArrayRef<Value *> Coords) {
  Value *Lin = nullptr, *Stride = C.scalar(DType::I64, 1);
  for (int64_t K = int64_t(Coords.size()) - 1; K >= 0 && !C.failed(); --K) {
    Value *Term = C.op(OpKind::Mul, {Coords[K], Stride});
    Lin = Lin ? C.op(OpKind::Add, {Lin, Term}) : Term;
    if (K)
      Stride = C.op(OpKind::Mul, {Stride, C.dimOf(X, K)});
  }
  return Lin;
}

/// Index values as i64 with negative ones counted from the end of Size.
static Value *wrapIndex(NodeContext &C, Value *I, Value *Size) {
  I = C.cast(I, DType::I64);
  Value *Neg = C.op(OpKind::Less, {I, C.scalar(DType::I64, 0)});
  return C.op(OpKind::Where, {Neg, C.op(OpKind::Add, {I, Size}), I});
}

/// The result of scattering: Hit [data..., u...] says which update u lands
/// on each data position, U holds the update values broadcast against Hit,
/// NU the number of trailing update axes of Hit.
static Value *combine(NodeContext &C, Value *X, Value *Hit, Value *U,
                      unsigned NU) {
  std::string Red = C.attrStr("reduction", "none");
  int64_t R = Hit->Type.rank();
  std::vector<int64_t> Axes;
  for (unsigned I = 0; I < NU; ++I)
    Axes.push_back(R - NU + I);
  auto reduce = [&](OpKind K, Value *V) {
    // No update axes (one update): the grid is the data already.
    return NU ? C.op(K, {V}, {aInts("axes", Axes), aBool("keepdims", false)}) : V;
  };
  DType E = X->Type.elem();
  Value *XB = X;
  for (unsigned I = 0; I < NU; ++I)
    XB = C.op(OpKind::Unsqueeze, {XB}, {aInts("axes", {-1})});
  if (Red == "none") {
    Value *Any = C.op(OpKind::Greater, {reduce(OpKind::ReduceSum, C.cast(Hit, DType::I64)),
                                        C.scalar(DType::I64, 0)});
    Value *Sum = reduce(OpKind::ReduceSum, C.op(OpKind::Where, {Hit, U, C.scalar(E, 0)}));
    return C.op(OpKind::Where, {Any, Sum, X});
  }
  if (Red == "add")
    return C.op(OpKind::Add, {X, reduce(OpKind::ReduceSum,
                                        C.op(OpKind::Where, {Hit, U, C.scalar(E, 0)}))});
  if (Red == "mul")
    return C.op(OpKind::Mul, {X, reduce(OpKind::ReduceProd,
                                        C.op(OpKind::Where, {Hit, U, C.scalar(E, 1)}))});
  if (Red == "max" || Red == "min") {
    // Positions no update hits keep the data (the where's else branch).
    bool Max = Red == "max";
    Value *Best = reduce(Max ? OpKind::ReduceMax : OpKind::ReduceMin,
                         C.op(OpKind::Where, {Hit, U, XB}));
    return C.op(Max ? OpKind::Max : OpKind::Min, {X, Best});
  }
  C.fail("reduction '" + Red + "' is not supported");
  return nullptr;
}

static void scatterElements(NodeContext &C) {
  C.allowAttrs({"axis", "reduction"});
  Value *X = C.in(0), *Idx = C.in(1), *U = C.in(2);
  if (!X || !Idx || !U)
    return;
  int64_t R = X->Type.rank();
  int64_t Axis = normAxis(C.attrInt("axis", 0), R);
  if (Axis < 0 || Idx->Type.rank() != unsigned(R) || U->Type.rank() != unsigned(R))
    return C.fail("axis and ranks do not match: " + X->Type.str() + ", " +
                  Idx->Type.str() + ", " + U->Type.str());
  if (!isInteger(Idx->Type.elem()))
    return C.fail("indices must be integers, got " + Idx->Type.str());
  if (X->Type.elem() == DType::Bool)
    return C.fail("bool data is not supported");
  // Linear index of each update, and of each data position.
  std::vector<Value *> UC, XC;
  for (int64_t K = 0; K < R; ++K) {
    UC.push_back(K == Axis ? wrapIndex(C, Idx, C.dimOf(X, Axis)) : C.iota(Idx, K));
    XC.push_back(C.iota(X, K));
  }
  Value *LU = linearIndex(C, X, UC), *LX = linearIndex(C, X, XC);
  if (!LU || !LX)
    return;
  // Grid [data..., updates...].
  Value *LXB = LX;
  for (int64_t I = 0; I < R; ++I)
    LXB = C.op(OpKind::Unsqueeze, {LXB}, {aInts("axes", {-1})});
  Value *Hit = C.op(OpKind::Equal, {LXB, LU});
  C.setOutput(0, combine(C, X, Hit, U, R));
}

static void scatterND(NodeContext &C) {
  C.allowAttrs({"reduction"});
  Value *X = C.in(0), *Idx = C.in(1), *U = C.in(2);
  if (!X || !Idx || !U)
    return;
  int64_t R = X->Type.rank(), Q = Idx->Type.rank();
  if (Q < 1)
    return C.fail("indices must have rank 1 or more");
  // The index depth: the last dim of indices, or from the ranks (updates
  // have rank Q - 1 + R - K).
  int64_t K = Idx->Type.dim(Q - 1).isStatic()
                  ? Idx->Type.dim(Q - 1).size()
                  : Q - 1 + R - int64_t(U->Type.rank());
  if (K < 1 || K > R || int64_t(U->Type.rank()) != Q - 1 + R - K)
    return C.fail("indices " + Idx->Type.str() + " and updates " +
                  U->Type.str() + " do not fit data " + X->Type.str());
  if (X->Type.elem() == DType::Bool)
    return C.fail("bool data is not supported");
  // Linear index over the first K data dims: per update row, per position.
  std::vector<Value *> UC, XC;
  for (int64_t T = 0; T < K; ++T) {
    Value *Col = C.op(OpKind::Slice, {Idx}, {aInts("starts", {T}), aInts("ends", {T + 1}),
                                             aInts("axes", {Q - 1})});
    Col = C.op(OpKind::Squeeze, {Col}, {aInts("axes", {Q - 1})});
    UC.push_back(wrapIndex(C, Col, C.dimOf(X, T)));
    XC.push_back(C.iota(X, T));
  }
  Value *LU = linearIndex(C, X, UC), *LX = linearIndex(C, X, XC);
  if (!LU || !LX)
    return;
  // Grid [data..., batch...] with batch the Q - 1 leading dims of indices.
  Value *LXB = LX;
  for (int64_t I = 0; I < Q - 1; ++I)
    LXB = C.op(OpKind::Unsqueeze, {LXB}, {aInts("axes", {-1})});
  Value *Hit = C.op(OpKind::Equal, {LXB, LU});
  // Updates [batch..., slice...] as [slice..., batch...].
  std::vector<int64_t> Perm;
  for (int64_t I = Q - 1; I < int64_t(U->Type.rank()); ++I)
    Perm.push_back(I);
  for (int64_t I = 0; I < Q - 1; ++I)
    Perm.push_back(I);
  Value *UT = C.op(OpKind::Transpose, {U}, {aInts("perm", Perm)});
  C.setOutput(0, combine(C, X, Hit, UT, Q - 1));
}

void onnximp::addScatterOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"ScatterElements", 11, scatterElements, {}},
      {"Scatter", 9, scatterElements, {}},
      {"ScatterND", 11, scatterND, {}},
  });
}
