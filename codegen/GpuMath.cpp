// dlc's own math functions for GPU kernels: the NVPTX backend has no exp,
// log, sin, cos, pow, tanh, expm1, erf or atan, and dlc links no libdevice.
//
// 1. Every such call in the module (LLVM intrinsic or libm name, f32 or f64)
//    becomes a call of an internal function __dlc_<name> computing in f64
//    (f32 arguments are widened and the result narrowed, so f32 results are
//    correctly rounded or within an ulp; f64 ones within a few ulps).
// 2. The algorithms, classic range reduction plus polynomials:
//    exp: x = k ln2 + r (ln2 in two parts), Taylor to r^13, scaled by 2^k
//    in two steps (subnormal results). log: x = m 2^e, m in [sqrt(1/2),
//    sqrt(2)), 2 atanh((m-1)/(m+1)) as a series. sin / cos: x = k pi/2 + r
//    (pi/2 in three parts: within 2 ulps for |x| < 1e5, growing beyond,
//    NaN from 1e15 on), Taylor on r, the
//    quadrant picks sign and function. pow: exp(y log|x|) with the sign and
//    special cases of C's pow. expm1: Taylor near 0, else exp - 1. tanh:
//    expm1(2|x|) / (expm1(2|x|) + 2). erf: the Maclaurin series below 2,
//    1 - erfc by continued fraction below 6, else 1. atan: reduced to
//    [0, tan(pi/8)] by 1/x and (x-1)/(x+1), then the series.
// 3. NaN and infinities follow C's functions.
#include "codegen/GpuEmitter.h"

#include "ir/Location.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicInst.h"

#include <cmath>
#include <functional>

using namespace dlc;

namespace {
class MathBuilder {
public:
  explicit MathBuilder(llvm::Module &M) : M(M), Ctx(M.getContext()), B(Ctx) {}

  /// The f64 function called Name (built on first use), or null.
  llvm::Function *get(llvm::StringRef Name);

private:
  using Body = std::function<llvm::Value *(llvm::Value *, llvm::Value *)>;
  llvm::Function *define(llvm::StringRef Name, unsigned Args, const Body &F) {
    std::string Full = ("__dlc_" + Name).str();
    if (llvm::Function *Old = M.getFunction(Full))
      return Old;
    llvm::Type *D = B.getDoubleTy();
    llvm::SmallVector<llvm::Type *, 2> Params(Args, D);
    auto *Fn = llvm::Function::Create(llvm::FunctionType::get(D, Params, false),
                                      llvm::Function::InternalLinkage, Full, M);
    Fn->addFnAttr(llvm::Attribute::NoUnwind);
    auto Saved = B.saveIP();
    B.SetInsertPoint(llvm::BasicBlock::Create(Ctx, "entry", Fn));
    B.CreateRet(F(Fn->getArg(0), Args > 1 ? Fn->getArg(1) : nullptr));
    B.restoreIP(Saved);
    return Fn;
  }
  llvm::Value *c(double V) { return llvm::ConstantFP::get(B.getDoubleTy(), V); }
  llvm::Value *horner(llvm::Value *X, llvm::ArrayRef<double> Coef) {
    llvm::Value *S = c(Coef.back());
    for (size_t I = Coef.size() - 1; I-- > 0;)
      S = B.CreateFAdd(B.CreateFMul(S, X), c(Coef[I]));
    return S;
  }
  llvm::Value *call(llvm::StringRef Name, llvm::Value *X,
                    llvm::Value *Y = nullptr) {
    llvm::Function *F = get(Name);
    if (Y)
      return B.CreateCall(F, {X, Y});
    return B.CreateCall(F, {X});
  }
  llvm::Value *intr(llvm::Intrinsic::ID ID, llvm::Value *X) {
    return B.CreateUnaryIntrinsic(ID, X);
  }
  llvm::Value *isNan(llvm::Value *X) { return B.CreateFCmpUNO(X, X); }
  llvm::Value *copySign(llvm::Value *Mag, llvm::Value *Sign) {
    return B.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, Mag, Sign);
  }
  /// 2^N for an i64 N in [-1022, 1023].
  llvm::Value *pow2(llvm::Value *N) {
    return B.CreateBitCast(B.CreateShl(B.CreateAdd(N, B.getInt64(1023)), 52),
                           B.getDoubleTy());
  }

