// Casts from and to the narrow element types as LLVM IR: table lookups to
// decode 8- and 4-bit float codes, integer rounding of the source's bits to
// encode them, and shifts that wrap 4- and 2-bit integers. The interpreter's
// reference (ir/LowPrecision.cpp) computes the same codes with double math.
#include "codegen/NarrowCast.h"
#include "ir/LowPrecision.h"

#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

#include <cmath>
#include <vector>

using namespace dlc;

/// The value of each code of T as float, from a constant table in M.
static llvm::Value *decode(llvm::IRBuilder<> &B, llvm::Module &M, DType T,
                           llvm::Value *X) {
  std::string Name = ("dlc.narrow." + dtypeName(T)).str();
  llvm::GlobalVariable *G = M.getGlobalVariable(Name, /*AllowInternal=*/true);
  llvm::ArrayType *AT = llvm::ArrayType::get(B.getFloatTy(), 256);
  if (!G) {
    std::vector<float> Vals(256);
    for (unsigned C = 0; C < 256; ++C)
      Vals[C] = float(narrowToDouble(T, uint8_t(C)));
    G = new llvm::GlobalVariable(
        M, AT, /*isConstant=*/true, llvm::GlobalValue::PrivateLinkage,
        llvm::ConstantDataArray::get(M.getContext(), llvm::ArrayRef<float>(Vals)), Name);
  }
  llvm::Value *Idx = B.CreateZExt(X, X->getType()->getWithNewType(B.getInt64Ty()));
  llvm::Value *Ptr = B.CreateInBoundsGEP(AT, G, {B.getInt64(0), Idx});
  if (auto *VT = llvm::dyn_cast<llvm::VectorType>(X->getType()))
    return B.CreateMaskedGather(VT->getWithNewType(B.getFloatTy()), Ptr,
                                llvm::Align(4));
  return B.CreateAlignedLoad(B.getFloatTy(), Ptr, llvm::Align(4));
}

/// The f8e8m0 code of F (float): its exponent field, rounded as ONNX does.
static llvm::Value *encodeE8M0(llvm::IRBuilder<> &B, llvm::Value *F,
                               bool Saturate, E8M0Round Round) {
  llvm::Type *IT = F->getType()->getWithNewType(B.getInt32Ty());
  auto C = [&](uint64_t V) { return llvm::ConstantInt::get(IT, V); };
  llvm::Value *Bits = B.CreateBitCast(F, IT);
  llvm::Value *E = B.CreateAnd(B.CreateLShr(Bits, C(23)), C(0xFF));
  llvm::Value *Inc = llvm::ConstantInt::getFalse(IT->getWithNewType(B.getInt1Ty()));
  if (Round == E8M0Round::Up)
    Inc = B.CreateICmpNE(B.CreateAnd(Bits, C(0x7FFFFF)), C(0));
  else if (Round == E8M0Round::Nearest)
    Inc = B.CreateAnd(
        B.CreateICmpNE(B.CreateAnd(Bits, C(0x400000)), C(0)),
        B.CreateOr(B.CreateICmpNE(B.CreateAnd(Bits, C(0x3FFFFF)), C(0)),
                   B.CreateICmpNE(E, C(0))));
  if (Saturate)
    Inc = B.CreateAnd(Inc, B.CreateICmpNE(E, C(0xFE)));
  llvm::Value *R = B.CreateAdd(E, B.CreateZExt(Inc, IT));
  R = B.CreateSelect(B.CreateICmpEQ(E, C(0xFF)), C(0xFF), R);
  return B.CreateTrunc(R, IT->getWithNewType(B.getInt8Ty()));
}

