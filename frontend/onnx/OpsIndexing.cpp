// ONNX indexing ops composed of dlc ops. GatherElements is a gather from the
// flattened data at linear indices built from the index values along the
// axis and the positions (iota) along the other dims; sizes come from the
// data's shape at run time when they are not static. TopK ranks each
// element by comparing it with every other one along the axis (an N x N
// grid), picks ranks 0..k-1 with one_hot, and gathers their values.
// GatherND gathers from the data with its indexed dims flattened.
// ReverseSequence is a gather along the time axis.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// X's elements at integer indices Idx (of X's rank) along Axis, the other
/// coordinates being Idx's own; negative indices count from the end. An
/// out-of-range index fails at run time (gather rejects it).
static Value *gatherAlong(NodeContext &C, Value *X, Value *Idx, int64_t Axis) {
  int64_t R = X->Type.rank();
  Value *I64 = C.cast(Idx, DType::I64);
  Value *Zero = C.scalar(DType::I64, 0);
  Value *D = C.dimOf(X, Axis);
  Value *Neg = C.op(OpKind::Less, {I64, Zero});
  I64 = C.op(OpKind::Where, {Neg, C.op(OpKind::Add, {I64, D}), I64});
  // Positions outside the data (an index out of range, or indices larger
  // than the data in another dim) get an index that gather rejects.
  Value *Bad = C.op(OpKind::Or, {C.op(OpKind::Less, {I64, Zero}),
                                 C.op(OpKind::GreaterEqual, {I64, D})});
  Value *Lin = nullptr, *Stride = C.scalar(DType::I64, 1);
  for (int64_t K = R - 1; K >= 0 && !C.failed(); --K) {
    Value *Coord = I64;
    if (K != Axis) {
      Coord = C.iota(Idx, K);
      const Dim &DI = Idx->Type.dim(K), &DX = X->Type.dim(K);
      if (!(DI.isStatic() && DX.isStatic() && DI.size() <= DX.size()))
        Bad = C.op(OpKind::Or, {Bad, C.op(OpKind::GreaterEqual,
                                          {Coord, C.dimOf(X, K)})});
    }
    Value *Term = C.op(OpKind::Mul, {Coord, Stride});
    Lin = Lin ? C.op(OpKind::Add, {Lin, Term}) : Term;
    Stride = C.op(OpKind::Mul, {Stride, C.dimOf(X, K)});
  }
  if (!Lin) {
    C.fail("needs rank 1 or more");
    return nullptr;
  }
  Lin = C.op(OpKind::Where, {Bad, C.scalar(DType::I64, -4.0e18), Lin});
  Value *Flat = C.op(OpKind::Reshape, {X}, {aInts("shape", {-1})});
  return C.op(OpKind::Gather, {Flat, Lin}, {aInt("axis", 0)});
}

static void gatherElements(NodeContext &C) {
  C.allowAttrs({"axis"});
  Value *X = C.in(0), *Idx = C.in(1);
  if (!X || !Idx)
    return;
  int64_t R = X->Type.rank();
  int64_t Axis = normAxis(C.attrInt("axis", 0), R);
  if (Axis < 0 || Idx->Type.rank() != unsigned(R))
    return C.fail("axis and ranks do not match: " + X->Type.str() + ", " +
                  Idx->Type.str());
  if (!isInteger(Idx->Type.elem()))
    return C.fail("indices must be integers, got " + Idx->Type.str());
  C.setOutput(0, gatherAlong(C, X, Idx, Axis));
}