  llvm::Value *exp(llvm::Value *X);
  llvm::Value *log(llvm::Value *X);
  llvm::Value *sinCos(llvm::Value *X, bool Cos);
  llvm::Value *pow(llvm::Value *X, llvm::Value *Y);
  llvm::Value *expm1(llvm::Value *X);
  llvm::Value *tanh(llvm::Value *X);
  llvm::Value *erf(llvm::Value *X);
  llvm::Value *atan(llvm::Value *X);

  llvm::Module &M;
  llvm::LLVMContext &Ctx;
  llvm::IRBuilder<> B;
};
} // namespace

static std::vector<double> taylor(unsigned N, unsigned From, unsigned Step,
                                  bool Alternate) {
  // Coefficients of x^(From + Step*i) / (From + Step*i)!, i = 0..N-1, as a
  // polynomial in x^Step.
  std::vector<double> C;
  for (unsigned I = 0; I < N; ++I) {
    unsigned P = From + Step * I;
    double F = 1;
    for (unsigned J = 2; J <= P; ++J)
      F *= J;
    C.push_back((Alternate && (I & 1) ? -1.0 : 1.0) / F);
  }
  return C;
}

llvm::Value *MathBuilder::exp(llvm::Value *X) {
  llvm::Value *Xc = B.CreateSelect(B.CreateFCmpOGT(X, c(709.8)), c(709.8), X);
  Xc = B.CreateSelect(B.CreateFCmpOLT(Xc, c(-745.2)), c(-745.2), Xc);
  Xc = B.CreateSelect(isNan(X), c(0), Xc);
  llvm::Value *K = intr(llvm::Intrinsic::roundeven, B.CreateFMul(Xc, c(1.4426950408889634)));
  llvm::Value *R = B.CreateFSub(B.CreateFSub(Xc, B.CreateFMul(K, c(6.93147180369123816490e-01))),
                                B.CreateFMul(K, c(1.90821492927058770002e-10)));
  llvm::Value *P = horner(R, taylor(14, 0, 1, false));
  llvm::Value *Ki = B.CreateFPToSI(K, B.getInt64Ty());
  llvm::Value *K1 = B.CreateSDiv(Ki, B.getInt64(2));
  llvm::Value *V = B.CreateFMul(B.CreateFMul(P, pow2(K1)), pow2(B.CreateSub(Ki, K1)));
  V = B.CreateSelect(B.CreateFCmpOGT(X, c(709.8)), c(INFINITY), V);
  V = B.CreateSelect(B.CreateFCmpOLT(X, c(-745.2)), c(0), V);
  return B.CreateSelect(isNan(X), X, V);
}

