// ONNX elementwise ops imported as compositions of dlc ops: activations
// (HardSigmoid, HardSwish, Selu, Celu, Mish, Softsign, ThresholdedRelu,
// Shrink, PRelu, Swish), trigonometry (Tan, Sinh, Cosh, Asinh, Acosh,
// Atanh, Asin, Acos), IsNaN, IsInf, Mod, BitShift.
#include "frontend/onnx/NodeContext.h"

#include <cmath>

using namespace dlc;
using namespace dlc::onnximp;

namespace {
/// Small expression helpers over one node's context.
struct MathEx : Arith {
  Value *s(Value *Like, double V) {
    return Like ? C.scalar(Like->Type.elem(), V) : nullptr;
  }
};
} // namespace

static void hardSigmoid(NodeContext &C) {
  C.allowAttrs({"alpha", "beta"});
  MathEx E{C};
  Value *X = C.in(0);
  Value *Y = E.add(E.mul(X, E.s(X, C.attrFloat("alpha", 0.2))),
                   E.s(X, C.attrFloat("beta", 0.5)));
  C.setOutput(0, C.op(OpKind::Clip, {Y}, {aFloat("min", 0), aFloat("max", 1)}));
}

static void hardSwish(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *Y = E.add(E.mul(X, E.s(X, 1.0 / 6)), E.s(X, 0.5));
  Y = C.op(OpKind::Clip, {Y}, {aFloat("min", 0), aFloat("max", 1)});
  C.setOutput(0, E.mul(X, Y));
}

static void selu(NodeContext &C) {
  C.allowAttrs({"alpha", "gamma"});
  MathEx E{C};
  Value *X = C.in(0);
  Value *Y = C.op(OpKind::Elu, {X},
                  {aFloat("alpha", C.attrFloat("alpha", 1.67326319217681884765625))});
  C.setOutput(0, E.mul(Y, E.s(X, C.attrFloat("gamma", 1.05070102214813232421875))));
}

static void celu(NodeContext &C) {
  C.allowAttrs({"alpha"});
  MathEx E{C};
  Value *X = C.in(0);
  double A = C.attrFloat("alpha", 1.0);
  // max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) == alpha * elu(x / alpha)
  Value *Y = C.op(OpKind::Elu, {E.div(X, E.s(X, A))}, {aFloat("alpha", 1.0)});
  C.setOutput(0, E.mul(Y, E.s(X, A)));
}

static void mish(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  C.setOutput(0, E.mul(X, E.un(OpKind::Tanh, E.un(OpKind::Softplus, X))));
}

static void softsign(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  C.setOutput(0, E.div(X, E.add(E.s(X, 1), E.un(OpKind::Abs, X))));
}

static void thresholdedRelu(NodeContext &C) {
  C.allowAttrs({"alpha"});
  MathEx E{C};
  Value *X = C.in(0);
  Value *Gt = E.bin(OpKind::Greater, X, E.s(X, C.attrFloat("alpha", 1.0)));
  C.setOutput(0, E.where(Gt, X, E.s(X, 0)));
}

static void shrink(NodeContext &C) {
  C.allowAttrs({"bias", "lambd"});
  MathEx E{C};
  Value *X = C.in(0);
  double B = C.attrFloat("bias", 0), L = C.attrFloat("lambd", 0.5);
  if (X && !isFloat(X->Type.elem()) && !isSigned(X->Type.elem()) && B != 0)
    return C.fail("bias on unsigned input is not supported");
  Value *Lo = E.bin(OpKind::Less, X, E.s(X, -L));
  Value *Hi = E.bin(OpKind::Greater, X, E.s(X, L));
  Value *R = E.where(Hi, E.sub(X, E.s(X, B)), E.s(X, 0));
  C.setOutput(0, E.where(Lo, E.add(X, E.s(X, B)), R));
}

