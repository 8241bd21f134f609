// Inline f32 exp and tanh (see FastMath.h).
//
// exp: 1. n = round(x log2 e), r = x - n ln2 with ln2 in two parts (the
//         first exact in 16 bits), so |r| <= ln2 / 2 without cancellation;
//      2. e^r by its Taylor polynomial to r^7 (truncation below 4e-9
//         relative), in Horner form;
//      3. times 2^n, built in the exponent bits in two halves so results
//         down to the subnormal range stay exact scalings;
//      4. x above 88.72 gives +inf, below -103.97 gives 0, NaN stays NaN.
// tanh: |x| < 1/8: x (1 - x^2/3 + 2x^4/15 - ...), the series to x^13;
//       else 1 - 2 / (e^{2|x|} + 1), exact to a few ulp there, with x's
//       sign; large |x| saturates to +-1 through exp's +inf.
#include "codegen/FastMath.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace dlc;

namespace {
llvm::Type *intLike(llvm::IRBuilderBase &B, llvm::Type *T) {
  if (auto *VT = llvm::dyn_cast<llvm::VectorType>(T))
    return llvm::VectorType::get(B.getInt32Ty(), VT->getElementCount());
  return B.getInt32Ty();
}

llvm::Value *horner(llvm::IRBuilderBase &B, llvm::Value *X,
                    llvm::ArrayRef<double> Coef) {
  llvm::Type *T = X->getType();
  llvm::Value *S = llvm::ConstantFP::get(T, Coef.back());
  for (size_t I = Coef.size() - 1; I-- > 0;)
    S = B.CreateIntrinsic(llvm::Intrinsic::fma, {T},
                          {S, X, llvm::ConstantFP::get(T, Coef[I])});
  return S;
}

/// 2^N for integer-valued float N in [-149, 128], as two exponent-bit
/// factors of N / 2 each.
llvm::Value *pow2(llvm::IRBuilderBase &B, llvm::Value *N, llvm::Value *P) {
  llvm::Type *T = N->getType(), *IT = intLike(B, T);
  llvm::Value *NI = B.CreateFPToSI(N, IT);
  llvm::Value *Half = B.CreateAShr(NI, llvm::ConstantInt::get(IT, 1));
  llvm::Value *Rest = B.CreateSub(NI, Half);
  auto scale = [&](llvm::Value *E) {
    llvm::Value *Bits = B.CreateShl(B.CreateAdd(E, llvm::ConstantInt::get(IT, 127)),
                                    llvm::ConstantInt::get(IT, 23));
    return B.CreateBitCast(Bits, T);
  };
  return B.CreateFMul(B.CreateFMul(P, scale(Half)), scale(Rest));
}
} // namespace

llvm::Value *dlc::emitExpF32(llvm::IRBuilderBase &B, llvm::Value *X) {
  llvm::Type *T = X->getType();
  auto C = [&](double V) { return llvm::ConstantFP::get(T, V); };
  const double Hi = 88.72283935546875, Lo = -103.97208404541015625;
  // Clamped into the range where n stays within pow2's; the edges and NaN
  // are selected at the end.
  llvm::Value *Xc = B.CreateIntrinsic(llvm::Intrinsic::maxnum, {T},
                                      {B.CreateIntrinsic(llvm::Intrinsic::minnum, {T}, {X, C(Hi)}),
                                       C(Lo)});
  llvm::Value *N = B.CreateUnaryIntrinsic(llvm::Intrinsic::rint,
                                          B.CreateFMul(Xc, C(1.4426950408889634)));
  llvm::Value *R = B.CreateIntrinsic(llvm::Intrinsic::fma, {T},
                                     {N, C(-0.693145751953125), Xc});
  R = B.CreateIntrinsic(llvm::Intrinsic::fma, {T}, {N, C(-1.428606765330187e-06), R});
  llvm::Value *P = horner(B, R, {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120,
                                 1.0 / 720, 1.0 / 5040});
  llvm::Value *E = pow2(B, N, P);
  E = B.CreateSelect(B.CreateFCmpOGT(X, C(Hi)), C(INFINITY), E);
  E = B.CreateSelect(B.CreateFCmpOLT(X, C(Lo)), C(0.0), E);
  return B.CreateSelect(B.CreateFCmpUNO(X, X), X, E);
}

llvm::Value *dlc::emitTanhF32(llvm::IRBuilderBase &B, llvm::Value *X) {
  llvm::Type *T = X->getType();
  auto C = [&](double V) { return llvm::ConstantFP::get(T, V); };
  llvm::Value *A = B.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, X);
  // Near 0: x times a series in x^2 (the Taylor coefficients of tanh).
  llvm::Value *X2 = B.CreateFMul(X, X);
  llvm::Value *Small = B.CreateFMul(
      X, horner(B, X2, {1.0, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835,
                        -1382.0 / 155925, 21844.0 / 6081075}));
  llvm::Value *E = emitExpF32(B, B.CreateFMul(A, C(2.0)));
  llvm::Value *Big = B.CreateFSub(C(1.0), B.CreateFDiv(C(2.0), B.CreateFAdd(E, C(1.0))));
  Big = B.CreateIntrinsic(llvm::Intrinsic::copysign, {T}, {Big, X});
  llvm::Value *R = B.CreateSelect(B.CreateFCmpOLT(A, C(0.125)), Small, Big);
  return B.CreateSelect(B.CreateFCmpUNO(X, X), X, R);
}