llvm::Value *MathBuilder::log(llvm::Value *X) {
  llvm::Type *I64 = B.getInt64Ty();
  llvm::Value *Special = B.CreateOr(B.CreateFCmpULE(X, c(0)),
                                    B.CreateFCmpOEQ(X, c(INFINITY)));
  llvm::Value *Xs = B.CreateSelect(Special, c(1), X);
  llvm::Value *Sub = B.CreateFCmpOLT(Xs, c(2.2250738585072014e-308));
  Xs = B.CreateSelect(Sub, B.CreateFMul(Xs, c(18014398509481984.0)), Xs); // 2^54
  llvm::Value *Bits = B.CreateBitCast(Xs, I64);
  llvm::Value *E = B.CreateSub(B.CreateAnd(B.CreateLShr(Bits, 52), 0x7ff), B.getInt64(1023));
  E = B.CreateSelect(Sub, B.CreateSub(E, B.getInt64(54)), E);
  llvm::Value *Mb = B.CreateOr(B.CreateAnd(Bits, B.getInt64(0x000fffffffffffffLL)),
                               B.getInt64(int64_t(1023) << 52));
  llvm::Value *Mv = B.CreateBitCast(Mb, B.getDoubleTy());
  llvm::Value *Big = B.CreateFCmpOGT(Mv, c(1.4142135623730951));
  Mv = B.CreateSelect(Big, B.CreateFMul(Mv, c(0.5)), Mv);
  E = B.CreateSelect(Big, B.CreateAdd(E, B.getInt64(1)), E);
  llvm::Value *F = B.CreateFDiv(B.CreateFSub(Mv, c(1)), B.CreateFAdd(Mv, c(1)));
  llvm::Value *S = B.CreateFMul(F, F);
  std::vector<double> Co;
  for (unsigned I = 0; I < 13; ++I)
    Co.push_back(1.0 / (2 * I + 1));
  llvm::Value *LogM = B.CreateFMul(B.CreateFMul(c(2), F), horner(S, Co));
  llvm::Value *Ed = B.CreateSIToFP(E, B.getDoubleTy());
  llvm::Value *V = B.CreateFAdd(B.CreateFMul(Ed, c(6.93147180369123816490e-01)),
                                B.CreateFAdd(LogM, B.CreateFMul(Ed, c(1.90821492927058770002e-10))));
  V = B.CreateSelect(B.CreateFCmpOEQ(X, c(INFINITY)), X, V);
  V = B.CreateSelect(B.CreateFCmpOEQ(X, c(0)), c(-INFINITY), V);
  V = B.CreateSelect(B.CreateFCmpOLT(X, c(0)), c(NAN), V);
  return B.CreateSelect(isNan(X), X, V);
}

llvm::Value *MathBuilder::sinCos(llvm::Value *X, bool Cos) {
  llvm::Value *Fin = B.CreateFCmpOLT(intr(llvm::Intrinsic::fabs, X), c(1e15));
  llvm::Value *Xc = B.CreateSelect(Fin, X, c(0));
  llvm::Value *K = intr(llvm::Intrinsic::roundeven, B.CreateFMul(Xc, c(0.63661977236758134308)));
  llvm::Value *R = B.CreateFSub(Xc, B.CreateFMul(K, c(1.57079632673412561417e+00)));
  R = B.CreateFSub(R, B.CreateFMul(K, c(6.07710050630396597660e-11)));
  R = B.CreateFSub(R, B.CreateFMul(K, c(2.02226624871116645580e-21)));
  llvm::Value *R2 = B.CreateFMul(R, R);
  llvm::Value *S = B.CreateFMul(R, horner(R2, taylor(10, 1, 2, true)));
  llvm::Value *C = horner(R2, taylor(10, 0, 2, true));
  llvm::Value *Q = B.CreateAnd(B.CreateFPToSI(K, B.getInt64Ty()), 3);
  if (Cos)
    Q = B.CreateAnd(B.CreateAdd(Q, B.getInt64(1)), 3); // cos x = sin(x + pi/2)
  llvm::Value *V = B.CreateSelect(
      B.CreateICmpEQ(Q, B.getInt64(0)), S,
      B.CreateSelect(B.CreateICmpEQ(Q, B.getInt64(1)), C,
                     B.CreateSelect(B.CreateICmpEQ(Q, B.getInt64(2)),
                                    B.CreateFNeg(S), B.CreateFNeg(C))));
  // Infinities and NaN give NaN; beyond 1e15 the reduction means nothing.
  return B.CreateSelect(Fin, V, B.CreateSelect(isNan(X), X, c(NAN)));
}

