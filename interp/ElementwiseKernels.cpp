// Interpreter kernels for elementwise ops: unary math, cast, dropout, binary
// arithmetic and comparisons with numpy broadcasting, logical ops and where.
#include "ir/LowPrecision.h"
#include "interp/Kernels.h"

#include "ir/Random.h"

#include <cmath>
#include <limits>

using namespace dlc;
using namespace dlc::interp;

//===----------------------------------------------------------------------===//
// Unary
//===----------------------------------------------------------------------===//

/// Round half to even, independent of the floating-point rounding mode.
static double roundHalfEven(double X) {
  double F = std::floor(X);
  double Diff = X - F;
  double R = F;
  if (Diff > 0.5 || (Diff == 0.5 && std::fmod(F, 2.0) != 0))
    R = F + 1;
  return std::copysign(R, X); // -0.4 rounds to -0, as nearbyint does
}

static double gelu(double X, bool Tanh) {
  if (Tanh) {
    const double C = std::sqrt(2.0 / M_PI);
    return 0.5 * X * (1.0 + std::tanh(C * (X + 0.044715 * X * X * X)));
  }
  return 0.5 * X * (1.0 + std::erf(X / std::sqrt(2.0)));
}

static double unaryFloat(const Operation &Op, double X) {
  switch (Op.kind()) {
  case OpKind::Neg:
    return -X;
  case OpKind::Abs:
    return std::fabs(X);
  case OpKind::Exp:
    return std::exp(X);
  case OpKind::Log:
    return std::log(X);
  case OpKind::Sqrt:
    return std::sqrt(X);
  case OpKind::Rsqrt:
    return 1.0 / std::sqrt(X);
  case OpKind::Reciprocal:
    return 1.0 / X;
  case OpKind::Tanh:
    return std::tanh(X);
  case OpKind::Sigmoid:
    // Stable for large |x|.
    if (X >= 0)
      return 1.0 / (1.0 + std::exp(-X));
    return std::exp(X) / (1.0 + std::exp(X));
  case OpKind::Relu:
    return X < 0 ? 0.0 : X;
  case OpKind::LeakyRelu:
    return X >= 0 ? X : Op.getFloat("alpha") * X;
  case OpKind::Elu:
    return X > 0 ? X : Op.getFloat("alpha") * std::expm1(X);
  case OpKind::Gelu:
    return gelu(X, Op.getString("approximate") == "tanh");
  case OpKind::Erf:
    return std::erf(X);
  case OpKind::Softplus:
    // log(1 + e^x) = max(x, 0) + log1p(e^-|x|).
    return std::fmax(X, 0.0) + std::log1p(std::exp(-std::fabs(X)));
  case OpKind::Clip: {
    double Lo = Op.getFloat("min"), Hi = Op.getFloat("max");
    if (std::isnan(X))
      return X;
    X = X < Lo ? Lo : X;
    return X > Hi ? Hi : X; // min(max(x, lo), hi): hi wins when lo > hi
  }
  case OpKind::Sign:
    if (std::isnan(X))
      return X;
    return X > 0 ? 1.0 : (X < 0 ? -1.0 : 0.0);
  case OpKind::Floor:
    return std::floor(X);
  case OpKind::Ceil:
    return std::ceil(X);
  case OpKind::Round:
    return roundHalfEven(X);
  case OpKind::Sin:
    return std::sin(X);
  case OpKind::Cos:
    return std::cos(X);
  case OpKind::Atan:
    return std::atan(X);
  case OpKind::Identity:
    return X;
  default:
    llvm_unreachable("not a float unary op");
  }
}

/// Double to int64, saturating (NaN gives 0).
static int64_t toI64(double V) {
  if (std::isnan(V))
    return 0;
  if (V <= -9223372036854775808.0)
    return std::numeric_limits<int64_t>::min();
  if (V >= 9223372036854775808.0)
    return std::numeric_limits<int64_t>::max();
  return int64_t(V);
}

/// Unary ops on integer (or bool) elements, exact in int64. Returns false for
/// ops that have no integer form.
static bool unaryInt(const Operation &Op, int64_t X, int64_t &R) {
  switch (Op.kind()) {
  case OpKind::Neg:
    R = int64_t(0ull - uint64_t(X));
    return true;
  case OpKind::Abs:
    R = X < 0 ? int64_t(0ull - uint64_t(X)) : X;
    return true;
  case OpKind::Relu:
    R = X < 0 ? 0 : X;
    return true;
  case OpKind::Sign:
    R = X > 0 ? 1 : (X < 0 ? -1 : 0);
    return true;
  case OpKind::Identity:
    R = X;
    return true;
  case OpKind::Not:
    R = X == 0;
    return true;
  case OpKind::Clip: {
    double Lo = Op.getFloat("min"), Hi = Op.getFloat("max");
    R = X;
    if (double(R) < Lo)
      R = toI64(std::ceil(Lo));
    if (double(R) > Hi)
      R = toI64(std::floor(Hi));
    return true;
  }
  default:
    return false;
  }
}