static void prelu(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0), *Slope = C.in(1);
  // Before opset 7 a 1-D slope of more than one value is per channel (dim
  // 1 of X), not numpy-broadcast against X's last dim.
  if (C.Opset < 7 && X && Slope && Slope->Type.rank() == 1 &&
      X->Type.rank() >= 2 &&
      !(Slope->Type.dim(0).isStatic() && Slope->Type.dim(0).size() == 1)) {
    std::vector<int64_t> Shape(X->Type.rank() - 1, 1);
    Shape[0] = -1;
    Slope = C.op(OpKind::Reshape, {Slope}, {aInts("shape", Shape)});
  }
  Value *Neg = E.bin(OpKind::Less, X, E.s(X, 0));
  C.setOutput(0, E.where(Neg, E.mul(X, Slope), X));
}

static void swish(NodeContext &C) {
  C.allowAttrs({"alpha"});
  MathEx E{C};
  Value *X = C.in(0);
  Value *S = E.un(OpKind::Sigmoid, E.mul(X, E.s(X, C.attrFloat("alpha", 1.0))));
  C.setOutput(0, E.mul(X, S));
}

static void tan(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  C.setOutput(0, E.div(E.un(OpKind::Sin, X), E.un(OpKind::Cos, X)));
}

/// asin(x) = atan(x / sqrt((1 - x)(1 + x))); at |x| = 1 the quotient is
/// +-inf and atan gives +-pi/2; |x| > 1 gives NaN through the sqrt.
static void asin(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *One = E.s(X, 1.0);
  Value *Q = E.mul(E.sub(One, X), E.add(One, X));
  C.setOutput(0, E.un(OpKind::Atan, E.div(X, E.un(OpKind::Sqrt, Q))));
}

/// acos(x) = 2 atan(sqrt((1 - x) / (1 + x))): accurate near x = 1 (where
/// pi/2 - asin(x) would cancel); x = -1 gives 2 atan(inf) = pi.
static void acos(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *One = E.s(X, 1.0);
  Value *R = E.un(OpKind::Sqrt, E.div(E.sub(One, X), E.add(One, X)));
  C.setOutput(0, E.mul(E.s(X, 2.0), E.un(OpKind::Atan, R)));
}

template <bool Cosh> static void hyperbolic(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *P = E.un(OpKind::Exp, X), *N = E.un(OpKind::Exp, E.un(OpKind::Neg, X));
  C.setOutput(0, E.mul(Cosh ? E.add(P, N) : E.sub(P, N), E.s(X, 0.5)));
}

/// asinh(x) = sign(x) log(|x| + sqrt(x^2 + 1)), acosh(x) = log(x +
/// sqrt(x^2 - 1)) (NaN below 1), atanh(x) = log((1 + x) / (1 - x)) / 2.
static void asinh(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *A = E.un(OpKind::Abs, X);
  Value *R = E.un(OpKind::Sqrt, E.add(E.mul(X, X), E.s(X, 1)));
  C.setOutput(0, E.mul(E.un(OpKind::Sign, X), E.un(OpKind::Log, E.add(A, R))));
}

static void acosh(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *R = E.un(OpKind::Sqrt, E.sub(E.mul(X, X), E.s(X, 1)));
  C.setOutput(0, E.un(OpKind::Log, E.add(X, R)));
}

static void atanh(NodeContext &C) {
  C.allowAttrs({});
  MathEx E{C};
  Value *X = C.in(0);
  Value *Q = E.div(E.add(E.s(X, 1), X), E.sub(E.s(X, 1), X));
  C.setOutput(0, E.mul(E.un(OpKind::Log, Q), E.s(X, 0.5)));
}

static void isNaN(NodeContext &C) {
  C.allowAttrs({});
  Value *X = C.in(0);
  C.setOutput(0, C.op(OpKind::Not, {C.op(OpKind::Equal, {X, X})}));
}

static void isInf(NodeContext &C) {
  C.allowAttrs({"detect_positive", "detect_negative"});
  MathEx E{C};
  Value *X = C.in(0);
  bool Pos = C.attrInt("detect_positive", 1), Neg = C.attrInt("detect_negative", 1);
  Value *P = E.bin(OpKind::Equal, X, E.s(X, INFINITY));
  Value *N = E.bin(OpKind::Equal, X, E.s(X, -INFINITY));
  Value *R = Pos && Neg ? E.bin(OpKind::Or, P, N)
             : Pos      ? P
             : Neg      ? N
                        : E.bin(OpKind::And, P, N);
  C.setOutput(0, R);
}