/// The code of T nearest to F (float or double), ties to even.
static llvm::Value *encodeFloat(llvm::IRBuilder<> &B, DType T, llvm::Value *F,
                                bool Saturate) {
  NarrowFloatFormat Fmt = narrowFloatFormat(T);
  bool Dbl = F->getType()->getScalarType()->isDoubleTy();
  unsigned W = Dbl ? 64 : 32, SM = Dbl ? 52 : 23;
  int64_t SB = Dbl ? 1023 : 127;
  llvm::Type *IT = F->getType()->getWithNewType(B.getIntNTy(W));
  llvm::Type *I8 = F->getType()->getWithNewType(B.getInt8Ty());
  auto C = [&](uint64_t V) { return llvm::ConstantInt::get(IT, V); };
  auto C8 = [&](uint64_t V) { return llvm::ConstantInt::get(I8, V); };
  uint64_t SignMask = uint64_t(1) << (W - 1);
  uint64_t InfBits = (SB * 2 + 1) << SM;
  int64_t TB = Fmt.Bias, M = Fmt.Mant;

  llvm::Value *Bits = B.CreateBitCast(F, IT);
  llvm::Value *A = B.CreateAnd(Bits, C(~SignMask));
  llvm::Value *Neg = B.CreateICmpNE(B.CreateAnd(Bits, C(SignMask)), C(0));
  llvm::Value *IsNaN = B.CreateICmpUGT(A, C(InfBits));
  // Below the target's smallest normal: scale so that its subnormal step is
  // 1, round to an integer (exact: the scale is a power of two).
  llvm::Value *IsSub = B.CreateICmpULT(A, C(uint64_t(SB + 1 - TB) << SM));
  llvm::Value *Scaled = B.CreateFMul(
      B.CreateBitCast(A, F->getType()),
      llvm::ConstantFP::get(F->getType(), std::ldexp(1.0, int(TB - 1 + M))));
  llvm::Value *Sub = B.CreateIntrinsic(
      llvm::Intrinsic::fptoui_sat, {IT, F->getType()},
      {B.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, Scaled)});
  // Normal: drop the extra mantissa bits rounding to nearest even (a carry
  // moves into the exponent), then rebias the exponent.
  uint64_t Shift = SM - M;
  llvm::Value *Odd = B.CreateAnd(B.CreateLShr(A, C(Shift)), C(1));
  llvm::Value *Rnd = B.CreateLShr(
      B.CreateAdd(B.CreateAdd(A, C((uint64_t(1) << (Shift - 1)) - 1)), Odd),
      C(Shift));
  llvm::Value *Norm = B.CreateSub(Rnd, C(uint64_t(SB - TB) << M));
  llvm::Value *Mag = B.CreateSelect(IsSub, Sub, Norm);
  llvm::Value *Ovf = B.CreateICmpUGT(Mag, C(Fmt.MaxFinite));
  uint64_t OvfCode = Fmt.MaxFinite;
  if (!Saturate && Fmt.Bits == 8)
    OvfCode = Fmt.HasInf ? 0x7C : 0x7F; // infinity, or e4m3fn's NaN
  llvm::Value *Mag8 =
      B.CreateSelect(Ovf, C8(OvfCode), B.CreateTrunc(Mag, I8));
  uint64_t SignBit = uint64_t(1) << (Fmt.Bits - 1);
  llvm::Value *Sign8 = B.CreateSelect(Neg, C8(SignBit), C8(0));
  llvm::Value *R = B.CreateOr(Mag8, Sign8);
  llvm::Value *NaNCode;
  if (Fmt.FNUZ) {
    R = B.CreateSelect(B.CreateICmpEQ(Mag8, C8(0)), C8(0), R);
    if (!Saturate)
      R = B.CreateSelect(Ovf, C8(0x80), R);
    NaNCode = C8(0x80);
  } else if (Fmt.Bits == 4) {
    // f4e2m1 has no NaN; ONNX's reference gives a zero of the opposite sign.
    NaNCode = B.CreateSelect(Neg, C8(0), C8(SignBit));
  } else {
    NaNCode = B.CreateOr(C8(Fmt.HasInf ? 0x7E : 0x7F), Sign8);
  }
  return B.CreateSelect(IsNaN, NaNCode, R);
}

llvm::Value *dlc::emitNarrowCast(llvm::IRBuilder<> &B, llvm::Module &M,
                                 const ScalarOpInput &In, WideCastFn WideCast) {
  llvm::Value *X = In.Args[0];
  DType From = In.OperandType, To = In.ResultType;
  if (isNarrowInt(From)) {
    From = isNarrowSigned(From) ? DType::I8 : DType::U8;
    if (!isNarrow(To))
      return WideCast(From, To, X);
  } else if (isNarrowFloat(From)) {
    X = decode(B, M, From, X);
    From = DType::F32;
    if (!isNarrow(To))
      return WideCast(From, To, X);
  }
  llvm::Type *I8 = X->getType()->getWithNewType(B.getInt8Ty());
  bool Unsigned = From == DType::Bool || From == DType::U8 ||
                  From == DType::U16 || From == DType::U32 || From == DType::U64;
  if (isNarrowInt(To)) {
    // Truncate toward zero like other float-to-int casts, then wrap.
    llvm::Value *I;
    if (isFloat(From))
      I = B.CreateTrunc(
          B.CreateIntrinsic(llvm::Intrinsic::fptosi_sat,
                            {X->getType()->getWithNewType(B.getInt64Ty()),
                             X->getType()},
                            {X}),
          I8);
    else
      I = B.CreateZExtOrTrunc(X, I8);
    unsigned Bits = narrowBits(To);
    if (!isNarrowSigned(To))
      return B.CreateAnd(I, llvm::ConstantInt::get(I8, (1u << Bits) - 1));
    llvm::Value *Sh = llvm::ConstantInt::get(I8, 8 - Bits);
    return B.CreateAShr(B.CreateShl(I, Sh), Sh);
  }
  llvm::Value *F = X;
  if (!isFloat(From)) {
    llvm::Type *DT = X->getType()->getWithNewType(B.getDoubleTy());
    F = Unsigned ? B.CreateUIToFP(X, DT) : B.CreateSIToFP(X, DT);
  }
  bool Saturate = attrOr(In, "saturate", 1.0) != 0.0;
  if (To == DType::F8E8M0) {
    // ONNX's reference rounds to f32 first.
    F = B.CreateFPCast(F, F->getType()->getWithNewType(B.getFloatTy()));
    return encodeE8M0(B, F, Saturate,
                      E8M0Round(int(attrOr(In, "round_mode", 0.0))));
  }
  return encodeFloat(B, To, F, Saturate);
}
