// LLVM IR for the elementwise ops, with the reference interpreter's
// semantics: max/min propagate NaN, clip and sign keep NaN, float-to-int
// casts saturate (NaN to 0), round is half to even, integer arithmetic wraps.
#include "codegen/ScalarOps.h"
#include "codegen/FastMath.h"
#include "codegen/NarrowCast.h"

#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

#include <cmath>

using namespace dlc;

double dlc::attrOr(const ScalarOpInput &In, llvm::StringRef Name, double Def) {
  for (const auto &A : In.Attrs)
    if (A.first == Name)
      return A.second;
  return Def;
}

static bool isUnsignedLike(DType T) {
  return T == DType::U8 || T == DType::U16 || T == DType::U32 ||
         T == DType::U64 || T == DType::Bool;
}

static llvm::Value *libm(llvm::IRBuilder<> &B, llvm::Module &M,
                         llvm::StringRef Base, llvm::Value *X) {
  bool F32 = X->getType()->isFloatTy();
  llvm::FunctionCallee F = M.getOrInsertFunction(
      F32 ? (Base + "f").str() : Base.str(), X->getType(), X->getType());
  return B.CreateCall(F, {X});
}

static llvm::Value *unary(llvm::IRBuilder<> &B, llvm::Intrinsic::ID ID,
                          llvm::Value *X) {
  return B.CreateUnaryIntrinsic(ID, X);
}

/// True when V is a floating-point constant (or splat) that is not NaN.
static bool isOrderedConstant(llvm::Value *V) {
  auto *C = llvm::dyn_cast<llvm::Constant>(V);
  if (C && V->getType()->isVectorTy())
    C = C->getSplatValue();
  auto *F = llvm::dyn_cast_or_null<llvm::ConstantFP>(C);
  return F && !F->isNaN();
}

/// max (Less = false) or min of X and Y, NaN when either is. With one
/// operand a constant that is not NaN, a compare and a select with the
/// interpreter's exact semantics (a > b ? a : b, the variable kept when it
/// is NaN) instead of llvm.maximum's sign-of-zero blends: a fused ReLU6
/// took ten instructions per vector that way.
static llvm::Value *emitMaxMin(llvm::IRBuilder<> &B, llvm::Value *X,
                               llvm::Value *Y, bool Less) {
  if (isOrderedConstant(Y))
    return B.CreateSelect(Less ? B.CreateFCmpULT(X, Y) : B.CreateFCmpUGT(X, Y),
                          X, Y);
  if (isOrderedConstant(X))
    return B.CreateSelect(Less ? B.CreateFCmpOLT(X, Y) : B.CreateFCmpOGT(X, Y),
                          X, Y);
  return B.CreateBinaryIntrinsic(
      Less ? llvm::Intrinsic::minimum : llvm::Intrinsic::maximum, X, Y);
}

