// ONNX indexing ops composed of dlc ops: GatherElements as a one-hot
// selection along the axis (moved last), which needs a static size there.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

static std::vector<int64_t> axisLast(int64_t R, int64_t Axis) {
  std::vector<int64_t> Perm;
  for (int64_t I = 0; I < R; ++I)
    if (I != Axis)
      Perm.push_back(I);
  Perm.push_back(Axis);
  return Perm;
}

static std::vector<int64_t> inverse(llvm::ArrayRef<int64_t> Perm) {
  std::vector<int64_t> Inv(Perm.size());
  for (size_t I = 0; I < Perm.size(); ++I)
    Inv[Perm[I]] = I;
  return Inv;
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
  if (!X->Type.dim(Axis).isStatic())
    return C.fail("needs a static size along the axis, got " + X->Type.str());
  if (X->Type.elem() == DType::Bool)
    return C.fail("bool data is not supported");
  int64_t D = X->Type.dim(Axis).size();
  // Data restricted to the index's extent in the other dims.
  std::vector<int64_t> Starts, Ends, Axes;
  for (int64_t I = 0; I < R; ++I) {
    if (I == Axis || X->Type.dim(I) == Idx->Type.dim(I))
      continue;
    if (!Idx->Type.dim(I).isStatic())
      return C.fail("indices " + Idx->Type.str() + " and data " +
                    X->Type.str() + " differ in a dynamic dim");
    Starts.push_back(0);
    Ends.push_back(Idx->Type.dim(I).size());
    Axes.push_back(I);
  }
  if (!Axes.empty())
    X = C.op(OpKind::Slice, {X}, {aInts("starts", Starts), aInts("ends", Ends),
                                  aInts("axes", Axes)});
  Value *I64 = C.cast(Idx, DType::I64);
  Value *Neg = C.op(OpKind::Less, {I64, C.scalar(DType::I64, 0)});
  I64 = C.op(OpKind::Where,
             {Neg, C.op(OpKind::Add, {I64, C.scalar(DType::I64, D)}), I64});
  auto Perm = axisLast(R, Axis);
  bool Move = Axis != R - 1;
  if (Move) {
    X = C.op(OpKind::Transpose, {X}, {aInts("perm", Perm)});
    I64 = C.op(OpKind::Transpose, {I64}, {aInts("perm", Perm)});
  }
  Value *Hot = C.op(OpKind::OneHot, {I64}, {aInt("depth", D), aType("dtype", DType::Bool)});
  Value *XU = C.op(OpKind::Unsqueeze, {X}, {aInts("axes", {R - 1})});
  Value *Sel = C.op(OpKind::Where, {Hot, XU, C.scalar(X ? X->Type.elem() : DType::F32, 0)});
  Value *Y = C.op(OpKind::ReduceSum, {Sel}, {aInts("axes", {-1}), aBool("keepdims", false)});
  if (Move)
    Y = C.op(OpKind::Transpose, {Y}, {aInts("perm", inverse(Perm))});
  C.setOutput(0, Y);
}

void onnximp::addIndexingOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"GatherElements", 11, gatherElements, {}},
  });
}
