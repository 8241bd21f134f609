// ONNX elementwise ops that map one to one onto dlc ops (unary, binary with
// broadcasting, comparisons, logic, Where, Cast), and the variadic ones.
#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/Subgraph.h"
#include "ir/LowPrecision.h"
#include "frontend/onnx/OnnxTensor.h"
#include "ir/Printer.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

Value *onnximp::divide(NodeContext &C, Value *A, Value *B) {
  if (!A || !B || isFloat(A->Type.elem()))
    return C.op(OpKind::Div, {A, B});
  Value *Q = C.op(OpKind::Div, {C.cast(A, DType::F64), C.cast(B, DType::F64)});
  return C.cast(Q, A->Type.elem());
}

template <OpKind K> static void unary(NodeContext &C) {
  C.allowAttrs({});
  C.setOutput(0, C.op(K, {C.in(0)}));
}

/// Identity also passes a sequence or an empty optional through (opsets 14
/// and 16).
static void identity(NodeContext &C) {
  if (C.numInputs() > 0 && C.has(0) &&
      (C.isSequence(C.Node.input(0)) ||
       C.values().Nones.count(C.Node.input(0)))) {
    C.allowAttrs({});
    if (auto It = itemIn(C, 0))
      setItemOutput(C, 0, *It);
    return;
  }
  unary<OpKind::Identity>(C);
}

/// B aligned for the broadcasting of opsets before 7: with `broadcast` = 1
/// and `axis`, B's dims match A's from axis on (trailing 1s are added so
/// numpy broadcasting applies).
static Value *legacyBroadcast(NodeContext &C, Value *A, Value *B) {
  C.allowAttrs({"broadcast", "axis"});
  if (!A || !B || !C.attrInt("broadcast", 0) || !C.hasAttr("axis"))
    return B;
  int64_t N = A->Type.rank(), K = B->Type.rank();
  int64_t Axis = C.attrInt("axis", 0);
  Axis = Axis < 0 ? Axis + N : Axis;
  std::vector<int64_t> Axes;
  for (int64_t I = K; I < N - Axis; ++I)
    Axes.push_back(I);
  if (Axes.empty())
    return B;
  return C.op(OpKind::Unsqueeze, {B}, {aInts("axes", Axes)});
}

template <OpKind K> static void binary(NodeContext &C) {
  Value *A = C.in(0), *B = C.in(1);
  if (C.Opset < 7)
    B = legacyBroadcast(C, A, B);
  else
    C.allowAttrs({});
  C.setOutput(0, C.op(K, {A, B}));
}

/// Div; integers divide in f64 and truncate toward zero (exact below 2^53)
/// because the CPU kernels have no integer division.
static void div(NodeContext &C) {
  Value *A = C.in(0), *B = C.in(1);
  if (C.Opset < 7)
    B = legacyBroadcast(C, A, B);
  else
    C.allowAttrs({});
  C.setOutput(0, divide(C, A, B));
}

static void leakyRelu(NodeContext &C) {
  C.allowAttrs({"alpha"});
  C.setOutput(0, C.op(OpKind::LeakyRelu, {C.in(0)},
                      {aFloat("alpha", C.attrFloat("alpha", 0.01))}));
}

static void elu(NodeContext &C) {
  C.allowAttrs({"alpha"});
  C.setOutput(0, C.op(OpKind::Elu, {C.in(0)},
                      {aFloat("alpha", C.attrFloat("alpha", 1.0))}));
}

static void gelu(NodeContext &C) {
  C.allowAttrs({"approximate"});
  std::string A = C.attrStr("approximate", "none");
  if (A != "none" && A != "tanh")
    return C.fail("approximate = '" + A + "' is not supported");
  C.setOutput(0, C.op(OpKind::Gelu, {C.in(0)}, {aStr("approximate", A)}));
}

/// Cast (or CastLike) of input 0 to E with the node's saturate and
/// round_mode, which only matter for casts to the 8-bit float types.
static void castTo(NodeContext &C, DType E) {
  Value *X = C.in(0);
  if (!X)
    return;
  std::string RM = C.attrStr("round_mode", "up");
  if (!parseE8M0Round(RM))
    return C.fail("round_mode must be up, down or nearest, got '" + RM + "'");
  if (X->Type.elem() == E)
    return C.setOutput(0, C.op(OpKind::Identity, {X}));
  std::vector<NamedAttr> Attrs = {aType("to", E)};
  if (!C.attrInt("saturate", 1))
    Attrs.push_back(aBool("saturate", false));
  if (RM != "up")
    Attrs.push_back(aStr("round_mode", RM));
  C.setOutput(0, C.op(OpKind::Cast, {X}, Attrs));
}