static llvm::Value *emitFloat(llvm::IRBuilder<> &B, llvm::Module &M,
                              const ScalarOpInput &In) {
  llvm::Value *X = In.Args[0];
  llvm::Type *T = X->getType();
  auto C = [&](double V) { return llvm::ConstantFP::get(T, V); };
  llvm::Value *Y = In.Args.size() > 1 ? In.Args[1] : nullptr;
  // f32 exp, sigmoid and tanh are computed inline (FastMath.h), so loops
  // over them vectorize; f64 calls the C library.
  bool F32 = T->getScalarType()->isFloatTy();
  switch (In.Kind) {
  case OpKind::Neg: return B.CreateFNeg(X);
  case OpKind::Abs: return unary(B, llvm::Intrinsic::fabs, X);
  case OpKind::Exp: return F32 ? emitExpF32(B, X) : unary(B, llvm::Intrinsic::exp, X);
  case OpKind::Log: return unary(B, llvm::Intrinsic::log, X);
  case OpKind::Sqrt: return unary(B, llvm::Intrinsic::sqrt, X);
  case OpKind::Rsqrt:
    return B.CreateFDiv(C(1.0), unary(B, llvm::Intrinsic::sqrt, X));
  case OpKind::Reciprocal: return B.CreateFDiv(C(1.0), X);
  case OpKind::Tanh: return F32 ? emitTanhF32(B, X) : libm(B, M, "tanh", X);
  case OpKind::Sigmoid: {
    llvm::Value *E = F32 ? emitExpF32(B, B.CreateFNeg(X))
                         : unary(B, llvm::Intrinsic::exp, B.CreateFNeg(X));
    return B.CreateFDiv(C(1.0), B.CreateFAdd(C(1.0), E));
  }
  case OpKind::Relu:
    return B.CreateSelect(B.CreateFCmpOLT(X, C(0.0)), C(0.0), X);
  case OpKind::LeakyRelu:
    return B.CreateSelect(B.CreateFCmpOGE(X, C(0.0)), X,
                          B.CreateFMul(C(attrOr(In, "alpha", 0.01)), X));
  case OpKind::Elu:
    return B.CreateSelect(
        B.CreateFCmpOGT(X, C(0.0)), X,
        B.CreateFMul(C(attrOr(In, "alpha", 1.0)), libm(B, M, "expm1", X)));
  case OpKind::Erf: return libm(B, M, "erf", X);
  case OpKind::Clip: {
    llvm::Value *Lo = C(attrOr(In, "min", -INFINITY));
    llvm::Value *Hi = C(attrOr(In, "max", INFINITY));
    llvm::Value *R = B.CreateSelect(B.CreateFCmpOLT(X, Lo), Lo, X);
    return B.CreateSelect(B.CreateFCmpOGT(R, Hi), Hi, R);
  }
  case OpKind::Sign: {
    llvm::Value *S = B.CreateSelect(
        B.CreateFCmpOGT(X, C(0.0)), C(1.0),
        B.CreateSelect(B.CreateFCmpOLT(X, C(0.0)), C(-1.0), C(0.0)));
    return B.CreateSelect(B.CreateFCmpUNO(X, X), X, S);
  }
  case OpKind::Floor: return unary(B, llvm::Intrinsic::floor, X);
  case OpKind::Ceil: return unary(B, llvm::Intrinsic::ceil, X);
  case OpKind::Round: return unary(B, llvm::Intrinsic::roundeven, X);
  case OpKind::Sin: return unary(B, llvm::Intrinsic::sin, X);
  case OpKind::Cos: return unary(B, llvm::Intrinsic::cos, X);
  case OpKind::Atan: return libm(B, M, "atan", X);
  case OpKind::Identity: return X;
  case OpKind::Add: return B.CreateFAdd(X, Y);
  case OpKind::Sub: return B.CreateFSub(X, Y);
  case OpKind::Mul: return B.CreateFMul(X, Y);
  case OpKind::Div: return B.CreateFDiv(X, Y);
  case OpKind::Pow: return B.CreateBinaryIntrinsic(llvm::Intrinsic::pow, X, Y);
  case OpKind::Max: return emitMaxMin(B, X, Y, /*Less=*/false);
  case OpKind::Min: return emitMaxMin(B, X, Y, /*Less=*/true);
  case OpKind::Equal: return B.CreateFCmpOEQ(X, Y);
  case OpKind::Less: return B.CreateFCmpOLT(X, Y);
  case OpKind::LessEqual: return B.CreateFCmpOLE(X, Y);
  case OpKind::Greater: return B.CreateFCmpOGT(X, Y);
  case OpKind::GreaterEqual: return B.CreateFCmpOGE(X, Y);
  default: return nullptr;
  }
}

static llvm::Value *emitInt(llvm::IRBuilder<> &B, const ScalarOpInput &In) {
  llvm::Value *X = In.Args[0];
  llvm::Value *Y = In.Args.size() > 1 ? In.Args[1] : nullptr;
  llvm::Value *Zero = llvm::ConstantInt::get(X->getType(), 0);
  bool U = isUnsignedLike(In.OperandType);
  switch (In.Kind) {
  case OpKind::Neg: return B.CreateNeg(X);
  case OpKind::Abs:
    return U ? X : B.CreateBinaryIntrinsic(llvm::Intrinsic::abs, X, B.getFalse());
  case OpKind::Relu:
    return U ? X : B.CreateBinaryIntrinsic(llvm::Intrinsic::smax, X, Zero);
  case OpKind::Sign: {
    llvm::Value *One = llvm::ConstantInt::get(X->getType(), 1);
    if (U)
      return B.CreateZExt(B.CreateICmpNE(X, Zero), X->getType());
    llvm::Value *MinusOne = llvm::ConstantInt::get(X->getType(), -1, true);
    return B.CreateSelect(B.CreateICmpSGT(X, Zero), One,
                          B.CreateSelect(B.CreateICmpSLT(X, Zero), MinusOne, Zero));
  }
  case OpKind::Identity: return X;
  case OpKind::Add: return B.CreateAdd(X, Y);
  case OpKind::Sub: return B.CreateSub(X, Y);
  case OpKind::Mul: return B.CreateMul(X, Y);
  case OpKind::Max:
    return B.CreateBinaryIntrinsic(U ? llvm::Intrinsic::umax : llvm::Intrinsic::smax, X, Y);
  case OpKind::Min:
    return B.CreateBinaryIntrinsic(U ? llvm::Intrinsic::umin : llvm::Intrinsic::smin, X, Y);
  case OpKind::Equal: return B.CreateICmpEQ(X, Y);
  case OpKind::Less: return U ? B.CreateICmpULT(X, Y) : B.CreateICmpSLT(X, Y);
  case OpKind::LessEqual: return U ? B.CreateICmpULE(X, Y) : B.CreateICmpSLE(X, Y);
  case OpKind::Greater: return U ? B.CreateICmpUGT(X, Y) : B.CreateICmpSGT(X, Y);
  case OpKind::GreaterEqual: return U ? B.CreateICmpUGE(X, Y) : B.CreateICmpSGE(X, Y);
  case OpKind::And: return B.CreateAnd(X, Y);
  case OpKind::Or: return B.CreateOr(X, Y);
  case OpKind::Xor: return B.CreateXor(X, Y);
  case OpKind::Not: return B.CreateNot(X);
  default: return nullptr;
  }
}

