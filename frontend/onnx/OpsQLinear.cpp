// ONNX integer and quantized linear ops composed of dlc ops: MatMulInteger
// and ConvInteger ((x - zero point) products summed exactly in f64, then
// i32), QLinearMatMul and QLinearConv (the same sums, times
// x_scale * w_scale / y_scale, rounded half to even, plus y's zero point,
// saturated to y's type by the cast).
#include "frontend/onnx/NodeContext.h"

using namespace dlc;
using namespace dlc::onnximp;

/// X - ZP in f64. A zero point with one entry per row (Axis = rank - 2 of
/// a matmul operand) or per output channel (Axis = 0 of a conv weight)
/// is reshaped to broadcast along that axis.
static Value *centered(NodeContext &C, Value *X, Value *ZP, int64_t Axis) {
  if (!X)
    return nullptr;
  Value *V = C.cast(X, DType::F64);
  if (!ZP)
    return V;
  Value *Z = C.cast(ZP, DType::F64);
  if (Z && Z->Type.rank() == 1 && Axis >= 0 &&
      Axis < int64_t(X->Type.rank()) - 1) {
    std::vector<int64_t> Shape(X->Type.rank() - Axis, 1);
    Shape[0] = -1;
    Z = C.op(OpKind::Reshape, {Z}, {aInts("shape", Shape)});
  }
  return C.op(OpKind::Sub, {V, Z});
}

/// Scale entries per row of Like's Axis (rank-1 with more than one entry)
/// reshaped to broadcast there; scalars and one-entry vectors as they are.
static Value *alongAxis(NodeContext &C, Value *S, unsigned Rank,
                        int64_t Axis) {
  if (!S || S->Type.rank() != 1 || Axis < 0 || Axis >= int64_t(Rank) - 1)
    return S;
  std::vector<int64_t> Shape(Rank - Axis, 1);
  Shape[0] = -1;
  return C.op(OpKind::Reshape, {S}, {aInts("shape", Shape)});
}

static void matMulInteger(NodeContext &C) {
  C.allowAttrs({});
  Value *A = C.in(0), *B = C.in(1);
  if (!A || !B)
    return;
  int64_t RowAxis = int64_t(A->Type.rank()) - 2;
  Value *Y = C.op(OpKind::MatMul,
                  {centered(C, A, C.has(2) ? C.in(2) : nullptr, RowAxis),
                   centered(C, B, C.has(3) ? C.in(3) : nullptr, -1)});
  C.setOutput(0, C.cast(Y, DType::I32));
}

static void convInteger(NodeContext &C) {
  C.allowAttrs({"auto_pad", "dilations", "group", "kernel_shape", "pads",
                "strides"});
  Value *X = C.in(0), *W = C.in(1);
  if (!X || !W)
    return;
  Value *Y = convOf(C, centered(C, X, C.has(2) ? C.in(2) : nullptr, -1),
                    centered(C, W, C.has(3) ? C.in(3) : nullptr, 0), nullptr);
  C.setOutput(0, C.cast(Y, DType::I32));
}

/// round(Acc * XS * WS / YS) + YZ, saturated to YZ's type (u8 without it).
/// The scale product is formed in the scales' own type, as ONNX does.
static Value *requantize(NodeContext &C, Value *Acc, Value *XS, Value *WS,
                         Value *YS, Value *YZ) {
  if (!Acc || !XS || !WS || !YS)
    return nullptr;
  Value *M = C.op(OpKind::Div, {C.op(OpKind::Mul, {XS, WS}), YS});
  Value *Q = C.op(OpKind::Round, {C.op(OpKind::Mul, {Acc, C.cast(M, DType::F64)})});
  DType E = YZ ? YZ->Type.elem() : DType::U8;
  if (YZ)
    Q = C.op(OpKind::Add, {Q, C.cast(YZ, DType::F64)});
  return C.cast(Q, E);
}

static void qlinearMatMul(NodeContext &C) {
  C.allowAttrs({});
  Value *A = C.in(0), *B = C.in(3);
  if (!A || !B)
    return;
  unsigned R = A->Type.rank();
  Value *Acc = C.op(OpKind::MatMul, {centered(C, A, C.in(2), R - 2),
                                     centered(C, B, C.in(5), -1)});
  // Per-row scales of a broadcast along its rows; per-column ones of b
  // along the result's last axis as they are.
  Value *XS = alongAxis(C, C.in(1), R, R - 2);
  C.setOutput(0, requantize(C, Acc, XS, C.in(4), C.in(6), C.in(7)));
}

static void qlinearConv(NodeContext &C) {
  C.allowAttrs({"auto_pad", "dilations", "group", "kernel_shape", "pads",
                "strides"});
  Value *X = C.in(0), *W = C.in(3);
  if (!X || !W)
    return;
  Value *Acc = convOf(C, centered(C, X, C.in(2), -1),
                      centered(C, W, C.in(5), 0), nullptr);
  if (!Acc)
    return;
  unsigned R = Acc->Type.rank();
  if (C.has(8)) // i32 bias per output channel, added before scaling
    Acc = C.op(OpKind::Add,
               {Acc, alongAxis(C, C.cast(C.in(8), DType::F64), R - 1, 0)});
  // Per-output-channel weight scales broadcast along the result's dim 1.
  Value *WS = alongAxis(C, C.in(4), R - 1, 0);
  C.setOutput(0, requantize(C, Acc, C.in(1), WS, C.in(6),
                            C.has(7) ? C.in(7) : nullptr));
}

void onnximp::addQLinearOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"MatMulInteger", 10, matMulInteger, {}},
      {"ConvInteger", 10, convInteger, {}},
      {"QLinearMatMul", 10, qlinearMatMul, {}},
      {"QLinearConv", 10, qlinearConv, {}},
  });
}