/// BitCast: the same bytes as another element type of the same size.
static void bitCast(NodeContext &C) {
  C.allowAttrs({"to"});
  Value *X = C.in(0);
  auto E = dtypeFromOnnx(int32_t(C.attrInt("to", 0)));
  if (!X)
    return;
  if (!E)
    return C.fail("'to' is not a supported element type");
  C.setOutput(0, X->Type.elem() == *E
                     ? C.op(OpKind::Identity, {X})
                     : C.op(OpKind::BitCast, {X}, {aType("to", *E)}));
}

static void cast(NodeContext &C) {
  C.allowAttrs({"to", "saturate", "round_mode"});
  int64_t To = C.attrInt("to", 0);
  auto E = dtypeFromOnnx(To);
  if (!E)
    return C.fail("cast to " + onnxTypeName(To) + " is not supported");
  castTo(C, *E);
}

static void castLike(NodeContext &C) {
  C.allowAttrs({"saturate", "round_mode"});
  if (Value *T = C.in(1))
    castTo(C, T->Type.elem());
}

/// Pow: the result has the base's type; integer bases compute in f64.
static void pow(NodeContext &C) {
  if (C.Opset >= 7)
    C.allowAttrs({});
  Value *X = C.in(0), *Y = C.in(1);
  if (C.Opset < 7)
    Y = legacyBroadcast(C, X, Y);
  if (!X || !Y)
    return;
  DType E = X->Type.elem();
  DType W = isFloat(E) ? E : DType::F64;
  Value *R = C.op(OpKind::Pow, {C.cast(X, W), C.cast(Y, W)});
  C.setOutput(0, C.cast(R, E));
}

/// Max, Min, Sum, Mean: variadic with broadcasting.
template <OpKind K, bool Mean = false> static void variadic(NodeContext &C) {
  C.allowAttrs({});
  if (C.numInputs() == 0)
    return C.fail("needs at least one input");
  Value *Acc = C.in(0);
  for (unsigned I = 1; I < C.numInputs(); ++I)
    Acc = C.op(K, {Acc, C.in(I)});
  if (C.numInputs() == 1)
    Acc = C.op(OpKind::Identity, {Acc});
  if (Mean && C.numInputs() > 1 && Acc)
    Acc = divide(C, Acc, C.scalar(Acc->Type.elem(), double(C.numInputs())));
  C.setOutput(0, Acc);
}

/// Clip: min and max are attributes before opset 11, optional inputs after.
static void clip(NodeContext &C) {
  Value *X = C.in(0);
  if (!X)
    return;
  if (C.Opset < 11) {
    C.allowAttrs({"min", "max"});
    C.setOutput(0, C.op(OpKind::Clip, {X},
                        {aFloat("min", C.attrFloat("min", -INFINITY)),
                         aFloat("max", C.attrFloat("max", INFINITY))}));
    return;
  }
  C.allowAttrs({});
  Value *R = X;
  if (C.has(1))
    R = C.op(OpKind::Max, {R, C.in(1)});
  if (C.has(2))
    R = C.op(OpKind::Min, {R, C.in(2)});
  if (R == X)
    R = C.op(OpKind::Identity, {X});
  C.setOutput(0, R);
}

/// Dropout. training_mode (input 2) must be known at import: a constant or
/// an initializer (a graph input is bound per run by dlc::Model's
/// specialization, see OpEntry::ShapeInputs). True: dlc's dropout switched
/// on (the output is random, scaled by 1 / (1 - ratio); the mask, when
/// asked for, is the same draw). False or absent: dlc's dropout in
/// inference form (the output is x), which training switches on.
static void dropout(NodeContext &C) {
  C.allowAttrs({"ratio", "seed", "is_test"});
  bool Training = false;
  if (C.has(2)) {
    const Tensor *T = C.constIn(2);
    if (!T || T->numElements() != 1)
      return C.fail("training_mode must be a one-element constant or "
                    "initializer; make it one (or give its value when the "
                    "model runs: `dlc run` binds a graph input's value)");
    Training = T->getI(0) != 0;
  }
  Value *X = C.in(0);
  double Ratio = C.attrFloat("ratio", 0.5);
  bool Known = true;
  if (C.has(1)) {
    const Tensor *R = C.constIn(1);
    Known = R && R->numElements() == 1;
    if (Known)
      Ratio = R->getF(0);
  }
  if (Training && !Known)
    return C.fail("in training mode the ratio must be a one-element constant "
                  "or initializer");
  if (Training && !(Ratio >= 0 && Ratio < 1))
    return C.fail("ratio must be in [0, 1), got " + formatDouble(Ratio));
  if (!X)
    return;
  bool Float = isFloat(X->Type.elem());
  if (Training && !Float)
    return C.fail("training mode needs a float input, got " + X->Type.str());
  int64_t Seed = C.attrInt("seed", 0);
  // dlc's dropout in inference form (the output is x) when not training, so
  // that training (dlc train, the Trainer) switches it on. A ratio known
  // only at run time cannot be, and the node stays the identity it is at
  // inference.
  if (Known && Ratio >= 0 && Ratio < 1 && Float) {
    std::vector<NamedAttr> A = {aFloat("ratio", Ratio), aInt("seed", Seed)};
    if (Training)
      A.push_back(aBool("training", true));
    C.setOutput(0, C.op(OpKind::Dropout, {X}, std::move(A)));
  } else {
    C.setOutput(0, C.op(OpKind::Identity, {X}));
  }
  if (!C.wantsOutput(1))
    return;
  if (Training && Ratio > 0) {
    // The elements dropout keeps: the same uniform draw as its
    // decomposition (seed, x's shape), compared with the ratio.
    DType E = X->Type.elem();
    Value *U = C.op(OpKind::RandomUniform, {X},
                    {aInt("seed", Seed), {"dtype", Attribute::getType(E)}});
    C.setOutput(1, C.op(OpKind::GreaterEqual, {U, C.scalar(E, Ratio)}));
    return;
  }
  // Inference (or ratio 0): the mask keeps every element.
  Value *Z = C.op(OpKind::Equal, {X, X});
  C.setOutput(1, C.op(OpKind::Or, {Z, C.op(OpKind::Not, {Z})}));
}

