// ONNX reductions: Reduce* (axes an attribute before opset 13 for ReduceSum
// and 18 for the others, an input after), the norms and sums composed of
// primitives, ArgMax and ArgMin.
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

namespace {
enum class Red { Sum, Mean, Max, Min, Prod, LogSumExp, L1, L2, SumSquare, LogSum };
}

template <Red R> static void reduce(NodeContext &C) {
  bool AxesInput = C.Opset >= (R == Red::Sum ? 13 : 18);
  C.allowAttrs({"axes", "keepdims", "noop_with_empty_axes"});
  Value *X = C.in(0);
  std::vector<int64_t> Axes;
  if (AxesInput) {
    if (C.hasAttr("axes"))
      return C.fail("'axes' is an input, not an attribute, from opset " +
                    llvm::Twine(R == Red::Sum ? 13 : 18));
    if (C.has(1)) {
      auto A = C.intsIn(1, "axes");
      if (!A)
        return;
      Axes = *A;
    }
  } else {
    Axes = C.attrInts("axes");
  }
  bool Keep = C.attrInt("keepdims", 1);
  if (Axes.empty() && C.attrInt("noop_with_empty_axes", 0))
    return C.setOutput(0, C.op(OpKind::Identity, {X}));
  if (!X)
    return;
  std::vector<NamedAttr> A = {aInts("axes", Axes), aBool("keepdims", Keep)};
  auto Sq = [&](Value *V) { return C.op(OpKind::Mul, {V, V}); };
  Value *Y = nullptr;
  switch (R) {
  case Red::Sum: Y = C.op(OpKind::ReduceSum, {X}, A); break;
  case Red::Mean: Y = C.op(OpKind::ReduceMean, {X}, A); break;
  case Red::Max:
  case Red::Min: {
    // bool: any / all, as a max / min over 0 and 1.
    bool B = X->Type.elem() == DType::Bool;
    Y = C.op(R == Red::Max ? OpKind::ReduceMax : OpKind::ReduceMin,
             {B ? C.cast(X, DType::I32) : X}, A);
    if (B)
      Y = C.cast(Y, DType::Bool);
    break;
  }
  case Red::Prod: Y = C.op(OpKind::ReduceProd, {X}, A); break;
  case Red::LogSumExp: Y = C.op(OpKind::ReduceLogSumExp, {X}, A); break;
  case Red::L1:
    Y = C.op(OpKind::ReduceSum, {C.op(OpKind::Abs, {X})}, A);
    break;
  case Red::L2: {
    DType E = X->Type.elem();
    DType W = isFloat(E) ? E : DType::F64;
    Y = C.op(OpKind::Sqrt, {C.op(OpKind::ReduceSum, {Sq(C.cast(X, W))}, A)});
    Y = C.cast(Y, E);
    break;
  }
  case Red::SumSquare: Y = C.op(OpKind::ReduceSum, {Sq(X)}, A); break;
  case Red::LogSum:
    Y = C.op(OpKind::Log, {C.op(OpKind::ReduceSum, {X}, A)});
    break;
  }
  C.setOutput(0, Y);
}

template <OpKind K> static void argReduce(NodeContext &C) {
  C.allowAttrs({"axis", "keepdims", "select_last_index"});
  C.setOutput(0, C.op(K, {C.in(0)},
                      {aInt("axis", C.attrInt("axis", 0)),
                       aBool("keepdims", C.attrInt("keepdims", 1)),
                       aBool("select_last_index",
                             C.attrInt("select_last_index", 0))}));
}

void onnximp::addReductionOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"ReduceSum", 1, reduce<Red::Sum>, {1}},
      {"ReduceMean", 1, reduce<Red::Mean>, {1}},
      {"ReduceMax", 1, reduce<Red::Max>, {1}},
      {"ReduceMin", 1, reduce<Red::Min>, {1}},
      {"ReduceProd", 1, reduce<Red::Prod>, {1}},
      {"ReduceLogSumExp", 1, reduce<Red::LogSumExp>, {1}},
      {"ReduceL1", 1, reduce<Red::L1>, {1}},
      {"ReduceL2", 1, reduce<Red::L2>, {1}},
      {"ReduceSumSquare", 1, reduce<Red::SumSquare>, {1}},
      {"ReduceLogSum", 1, reduce<Red::LogSum>, {1}},
      {"ArgMax", 1, argReduce<OpKind::ArgMax>, {}},
      {"ArgMin", 1, argReduce<OpKind::ArgMin>, {}},
  });
}
