// ONNX ops whose result sizes come from the data: NonZero, Unique and
// NonMaxSuppression (dlc ops of the DataShape family, run as host steps
// planned once their operands are known), and Compress as a gather at the
// nonzero positions of its condition.
#include "frontend/onnx/NodeContext.h"

#include <cmath>
#include <string>

using namespace dlc;
using namespace dlc::onnximp;

static void nonZero(NodeContext &C) {
  C.allowAttrs({});
  Value *X = C.in(0);
  if (!X)
    return;
  if (X->Type.rank() == 0)
    return C.fail("needs an input of rank >= 1, got " + X->Type.str());
  C.setOutput(0, C.op(OpKind::NonZero, {X}));
}

/// Compress: the entries of the input (flattened when there is no axis) at
/// the positions where the 1-D condition is true.
static void compress(NodeContext &C) {
  C.allowAttrs({"axis"});
  Value *X = C.in(0), *Cond = C.in(1);
  if (!X || !Cond)
    return;
  if (Cond->Type.rank() != 1)
    return C.fail("the condition must be 1-D, got " + Cond->Type.str());
  int64_t Axis = 0;
  if (C.hasAttr("axis")) {
    Axis = C.axisOf(X, 0);
    if (Axis < 0)
      return;
  } else {
    X = C.op(OpKind::Reshape, {X}, {aInts("shape", {-1})});
  }
  Value *Idx = C.op(OpKind::NonZero, {C.cast(Cond, DType::Bool)});
  Idx = C.op(OpKind::Reshape, {Idx}, {aInts("shape", {-1})});
  C.setOutput(0, C.op(OpKind::Gather, {X, Idx}, {aInt("axis", Axis)}));
}

static void unique(NodeContext &C) {
  C.allowAttrs({"axis", "sorted"});
  Value *X = C.in(0);
  if (!X)
    return;
  std::vector<NamedAttr> A = {aBool("sorted", C.attrInt("sorted", 1) != 0)};
  if (C.hasAttr("axis")) {
    int64_t Axis = C.axisOf(X, 0);
    if (Axis < 0)
      return;
    A.push_back(aInt("axis", Axis));
  }
  auto R = C.opN(OpKind::Unique, {X}, A);
  if (R.size() != 4)
    return;
  for (unsigned I = 0; I < 4; ++I)
    if (C.wantsOutput(I))
      C.setOutput(I, R[I]);
}

static void nonMaxSuppression(NodeContext &C) {
  C.allowAttrs({"center_point_box"});
  Value *B = C.in(0), *S = C.in(1);
  if (!B || !S)
    return;
  int64_t Center = C.attrInt("center_point_box", 0);
  if (Center != 0 && Center != 1)
    return C.fail("center_point_box must be 0 or 1, got " +
                  llvm::Twine(Center));
  int64_t Max = 0;
  double Iou = 0;
  std::vector<NamedAttr> A = {aBool("center_point_box", Center == 1)};
  if (C.has(2)) {
    auto M = C.intsIn(2, "max_output_boxes_per_class");
    if (!M)
      return;
    if (M->size() != 1)
      return C.fail("max_output_boxes_per_class must be one integer");
    Max = std::max<int64_t>((*M)[0], 0); // negative: no box
  }
  if (C.has(3)) {
    auto V = C.scalarIn(3, "iou_threshold");
    if (!V)
      return;
    if (!(*V >= 0 && *V <= 1))
      return C.fail("iou_threshold must be in [0, 1], got " +
                    std::to_string(*V));
    Iou = *V;
  }
  if (C.has(4)) {
    auto V = C.scalarIn(4, "score_threshold");
    if (!V)
      return;
    if (std::isnan(*V))
      return C.fail("score_threshold is NaN");
    A.push_back(aFloat("score_threshold", *V));
  }
  A.push_back(aInt("max_output", Max));
  A.push_back(aFloat("iou_threshold", Iou));
  C.setOutput(0, C.op(OpKind::NonMaxSuppression, {B, S}, A));
}

void onnximp::addDataShapeOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"NonZero", 9, nonZero, {}},
      {"Compress", 9, compress, {}},
      {"Unique", 11, unique, {}},
      {"NonMaxSuppression", 10, nonMaxSuppression, {2, 3, 4}},
  });
}
