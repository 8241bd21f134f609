// ONNX linear quantization composed of dlc ops: QuantizeLinear
// (round half to even, add the zero point, saturate by the cast),
// DequantizeLinear ((x - zero point) * scale) with per-tensor or per-axis
// scales, and DynamicQuantizeLinear (uint8 with a scale and zero point from
// the data's range), also to and from the 8-, 4- and 2-bit types. Blocked
// quantization is not supported.
#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/OnnxTensor.h"
#include "ir/LowPrecision.h"

using namespace dlc;
using namespace dlc::onnximp;

/// S (a scalar or a 1-D per-axis tensor) shaped to broadcast against X.
static Value *alongAxis(NodeContext &C, Value *S, Value *X) {
  if (!S || !X || S->Type.rank() == 0)
    return S;
  // A 1-element 1-D scale or zero point (as the float8 tests use) is per
  // tensor: it broadcasts against X as it is.
  if (S->Type.rank() == 1 && S->Type.dim(0).isStatic() &&
      S->Type.dim(0).size() == 1 && X->Type.rank() >= 1)
    return S;
  int64_t R = X->Type.rank();
  if (S->Type.rank() != 1) {
    C.fail("blocked quantization (a scale of rank " +
           llvm::Twine(S->Type.rank()) + ") is not supported");
    return nullptr;
  }
  int64_t Axis = C.axisOf(X, 1);
  if (Axis < 0)
    return nullptr;
  std::vector<int64_t> Axes;
  for (int64_t I = Axis + 1; I < R; ++I)
    Axes.push_back(I - Axis);
  return Axes.empty() ? S : C.op(OpKind::Unsqueeze, {S}, {aInts("axes", Axes)});
}

/// Whether the scale S is per tensor (a scalar or a 1-element vector).
static bool perTensor(Value *S) {
  return S && (S->Type.rank() == 0 ||
               (S->Type.rank() == 1 && S->Type.dim(0).isStatic() &&
                S->Type.dim(0).size() == 1));
}

/// The zero point ZP laid out as the scale S is: with a per-tensor scale, a
/// 1-D zero point (whose length may be known only at run time) is its one
/// element.
static Value *zeroPointAlong(NodeContext &C, Value *ZP, Value *S, Value *X) {
  if (ZP && perTensor(S) && ZP->Type.rank() == 1 && !ZP->Type.dim(0).isStatic())
    return C.op(OpKind::Squeeze, {ZP}, {aInts("axes", {0})});
  return alongAxis(C, ZP, X);
}

static void dequantizeLinear(NodeContext &C) {
  C.allowAttrs({"axis", "block_size", "output_dtype"});
  if (C.attrInt("block_size", 0))
    return C.fail("blocked quantization is not supported");
  Value *X = C.in(0), *S = C.in(1);
  if (!X || !S)
    return;
  DType E = S->Type.elem();
  if (C.hasAttr("output_dtype") && C.attrInt("output_dtype", 0)) {
    auto D = dtypeFromOnnx(C.attrInt("output_dtype", 0));
    if (!D || !isFloat(*D))
      return C.fail("output_dtype is not supported");
    E = *D;
  }
  // 16-bit floats compute in f32.
  DType W = E == DType::F64 ? E : DType::F32;
  Value *Y = C.cast(X, W);
  if (C.has(2))
    Y = C.op(OpKind::Sub, {Y, C.cast(zeroPointAlong(C, C.in(2), S, X), W)});
  Y = C.op(OpKind::Mul, {Y, C.cast(alongAxis(C, S, X), W)});
  C.setOutput(0, C.cast(Y, E));
}

/// round(X / Scale) + ZP, saturated to the integer type E by the cast (4-
/// and 2-bit integers by a clip first, as their casts wrap); to a narrow
/// float type, X / Scale + ZP rounded by the cast, saturating if Saturate.
static Value *quantize(NodeContext &C, Value *X, Value *Scale, Value *ZP,
                       DType E, bool Saturate) {
  DType W = X->Type.elem() == DType::F64 ? DType::F64 : DType::F32;
  Value *Q = C.op(OpKind::Div, {C.cast(X, W), C.cast(Scale, W)});
  if (!isNarrowFloat(E))
    Q = C.op(OpKind::Round, {Q});
  if (ZP)
    Q = C.op(OpKind::Add, {Q, C.cast(ZP, W)});
  if (isNarrowInt(E)) {
    int Bits = int(narrowBits(E));
    double Lo = isNarrowSigned(E) ? -(1 << (Bits - 1)) : 0;
    double Hi = isNarrowSigned(E) ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;
    Q = C.op(OpKind::Clip, {Q}, {aFloat("min", Lo), aFloat("max", Hi)});
  }
  if (!isNarrowFloat(E) || Saturate)
    return C.cast(Q, E);
  return C.op(OpKind::Cast, {Q}, {aType("to", E), aBool("saturate", false)});
}

static void quantizeLinear(NodeContext &C) {
  C.allowAttrs({"axis", "block_size", "output_dtype", "saturate", "precision"});
  if (C.attrInt("block_size", 0))
    return C.fail("blocked quantization is not supported");
  Value *X = C.in(0), *S = C.in(1);
  if (!X || !S)
    return;
  Value *ZP = C.has(2) ? C.in(2) : nullptr;
  DType E = DType::U8;
  if (ZP)
    E = ZP->Type.elem();
  else if (C.attrInt("output_dtype", 0)) {
    auto D = dtypeFromOnnx(C.attrInt("output_dtype", 0));
    if (!D)
      return C.fail("output_dtype is not supported");
    E = *D;
  }
  if ((!isInteger(E) && !isNarrow(E)) || E == DType::F8E8M0)
    return C.fail("quantizing to " + dtypeName(E) + " is not supported");
  bool Sat = C.attrInt("saturate", 1) != 0;
  C.setOutput(0, quantize(C, X, alongAxis(C, S, X), zeroPointAlong(C, ZP, S, X),
                          E, Sat));
}

/// scale = (max(x, 0) - min(x, 0)) / 255, zero point = saturate(round(-min /
/// scale)), y = saturate(round(x / scale) + zero point), all uint8.
static void dynamicQuantizeLinear(NodeContext &C) {
  C.allowAttrs({});
  Value *X = C.in(0);
  if (!X)
    return;
  DType E = X->Type.elem();
  std::vector<NamedAttr> All = {aInts("axes", {}), aBool("keepdims", false)};
  Value *Zero = C.scalar(E, 0);
  Value *Hi = C.op(OpKind::Max, {C.op(OpKind::ReduceMax, {X}, All), Zero});
  Value *Lo = C.op(OpKind::Min, {C.op(OpKind::ReduceMin, {X}, All), Zero});
  Value *Scale = C.op(OpKind::Div, {C.op(OpKind::Sub, {Hi, Lo}), C.scalar(E, 255)});
  Value *ZP = C.cast(C.op(OpKind::Round, {C.op(OpKind::Div, {C.op(OpKind::Neg, {Lo}), Scale})}),
                     DType::U8);
  C.setOutput(0, quantize(C, X, Scale, ZP, DType::U8, true));
  C.setOutput(1, Scale);
  C.setOutput(2, ZP);
}

void onnximp::addQuantizeOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"QuantizeLinear", 10, quantizeLinear, {}},
      {"DequantizeLinear", 10, dequantizeLinear, {}},
      {"DynamicQuantizeLinear", 11, dynamicQuantizeLinear, {}},
  });
}