llvm::Value *MathBuilder::pow(llvm::Value *X, llvm::Value *Y) {
  llvm::Value *AX = intr(llvm::Intrinsic::fabs, X);
  llvm::Value *R = call("exp", B.CreateFMul(Y, call("log", AX)));
  llvm::Value *YInt = B.CreateFCmpOEQ(intr(llvm::Intrinsic::floor, Y), Y);
  llvm::Value *Half = B.CreateFMul(Y, c(0.5));
  llvm::Value *Odd = B.CreateAnd(
      YInt, B.CreateFCmpONE(intr(llvm::Intrinsic::floor, Half), Half));
  // x < 0: an integer y keeps the magnitude (negated when odd), others NaN.
  llvm::Value *V = B.CreateSelect(Odd, copySign(R, X), R);
  V = B.CreateSelect(B.CreateAnd(B.CreateAnd(B.CreateFCmpOLT(X, c(0)),
                                             B.CreateFCmpOGT(X, c(-INFINITY))),
                                 B.CreateNot(YInt)),
                     c(NAN), V);
  // |x| = 1 with y = +-inf, and y = 0 or x = 1 for any other operand: 1.
  llvm::Value *One = B.CreateOr(
      B.CreateFCmpOEQ(Y, c(0)),
      B.CreateOr(B.CreateFCmpOEQ(X, c(1)),
                 B.CreateAnd(B.CreateFCmpOEQ(AX, c(1)),
                             B.CreateFCmpOEQ(intr(llvm::Intrinsic::fabs, Y), c(INFINITY)))));
  return B.CreateSelect(One, c(1), V);
}

llvm::Value *MathBuilder::expm1(llvm::Value *X) {
  llvm::Value *Small = B.CreateFCmpOLT(intr(llvm::Intrinsic::fabs, X), c(0.3465));
  llvm::Value *T = B.CreateFMul(X, horner(X, taylor(14, 1, 1, false)));
  llvm::Value *Big = B.CreateFSub(call("exp", X), c(1));
  return B.CreateSelect(Small, T, Big);
}

llvm::Value *MathBuilder::tanh(llvm::Value *X) {
  llvm::Value *AX = intr(llvm::Intrinsic::fabs, X);
  llvm::Value *T = call("expm1", B.CreateFMul(c(2), AX));
  llvm::Value *R = B.CreateFDiv(T, B.CreateFAdd(T, c(2)));
  R = B.CreateSelect(B.CreateFCmpOGT(AX, c(22)), c(1), R);
  return copySign(R, X); // NaN stays NaN
}

llvm::Value *MathBuilder::erf(llvm::Value *X) {
  llvm::Value *AX = intr(llvm::Intrinsic::fabs, X);
  // The series 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)).
  std::vector<double> Co;
  double F = 1;
  for (unsigned N = 0; N <= 55; ++N) {
    if (N)
      F *= N;
    Co.push_back((N & 1 ? -1.0 : 1.0) / (F * (2 * N + 1)));
  }
  llvm::Value *T = B.CreateFMul(AX, AX);
  llvm::Value *Series = B.CreateFMul(B.CreateFMul(c(1.1283791670955126), AX), horner(T, Co));
  // erfc by the continued fraction x + (1/2) / (x + 1 / (x + (3/2) / ...)).
  llvm::Value *Xc = B.CreateSelect(B.CreateFCmpOLT(AX, c(2)), c(2), AX);
  llvm::Value *Fr = Xc;
  for (unsigned N = 60; N >= 1; --N)
    Fr = B.CreateFAdd(Xc, B.CreateFDiv(c(N / 2.0), Fr));
  llvm::Value *Erfc = B.CreateFDiv(
      B.CreateFMul(call("exp", B.CreateFNeg(B.CreateFMul(Xc, Xc))), c(0.5641895835477563)), Fr);
  llvm::Value *V = B.CreateSelect(
      B.CreateFCmpOLT(AX, c(2)), Series,
      B.CreateSelect(B.CreateFCmpOLT(AX, c(6)), B.CreateFSub(c(1), Erfc), c(1)));
  return B.CreateSelect(isNan(X), X, copySign(V, X));
}

llvm::Value *MathBuilder::atan(llvm::Value *X) {
  llvm::Value *AX = intr(llvm::Intrinsic::fabs, X);
  llvm::Value *Inv = B.CreateFCmpOGT(AX, c(1));
  llvm::Value *T = B.CreateSelect(Inv, B.CreateFDiv(c(1), AX), AX);
  llvm::Value *Red = B.CreateFCmpOGT(T, c(0.41421356237309503));
  llvm::Value *U = B.CreateSelect(
      Red, B.CreateFDiv(B.CreateFSub(T, c(1)), B.CreateFAdd(T, c(1))), T);
  std::vector<double> Co;
  for (unsigned I = 0; I < 24; ++I)
    Co.push_back((I & 1 ? -1.0 : 1.0) / (2 * I + 1));
  llvm::Value *P = B.CreateFMul(U, horner(B.CreateFMul(U, U), Co));
  llvm::Value *A = B.CreateSelect(Red, B.CreateFAdd(c(0.78539816339744830962), P), P);
  A = B.CreateSelect(Inv, B.CreateFSub(c(1.57079632679489661923), A), A);
  return copySign(A, X); // NaN stays NaN
}