static llvm::Value *splitMix64(llvm::IRBuilder<> &B, llvm::Value *X) {
  auto C = [&](uint64_t V) { return B.getInt64(V); };
  X = B.CreateAdd(X, C(0x9E3779B97F4A7C15ull));
  X = B.CreateMul(B.CreateXor(X, B.CreateLShr(X, 30)), C(0xBF58476D1CE4E5B9ull));
  X = B.CreateMul(B.CreateXor(X, B.CreateLShr(X, 27)), C(0x94D049BB133111EBull));
  return B.CreateXor(X, B.CreateLShr(X, 31));
}

/// ir/Random.h's uniformAt(Seed, I) as a double.
static llvm::Value *uniformAt(llvm::IRBuilder<> &B, llvm::Value *Seed,
                              llvm::Value *I) {
  llvm::Value *H = splitMix64(B, B.CreateXor(splitMix64(B, Seed), I));
  llvm::Value *Bits = B.CreateUIToFP(B.CreateLShr(H, 40), B.getDoubleTy());
  return B.CreateFMul(Bits, llvm::ConstantFP::get(B.getDoubleTy(), 1.0 / 16777216.0));
}

/// random_uniform / random_normal on (seed, counter), computed in double
/// exactly as the interpreter does, then rounded to the result type.
static llvm::Value *emitRandom(llvm::IRBuilder<> &B, llvm::Module &M,
                               const ScalarOpInput &In) {
  llvm::Type *D = B.getDoubleTy();
  auto C = [&](double V) { return llvm::ConstantFP::get(D, V); };
  llvm::Value *Seed = In.Args[0], *I = In.Args[1], *R;
  if (In.Kind == OpKind::RandomUniform) {
    double Low = attrOr(In, "low", 0.0), High = attrOr(In, "high", 1.0);
    R = B.CreateFAdd(C(Low), B.CreateFMul(C(High - Low), uniformAt(B, Seed, I)));
  } else {
    llvm::Value *Two = B.CreateShl(I, 1);
    llvm::Value *U1 = uniformAt(B, Seed, Two);
    llvm::Value *U2 = uniformAt(B, Seed, B.CreateOr(Two, B.getInt64(1)));
    llvm::Value *Rad = libm(B, M, "sqrt",
                            B.CreateFMul(C(-2.0), libm(B, M, "log", B.CreateFSub(C(1.0), U1))));
    llvm::Value *N = B.CreateFMul(Rad, libm(B, M, "cos", B.CreateFMul(C(6.283185307179586), U2)));
    R = B.CreateFAdd(C(attrOr(In, "mean", 0.0)),
                     B.CreateFMul(C(attrOr(In, "scale", 1.0)), N));
  }
  return B.CreateFPTrunc(R, scalarComputeType(B, In.ResultType));
}