/// Mod: fmod = 1 keeps the dividend's sign (C fmod); fmod = 0 (integers
/// only) the divisor's, as Python's %.
/// BitShift on unsigned integers: x * 2^s (wrapping, exact) or x / 2^s
/// (through f64: exact below 2^53).
static void bitShift(NodeContext &C) {
  C.allowAttrs({"direction"});
  Value *X = C.in(0), *S = C.in(1);
  if (!X || !S)
    return;
  DType E = X->Type.elem();
  if (!isInteger(E) || isSigned(E) || S->Type.elem() != E)
    return C.fail("needs two tensors of one unsigned integer type, got " +
                  X->Type.str() + " and " + S->Type.str());
  std::string Dir = C.attrStr("direction", "");
  if (Dir != "LEFT" && Dir != "RIGHT")
    return C.fail("direction must be \"LEFT\" or \"RIGHT\"");
  Value *P = C.op(OpKind::Pow, {C.scalar(DType::F64, 2), C.cast(S, DType::F64)});
  if (Dir == "LEFT")
    return C.setOutput(0, C.op(OpKind::Mul, {X, C.cast(P, E)}));
  Value *Q = C.op(OpKind::Floor, {C.op(OpKind::Div, {C.cast(X, DType::F64), P})});
  C.setOutput(0, C.cast(Q, E));
}

static void mod(NodeContext &C) {
  C.allowAttrs({"fmod"});
  MathEx E{C};
  Value *A = C.in(0), *B = C.in(1);
  if (!A || !B)
    return;
  bool FMod = C.attrInt("fmod", 0);
  bool Float = isFloat(A->Type.elem());
  if (Float && !FMod)
    return C.fail("fmod = 0 requires integer inputs");
  Value *Q = divide(C, A, B);
  if (Float) // truncate the quotient toward zero
    Q = E.where(E.bin(OpKind::Less, Q, E.s(Q, 0)), E.un(OpKind::Ceil, Q),
                E.un(OpKind::Floor, Q));
  Value *R = E.sub(A, E.mul(Q, B));
  if (!FMod) {
    // Move a non-zero remainder whose sign differs from the divisor's.
    Value *Z = E.s(R, 0);
    Value *Diff = E.bin(OpKind::Xor, E.bin(OpKind::Less, R, Z),
                        E.bin(OpKind::Less, B, E.s(B, 0)));
    Value *Fix = E.bin(OpKind::And, Diff,
                       C.op(OpKind::Not, {E.bin(OpKind::Equal, R, Z)}));
    R = E.where(Fix, E.add(R, B), R);
  }
  C.setOutput(0, R);
}

void onnximp::addMathOps(std::vector<OpEntry> &T) {
  T.insert(T.end(), {
      {"HardSigmoid", 1, hardSigmoid, {}},
      {"HardSwish", 14, hardSwish, {}},
      {"Selu", 1, selu, {}},
      {"Celu", 12, celu, {}},
      {"Mish", 18, mish, {}},
      {"Softsign", 1, softsign, {}},
      {"ThresholdedRelu", 10, thresholdedRelu, {}},
      {"Shrink", 9, shrink, {}},
      {"PRelu", 6, prelu, {}},
      {"Swish", 24, swish, {}},
      {"Tan", 7, tan, {}},
      {"Asin", 7, asin, {}},
      {"Acos", 7, acos, {}},
      {"Sinh", 9, hyperbolic<false>, {}},
      {"Cosh", 9, hyperbolic<true>, {}},
      {"Asinh", 9, asinh, {}},
      {"Acosh", 9, acosh, {}},
      {"Atanh", 9, atanh, {}},
      {"IsNaN", 9, isNaN, {}},
      {"IsInf", 10, isInf, {}},
      {"Mod", 10, mod, {}},
      {"BitShift", 11, bitShift, {}},
  });
}