/// ReverseSequence: along time_axis, the first sequence_lens[b] entries of
/// each batch entry b reversed, the rest kept: a gather along time_axis at
/// t < len ? len - 1 - t : t.
static void reverseSequence(NodeContext &C) {
  C.allowAttrs({"batch_axis", "time_axis"});
  Value *X = C.in(0), *Len = C.in(1);
  if (!X || !Len)
    return;
  int64_t BA = C.attrInt("batch_axis", 1), TA = C.attrInt("time_axis", 0);
  if (X->Type.rank() < 2 || (BA != 0 && BA != 1) || (TA != 0 && TA != 1) ||
      BA == TA)
    return C.fail("batch_axis and time_axis must be 0 and 1 or 1 and 0 of "
                  "an input of rank >= 2, got " + llvm::Twine(BA) + ", " +
                  llvm::Twine(TA) + " and " + X->Type.str());
  if (Len->Type.rank() != 1 || !isInteger(Len->Type.elem()))
    return C.fail("sequence_lens must be a 1-D integer tensor, got " +
                  Len->Type.str());
  std::vector<int64_t> Shape(X->Type.rank(), 1);
  Shape[BA] = -1;
  Value *L = C.op(OpKind::Reshape, {C.cast(Len, DType::I64)},
                  {aInts("shape", Shape)});
  Value *T = C.iota(X, TA);
  Value *Rev = C.op(OpKind::Sub, {C.op(OpKind::Sub, {L, T}),
                                  C.scalar(DType::I64, 1)});
  Value *Idx = C.op(OpKind::Where, {C.op(OpKind::Less, {T, L}), Rev, T});
  C.setOutput(0, gatherAlong(C, X, Idx, TA));
}

/// GatherND (batch_dims = 0): the first K dims of the data flattened into
/// one, indexed by the linear index of each index row.
static void gatherND(NodeContext &C) {
  C.allowAttrs({"batch_dims"});
  Value *X = C.in(0), *Idx = C.in(1);
  if (!X || !Idx)
    return;
  if (C.attrInt("batch_dims", 0) != 0)
    return C.fail("batch_dims other than 0 is not supported");
  int64_t R = X->Type.rank(), Q = Idx->Type.rank();
  if (Q < 1 || !Idx->Type.dim(Q - 1).isStatic())
    return Q < 1 ? C.fail("indices need a static last dim, got " +
                          Idx->Type.str())
                 : C.failNeedsStatic(Idx->Type.dim(Q - 1),
                                     "indices need a static last dim, got " +
                                         Idx->Type.str());
  int64_t K = Idx->Type.dim(Q - 1).size();
  if (K < 1 || K > R || !isInteger(Idx->Type.elem()))
    return C.fail("indices " + Idx->Type.str() + " do not fit data " +
                  X->Type.str());
  // Data as [first K dims, rest...]: the rest must be static to reshape.
  std::vector<int64_t> Flat = {-1};
  for (int64_t D = K; D < R; ++D) {
    if (!X->Type.dim(D).isStatic())
      return C.failNeedsStatic(X->Type.dim(D),
                               "needs static data dims after the indexed "
                               "ones, got " +
                    X->Type.str());
    Flat.push_back(X->Type.dim(D).size());
  }
  Value *Lin = nullptr, *Stride = C.scalar(DType::I64, 1);
  Value *Bad = nullptr;
  for (int64_t T = K - 1; T >= 0 && !C.failed(); --T) {
    Value *Col = C.op(OpKind::Slice, {Idx}, {aInts("starts", {T}), aInts("ends", {T + 1}),
                                             aInts("axes", {Q - 1})});
    Col = C.cast(C.op(OpKind::Squeeze, {Col}, {aInts("axes", {Q - 1})}), DType::I64);
    Value *D = C.dimOf(X, T);
    Value *Neg = C.op(OpKind::Less, {Col, C.scalar(DType::I64, 0)});
    Col = C.op(OpKind::Where, {Neg, C.op(OpKind::Add, {Col, D}), Col});
    Value *Out = C.op(OpKind::Or, {C.op(OpKind::Less, {Col, C.scalar(DType::I64, 0)}),
                                   C.op(OpKind::GreaterEqual, {Col, D})});
    Bad = Bad ? C.op(OpKind::Or, {Bad, Out}) : Out;
    Value *Term = C.op(OpKind::Mul, {Col, Stride});
    Lin = Lin ? C.op(OpKind::Add, {Lin, Term}) : Term;
    Stride = C.op(OpKind::Mul, {Stride, D});
  }
  if (C.failed())
    return;
  // An index out of range gets one that gather rejects.
  Lin = C.op(OpKind::Where, {Bad, C.scalar(DType::I64, -4.0e18), Lin});
  Value *XF = C.op(OpKind::Reshape, {X}, {aInts("shape", Flat)});
  C.setOutput(0, C.op(OpKind::Gather, {XF, Lin}, {aInt("axis", 0)}));
}