llvm::Type *dlc::scalarComputeType(llvm::IRBuilder<> &B, DType E) {
  switch (E) {
  case DType::F32: case DType::F16: case DType::BF16: return B.getFloatTy();
  case DType::F64: return B.getDoubleTy();
  case DType::I8: case DType::U8: return B.getInt8Ty();
  case DType::I16: case DType::U16: return B.getInt16Ty();
  case DType::I32: case DType::U32: return B.getInt32Ty();
  case DType::I64: case DType::U64: return B.getInt64Ty();
  case DType::Bool: return B.getInt1Ty();
  case DType::F8E4M3FN: case DType::F8E4M3FNUZ: case DType::F8E5M2:
  case DType::F8E5M2FNUZ: case DType::F8E8M0: case DType::F4E2M1:
  case DType::I4: case DType::U4: case DType::I2: case DType::U2:
    return B.getInt8Ty(); // a code or an extended value: see NarrowCast.h
  case DType::Str:
    break; // never lowered: ops on str tensors run as host steps
  }
  llvm_unreachable("bad dtype");
}

static llvm::Value *emitCast(llvm::IRBuilder<> &B, const ScalarOpInput &In) {
  llvm::Value *X = In.Args[0];
  DType From = In.OperandType, To = In.ResultType;
  llvm::Type *T = scalarComputeType(B, To);
  if (To == DType::Bool)
    return isFloat(From) ? B.CreateFCmpUNE(X, llvm::ConstantFP::get(X->getType(), 0.0))
                         : B.CreateICmpNE(X, llvm::ConstantInt::get(X->getType(), 0));
  if (isFloat(From) && isFloat(To))
    return B.CreateFPCast(X, T);
  if (isFloat(From)) {
    // Round the source to its storage precision first (f16, bf16 compute
    // as float already hold exact values).
    auto ID = isUnsignedLike(To) ? llvm::Intrinsic::fptoui_sat
                              : llvm::Intrinsic::fptosi_sat;
    return B.CreateIntrinsic(ID, {T, X->getType()}, {X});
  }
  if (isFloat(To))
    return isUnsignedLike(From) ? B.CreateUIToFP(X, T) : B.CreateSIToFP(X, T);
  return B.CreateIntCast(X, T, /*isSigned=*/!isUnsignedLike(From));
}

llvm::Value *dlc::emitScalarOp(llvm::IRBuilder<> &B, llvm::Module &M,
                               const ScalarOpInput &In) {
  if (!scalarOpSupported(In.Kind, In.OperandType))
    return nullptr;
  if (In.Kind == OpKind::Cast && (isNarrow(In.OperandType) || isNarrow(In.ResultType)))
    return emitNarrowCast(B, M, In, [&](DType From, DType To, llvm::Value *X) {
      ScalarOpInput Wide = In;
      Wide.OperandType = From;
      Wide.ResultType = To;
      Wide.Args = X;
      return emitCast(B, Wide);
    });
  if (In.Kind == OpKind::Cast)
    return emitCast(B, In);
  if (In.Kind == OpKind::Where)
    return B.CreateSelect(In.Args[0], In.Args[1], In.Args[2]);
  if (In.Kind == OpKind::RandomUniform || In.Kind == OpKind::RandomNormal)
    return emitRandom(B, M, In);
  return isFloat(In.OperandType) ? emitFloat(B, M, In) : emitInt(B, In);
}

bool dlc::scalarOpSupported(OpKind K, DType T) {
  switch (K) {
  case OpKind::RandomUniform: case OpKind::RandomNormal:
    return T == DType::I64; // the seed
  case OpKind::Cast:
  case OpKind::Where:
  case OpKind::Identity:
  case OpKind::Equal:
    return true;
  case OpKind::And: case OpKind::Or: case OpKind::Xor: case OpKind::Not:
    return T == DType::Bool || isInteger(T);
  case OpKind::Add: case OpKind::Sub: case OpKind::Mul: case OpKind::Max:
  case OpKind::Min: case OpKind::Less: case OpKind::LessEqual:
  case OpKind::Greater: case OpKind::GreaterEqual: case OpKind::Neg:
  case OpKind::Abs: case OpKind::Relu: case OpKind::Sign:
    return T != DType::Bool;
  case OpKind::Div: case OpKind::Pow: case OpKind::Exp: case OpKind::Log:
  case OpKind::Sqrt: case OpKind::Rsqrt: case OpKind::Reciprocal:
  case OpKind::Tanh: case OpKind::Sigmoid: case OpKind::LeakyRelu:
  case OpKind::Elu: case OpKind::Erf: case OpKind::Clip: case OpKind::Floor:
  case OpKind::Ceil: case OpKind::Round: case OpKind::Sin: case OpKind::Cos:
  case OpKind::Atan:
    // Integer division needs a divide-by-zero policy first; clip on
    // integers is left to a later step.
    return isFloat(T);
  default:
    return false;
  }
}