static void castElem(const Tensor &X, int64_t I, Tensor &R) {
  if (isFloat(X.elem()))
    R.setF(I, X.getF(I)); // saturating, truncating toward zero
  else if (isFloat(R.elem()))
    R.setF(I, double(X.getI(I)));
  else
    R.setI(I, X.getI(I)); // integer to integer wraps, as in C and numpy
}

llvm::Error interp::evalUnary(const Operation &Op, TensorList In,
                              ResultList Out) {
  const Tensor &X = *In[0];
  Tensor &R = Out[0];
  if (llvm::Error E = expectShape(Op, R, X.shape()))
    return E;
  int64_t N = X.numElements();

  if (X.elem() == DType::Str || R.elem() == DType::Str) {
    if (Op.kind() != OpKind::Identity || X.elem() != R.elem())
      return opError(Op, "does not take or make str tensors");
    R = X;
    return llvm::Error::success();
  }
  if (Op.kind() == OpKind::Cast) {
    DType From = X.elem(), To = R.elem();
    if (!isNarrow(From) && !isNarrow(To)) {
      for (int64_t I = 0; I < N; ++I)
        castElem(X, I, R);
      return llvm::Error::success();
    }
    auto Round = parseE8M0Round(Op.getString("round_mode"));
    if (!Round)
      return opError(Op, "round_mode must be up, down or nearest");
    bool Sat = Op.getBool("saturate");
    for (int64_t I = 0; I < N; ++I) {
      if (isNarrow(To) && (isNarrowFloat(To) || isFloat(From) ||
                           isNarrowFloat(From)))
        R.data()[I] = narrowFromDouble(To, X.getF(I), Sat, *Round);
      else if (isNarrow(To))
        R.data()[I] = narrowFromInt(To, X.getI(I));
      else if (isNarrowFloat(From))
        R.setF(I, X.getF(I)); // the exact value, then as from f64
      else
        castElem(X, I, R); // from i4, u4, i2, u2: as from i8, u8
    }
    return llvm::Error::success();
  }
  if (R.elem() != X.elem())
    return opError(Op, "result element type differs from the operand's");

  if (Op.kind() == OpKind::Dropout) {
    if (!Op.getBool("training")) {
      R = X;
      return llvm::Error::success();
    }
    double Ratio = Op.getFloat("ratio");
    if (!(Ratio >= 0 && Ratio <= 1))
      return opError(Op, "ratio must be in [0, 1]");
    int64_t Seed = Op.getInt("seed") + (In.size() > 1 ? In[1]->getI(0) : 0);
    double Scale = Ratio < 1 ? 1.0 / (1.0 - Ratio) : 0.0;
    for (int64_t I = 0; I < N; ++I)
      R.setF(I,
             uniformAt(Seed, uint64_t(I)) >= Ratio ? X.getF(I) * Scale : 0.0);
    return llvm::Error::success();
  }

  if (Op.kind() == OpKind::Not && isInteger(X.elem())) {
    for (int64_t I = 0; I < N; ++I)
      R.setI(I, ~X.getI(I)); // setI wraps to the element width
    return llvm::Error::success();
  }
  if (isNarrow(X.elem())) {
    if (Op.kind() != OpKind::Identity)
      return opError(Op, "unsupported element type " + dtypeName(X.elem()));
    R = X; // codes are copied, never decoded
    return llvm::Error::success();
  }
  if (isIntLike(X.elem())) {
    int64_t V = 0;
    for (int64_t I = 0; I < N; ++I) {
      if (!unaryInt(Op, X.getI(I), V))
        return opError(Op, "unsupported element type " + dtypeName(X.elem()));
      R.setI(I, V);
    }
    return llvm::Error::success();
  }
  if (Op.kind() == OpKind::Not)
    return opError(Op, "operand must be bool");
  for (int64_t I = 0; I < N; ++I)
    R.setF(I, unaryFloat(Op, X.getF(I)));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Binary and where
//===----------------------------------------------------------------------===//

static double binaryFloat(OpKind K, double A, double B) {
  switch (K) {
  case OpKind::Add:
    return A + B;
  case OpKind::Sub:
    return A - B;
  case OpKind::Mul:
    return A * B;
  case OpKind::Div:
    return A / B;
  case OpKind::Pow:
    return std::pow(A, B);
  case OpKind::Max:
    if (std::isnan(A) || std::isnan(B))
      return std::numeric_limits<double>::quiet_NaN();
    return A > B ? A : B;
  case OpKind::Min:
    if (std::isnan(A) || std::isnan(B))
      return std::numeric_limits<double>::quiet_NaN();
    return A < B ? A : B;
  case OpKind::Equal:
    return A == B;
  case OpKind::Less:
    return A < B;
  case OpKind::LessEqual:
    return A <= B;
  case OpKind::Greater:
    return A > B;
  case OpKind::GreaterEqual:
    return A >= B;
  default:
    llvm_unreachable("not a float binary op");
  }
}

/// Integer arithmetic in int64 with two's-complement wrapping (the result
/// type's setI truncates further). Division by zero is reported.
static llvm::Error binaryInt(const Operation &Op, int64_t A, int64_t B,
                             int64_t &R) {
  uint64_t UA = uint64_t(A), UB = uint64_t(B);
  switch (Op.kind()) {
  case OpKind::Add:
    R = int64_t(UA + UB);
    break;
  case OpKind::Sub:
    R = int64_t(UA - UB);
    break;
  case OpKind::Mul:
    R = int64_t(UA * UB);
    break;
  case OpKind::Div:
    if (B == 0)
      return opError(Op, "integer division by zero");
    if (B == -1)
      R = int64_t(0ull - UA); // avoids INT64_MIN / -1
    else
      R = A / B; // C++ truncates toward zero
    break;
  case OpKind::Max:
    R = A > B ? A : B;
    break;
  case OpKind::Min:
    R = A < B ? A : B;
    break;
  // Bitwise on integers; bools are 0 / 1, so this is also the logical form.
  case OpKind::And:
    R = A & B;
    break;
  case OpKind::Or:
    R = A | B;
    break;
  case OpKind::Xor:
    R = A ^ B;
    break;
  case OpKind::Equal:
    R = A == B;
    break;
  case OpKind::Less:
    R = A < B;
    break;
  case OpKind::LessEqual:
    R = A <= B;
    break;
  case OpKind::Greater:
    R = A > B;
    break;
  case OpKind::GreaterEqual:
    R = A >= B;
    break;
  default:
    return opError(Op, "unsupported on integer element types");
  }
  return llvm::Error::success();
}

llvm::Error interp::evalBinary(const Operation &Op, TensorList In,
                               ResultList Out) {
  Tensor &R = Out[0];
  llvm::ArrayRef<int64_t> Shape = R.shape();
  unsigned Rank = Shape.size();
  llvm::SmallVector<Sizes, 3> Strides;
  for (const Tensor *T : In) {
    auto S = broadcastStrides(Op, T->shape(), Shape);
    if (!S)
      return S.takeError();
    Strides.push_back(std::move(*S));
  }
  // Every result dim must come from some operand (no stray size-k dims).
  for (unsigned D = 0; D < Rank; ++D) {
    bool Matched = Shape[D] == 1;
    for (const Tensor *T : In) {
      int Off = int(D) - int(Rank - T->rank());
      Matched |= Off >= 0 && T->shape()[Off] == Shape[D];
    }
    if (!Matched)
      return opError(Op, "result shape " + shapeStr(Shape) +
                             " is not the broadcast of the operands");
  }

  int64_t N = R.numElements();
  Sizes Idx(Rank, 0);
  if (Op.kind() == OpKind::Where) {
    const Tensor &C = *In[0], &A = *In[1], &B = *In[2];
    if (A.elem() != R.elem() || B.elem() != R.elem())
      return opError(Op, "branches must have the result's element type");
    for (int64_t I = 0; I < N; ++I) {
      unravel(I, Shape, Idx);
      bool Cond = C.getI(dot(Idx, Strides[0])) != 0;
      if (Cond)
        copyElem(A, dot(Idx, Strides[1]), R, I);
      else
        copyElem(B, dot(Idx, Strides[2]), R, I);
    }
    return llvm::Error::success();
  }

  const Tensor &A = *In[0], &B = *In[1];
  if (A.elem() == DType::Str || B.elem() == DType::Str) {
    if (Op.kind() != OpKind::Equal || A.elem() != B.elem())
      return opError(Op, "compares str tensors only with equal");
    for (int64_t I = 0; I < N; ++I) {
      unravel(I, Shape, Idx);
      R.setI(I, A.strings()[dot(Idx, Strides[0])] ==
                    B.strings()[dot(Idx, Strides[1])]);
    }
    return llvm::Error::success();
  }
  bool IntPath = isIntLike(A.elem()) && isIntLike(B.elem());
  for (int64_t I = 0; I < N; ++I) {
    unravel(I, Shape, Idx);
    int64_t IA = dot(Idx, Strides[0]), IB = dot(Idx, Strides[1]);
    if (IntPath) {
      int64_t V = 0;
      if (llvm::Error E = binaryInt(Op, A.getI(IA), B.getI(IB), V))
        return E;
      R.setI(I, V);
      continue;
    }
    switch (Op.kind()) {
    case OpKind::And:
    case OpKind::Or:
    case OpKind::Xor:
      return opError(Op, "operands must be bool");
    default:
      R.setF(I, binaryFloat(Op.kind(), A.getF(IA), B.getF(IB)));
    }
  }
  return llvm::Error::success();
}