void onnximp::addElementwiseOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"Abs", 1, unary<OpKind::Abs>, {}},
      {"Neg", 1, unary<OpKind::Neg>, {}},
      {"Exp", 1, unary<OpKind::Exp>, {}},
      {"Log", 1, unary<OpKind::Log>, {}},
      {"Sqrt", 1, unary<OpKind::Sqrt>, {}},
      {"Reciprocal", 1, unary<OpKind::Reciprocal>, {}},
      {"Tanh", 1, unary<OpKind::Tanh>, {}},
      {"Sigmoid", 1, unary<OpKind::Sigmoid>, {}},
      {"Relu", 1, unary<OpKind::Relu>, {}},
      {"Erf", 1, unary<OpKind::Erf>, {}},
      {"Softplus", 1, unary<OpKind::Softplus>, {}},
      {"Sign", 1, unary<OpKind::Sign>, {}},
      {"Floor", 1, unary<OpKind::Floor>, {}},
      {"Ceil", 1, unary<OpKind::Ceil>, {}},
      {"Round", 1, unary<OpKind::Round>, {}},
      {"Sin", 1, unary<OpKind::Sin>, {}},
      {"Cos", 1, unary<OpKind::Cos>, {}},
      {"Atan", 7, unary<OpKind::Atan>, {}},
      {"Not", 1, unary<OpKind::Not>, {}},
      {"Identity", 1, identity, {}},
      {"LeakyRelu", 1, leakyRelu, {}},
      {"Elu", 1, elu, {}},
      {"Gelu", 20, gelu, {}},
      {"Cast", 1, cast, {}},
      {"BitCast", 26, bitCast, {}},
      {"CastLike", 15, castLike, {}},
      {"Add", 1, binary<OpKind::Add>, {}},
      {"Sub", 1, binary<OpKind::Sub>, {}},
      {"Mul", 1, binary<OpKind::Mul>, {}},
      {"Div", 1, div, {}},
      {"Pow", 1, pow, {}},
      {"And", 1, binary<OpKind::And>, {}},
      {"Or", 1, binary<OpKind::Or>, {}},
      {"Xor", 1, binary<OpKind::Xor>, {}},
      // dlc's and / or / xor / not are bitwise on integers.
      {"BitwiseAnd", 18, binary<OpKind::And>, {}},
      {"BitwiseOr", 18, binary<OpKind::Or>, {}},
      {"BitwiseXor", 18, binary<OpKind::Xor>, {}},
      {"BitwiseNot", 18, unary<OpKind::Not>, {}},
      {"Equal", 1, binary<OpKind::Equal>, {}},
      {"Less", 1, binary<OpKind::Less>, {}},
      {"LessOrEqual", 12, binary<OpKind::LessEqual>, {}},
      {"Greater", 1, binary<OpKind::Greater>, {}},
      {"GreaterOrEqual", 12, binary<OpKind::GreaterEqual>, {}},
      {"Max", 1, variadic<OpKind::Max>, {}},
      {"Min", 1, variadic<OpKind::Min>, {}},
      {"Sum", 1, variadic<OpKind::Add>, {}},
      {"Mean", 1, variadic<OpKind::Add, true>, {}},
      {"Clip", 1, clip, {}},
      {"Dropout", 1, dropout, {1, 2}},
  });
  T.push_back({"Where", 9, [](NodeContext &C) {
                 C.allowAttrs({});
                 C.setOutput(0, C.op(OpKind::Where,
                                     {C.in(0), C.in(1), C.in(2)}));
               }, {}});
}