static void topK(NodeContext &C) {
  C.allowAttrs({"axis", "k", "largest", "sorted"});
  Value *X = C.in(0);
  if (!X)
    return;
  int64_t K;
  if (C.Opset < 10) {
    K = C.attrInt("k", -1);
  } else {
    auto V = C.intsIn(1, "K");
    if (!V)
      return;
    if (V->size() != 1)
      return C.fail("K must hold one value");
    K = (*V)[0];
  }
  int64_t R = X->Type.rank();
  int64_t Axis = C.axisOf(X, -1);
  if (Axis < 0)
    return;
  if (K < 0 || (X->Type.dim(Axis).isStatic() && K > X->Type.dim(Axis).size()))
    return C.fail("K = " + llvm::Twine(K) + " is not in [0, " +
                  X->Type.dim(Axis).str() + "]");
  if (X->Type.elem() == DType::Bool)
    return C.fail("bool data is not supported");
  bool Largest = C.attrInt("largest", 1);
  std::vector<int64_t> Perm, Inv;
  axisLastPerm(R, Axis, Perm, Inv);
  Value *Y = Axis == R - 1 ? X : C.op(OpKind::Transpose, {X}, {aInts("perm", Perm)});
  // Grid [.., i, j]: element j is ranked before element i when it is larger
  // (smaller), or equal with a lower index.
  Value *Xi = C.op(OpKind::Unsqueeze, {Y}, {aInts("axes", {R})});
  Value *Xj = C.op(OpKind::Unsqueeze, {Y}, {aInts("axes", {R - 1})});
  Value *Ai = C.op(OpKind::Expand, {Xi, Xj}), *Aj = C.op(OpKind::Expand, {Xj, Xi});
  Value *I = C.iota(Ai, R - 1), *J = C.iota(Ai, R);
  Value *Before = C.op(
      OpKind::Or,
      {C.op(Largest ? OpKind::Greater : OpKind::Less, {Aj, Ai}),
       C.op(OpKind::And, {C.op(OpKind::Equal, {Aj, Ai}), C.op(OpKind::Less, {J, I})})});
  Value *Rank = C.op(OpKind::ReduceSum, {C.cast(Before, DType::I64)},
                     {aInts("axes", {R}), aBool("keepdims", false)});
  // Hit [.., i, k]: element i has rank k < K.
  Value *Hit = C.op(OpKind::OneHot, {Rank}, {aInt("depth", std::max<int64_t>(K, 1)),
                                             aType("dtype", DType::Bool)});
  Value *Pos = C.op(OpKind::Unsqueeze, {C.iota(Y, R - 1)}, {aInts("axes", {R})});
  Value *Idx = C.op(OpKind::ReduceSum,
                    {C.op(OpKind::Where, {Hit, Pos, C.scalar(DType::I64, 0)})},
                    {aInts("axes", {R - 1}), aBool("keepdims", false)});
  // A rank that no element has (K larger than the axis at run time) gets
  // an index that the gather below rejects.
  Value *Count = C.op(OpKind::ReduceSum, {C.cast(Hit, DType::I64)},
                      {aInts("axes", {R - 1}), aBool("keepdims", false)});
  Idx = C.op(OpKind::Where, {C.op(OpKind::Equal, {Count, C.scalar(DType::I64, 1)}),
                             Idx, C.scalar(DType::I64, -4.0e18)});
  if (K == 0) { // an empty result along the axis
    std::vector<int64_t> Starts(1, 0), Ends(1, 0), Axes(1, R - 1);
    Idx = C.op(OpKind::Slice, {Idx}, {aInts("starts", Starts), aInts("ends", Ends),
                                      aInts("axes", Axes)});
  }
  Value *Vals = gatherAlong(C, Y, Idx, R - 1);
  if (Axis != R - 1) {
    Vals = C.op(OpKind::Transpose, {Vals}, {aInts("perm", Inv)});
    Idx = C.op(OpKind::Transpose, {Idx}, {aInts("perm", Inv)});
  }
  C.setOutput(0, Vals);
  C.setOutput(1, Idx);
}

void onnximp::addIndexingOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"GatherElements", 11, gatherElements, {}},
      {"ReverseSequence", 10, reverseSequence, {}},
      {"TopK", 1, topK, {1}},
      {"GatherND", 11, gatherND, {}},
  });
}