llvm::Function *MathBuilder::get(llvm::StringRef Name) {
  using V = llvm::Value *;
  if (Name == "exp")
    return define(Name, 1, [&](V X, V) { return exp(X); });
  if (Name == "log")
    return define(Name, 1, [&](V X, V) { return log(X); });
  if (Name == "sin")
    return define(Name, 1, [&](V X, V) { return sinCos(X, false); });
  if (Name == "cos")
    return define(Name, 1, [&](V X, V) { return sinCos(X, true); });
  if (Name == "pow")
    return define(Name, 2, [&](V X, V Y) { return pow(X, Y); });
  if (Name == "expm1")
    return define(Name, 1, [&](V X, V) { return expm1(X); });
  if (Name == "tanh")
    return define(Name, 1, [&](V X, V) { return tanh(X); });
  if (Name == "erf")
    return define(Name, 1, [&](V X, V) { return erf(X); });
  if (Name == "atan")
    return define(Name, 1, [&](V X, V) { return atan(X); });
  return nullptr;
}

/// The function a call computes ("exp", "pow", "sqrt", ...), or "".
static std::string mathName(const llvm::CallInst &CI) {
  const llvm::Function *F = CI.getCalledFunction();
  if (!F)
    return "";
  switch (F->getIntrinsicID()) {
  case llvm::Intrinsic::exp: return "exp";
  case llvm::Intrinsic::log: return "log";
  case llvm::Intrinsic::sin: return "sin";
  case llvm::Intrinsic::cos: return "cos";
  case llvm::Intrinsic::pow: return "pow";
  case llvm::Intrinsic::not_intrinsic: break;
  default: return "";
  }
  llvm::StringRef N = F->getName();
  static const char *const Libm[] = {"exp", "log", "sin", "cos", "pow", "expm1",
                                     "tanh", "erf", "atan", "sqrt"};
  for (const char *L : Libm)
    if (N == L || N == (llvm::Twine(L) + "f").str())
      return L;
  return "";
}

llvm::Error dlc::replaceGpuMath(llvm::Module &M) {
  std::vector<llvm::CallInst *> Calls;
  for (llvm::Function &F : M)
    for (llvm::BasicBlock &BB : F)
      for (llvm::Instruction &I : BB)
        if (auto *CI = llvm::dyn_cast<llvm::CallInst>(&I))
          if (!mathName(*CI).empty())
            Calls.push_back(CI);
  MathBuilder MB(M);
  for (llvm::CallInst *CI : Calls) {
    std::string Name = mathName(*CI);
    llvm::Type *T = CI->getType();
    if (!T->isFloatTy() && !T->isDoubleTy())
      return makeError("GPU math: no implementation of '" + Name + "' on " +
                       (T->isVectorTy() ? "vectors" : "this type"));
    llvm::IRBuilder<> B(CI);
    llvm::SmallVector<llvm::Value *, 2> Args;
    for (llvm::Value *A : CI->args())
      Args.push_back(T->isFloatTy() ? B.CreateFPExt(A, B.getDoubleTy()) : A);
    llvm::Value *R;
    if (Name == "sqrt")
      R = B.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, Args[0]);
    else
      R = B.CreateCall(MB.get(Name), Args);
    if (T->isFloatTy())
      R = B.CreateFPTrunc(R, T);
    CI->replaceAllUsesWith(R);
    CI->eraseFromParent();
  }
  // Declarations of libm functions nobody calls any more.
  for (llvm::Function &F : llvm::make_early_inc_range(M))
    if (F.isDeclaration() && F.use_empty() && !F.isIntrinsic())
      F.eraseFromParent();
  return llvm::Error::success();
}
