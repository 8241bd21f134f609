// Reference conversions for the narrow element types, written with double
// arithmetic (frexp, ldexp, nearbyint) rather than bit manipulation so that
// the code generator's integer formulation can be checked against them.
#include "ir/LowPrecision.h"

#include "llvm/Support/ErrorHandling.h"

#include <cfenv>
#include <cmath>
#include <cstring>
#include <limits>

using namespace dlc;

std::optional<E8M0Round> dlc::parseE8M0Round(llvm::StringRef S) {
  if (S == "up")
    return E8M0Round::Up;
  if (S == "down")
    return E8M0Round::Down;
  if (S == "nearest")
    return E8M0Round::Nearest;
  return std::nullopt;
}

bool dlc::isNarrowInt(DType T) {
  return T == DType::I4 || T == DType::U4 || T == DType::I2 || T == DType::U2;
}
bool dlc::isNarrowFloat(DType T) { return isNarrow(T) && !isNarrowInt(T); }
bool dlc::isNarrowSigned(DType T) { return T == DType::I4 || T == DType::I2; }

unsigned dlc::narrowBits(DType T) {
  if (T == DType::F4E2M1 || T == DType::I4 || T == DType::U4)
    return 4;
  if (T == DType::I2 || T == DType::U2)
    return 2;
  return 8;
}

NarrowFloatFormat dlc::narrowFloatFormat(DType T) {
  switch (T) {
  case DType::F8E4M3FN: return {3, 7, 8, 0x7E, false, false};
  case DType::F8E4M3FNUZ: return {3, 8, 8, 0x7F, true, false};
  case DType::F8E5M2: return {2, 15, 8, 0x7B, false, true};
  case DType::F8E5M2FNUZ: return {2, 16, 8, 0x7F, true, false};
  case DType::F4E2M1: return {1, 1, 4, 0x7, false, false};
  default: llvm_unreachable("not a narrow float with a format");
  }
}

static bool isNaNCode(DType T, const NarrowFloatFormat &F, uint8_t C) {
  if (F.FNUZ)
    return C == 0x80;
  if (T == DType::F8E4M3FN)
    return (C & 0x7F) == 0x7F;
  if (T == DType::F8E5M2)
    return (C & 0x7F) > 0x7C;
  return false;
}

double dlc::narrowToDouble(DType T, uint8_t Code) {
  if (isNarrowInt(T)) {
    unsigned Bits = narrowBits(T);
    int V = Code & ((1 << Bits) - 1);
    if (isNarrowSigned(T) && V >= (1 << (Bits - 1)))
      V -= 1 << Bits;
    return V;
  }
  if (T == DType::F8E8M0)
    return Code == 0xFF ? std::numeric_limits<double>::quiet_NaN()
                        : std::ldexp(1.0, int(Code) - 127);
  NarrowFloatFormat F = narrowFloatFormat(T);
  Code &= uint8_t((1u << F.Bits) - 1);
  unsigned SignBit = 1u << (F.Bits - 1);
  unsigned Mag = Code & (SignBit - 1);
  double S = (Code & SignBit) ? -1.0 : 1.0;
  if (isNaNCode(T, F, Code)) // e4m3fn and e5m2 NaNs keep their sign
    return std::copysign(std::numeric_limits<double>::quiet_NaN(),
                         F.FNUZ ? 1.0 : S);
  if (F.HasInf && Mag == 0x7C)
    return S * std::numeric_limits<double>::infinity();
  int E = int(Mag >> F.Mant);
  int M = int(Mag & ((1u << F.Mant) - 1));
  if (E == 0)
    return S * std::ldexp(double(M), 1 - F.Bias - int(F.Mant));
  return S * std::ldexp(double((1 << F.Mant) + M), E - F.Bias - int(F.Mant));
}

uint8_t dlc::narrowFromInt(DType T, int64_t V) {
  unsigned Bits = narrowBits(T);
  uint8_t Low = uint8_t(uint64_t(V) & ((1u << Bits) - 1));
  if (isNarrowSigned(T) && (Low & (1u << (Bits - 1))))
    return uint8_t(Low | uint8_t(0xFF << Bits)); // sign-extend in the byte
  return Low;
}

/// f8e8m0 follows ONNX's reference: the value is first rounded to f32, whose
/// exponent field is the code; the sign is ignored.
static uint8_t toE8M0(double V, bool Saturate, E8M0Round Round) {
  float F = float(V);
  uint32_t B;
  std::memcpy(&B, &F, 4);
  unsigned E = (B >> 23) & 0xFF;
  if (E == 0xFF)
    return 0xFF;
  bool Inc = false;
  if (Round == E8M0Round::Up)
    Inc = (B & 0x7FFFFF) != 0;
  else if (Round == E8M0Round::Nearest)
    Inc = (B & 0x400000) && ((B & 0x3FFFFF) || E > 0);
  if (Inc && !(Saturate && E == 0xFE))
    ++E;
  return uint8_t(E);
}

uint8_t dlc::narrowFromDouble(DType T, double V, bool Saturate,
                              E8M0Round Round) {
  if (isNarrowInt(T)) {
    if (std::isnan(V))
      return 0;
    double Tr = std::trunc(V);
    // Saturate to i64 first, as the float-to-int casts do.
    int64_t I = Tr >= 0x1p63    ? std::numeric_limits<int64_t>::max()
                : Tr < -0x1p63 ? std::numeric_limits<int64_t>::min()
                                : int64_t(Tr);
    return narrowFromInt(T, I);
  }
  if (T == DType::F8E8M0)
    return toE8M0(V, Saturate, Round);
  NarrowFloatFormat F = narrowFloatFormat(T);
  uint8_t SignBit = uint8_t(1u << (F.Bits - 1));
  bool Neg = std::signbit(V);
  if (std::isnan(V)) {
    if (F.FNUZ)
      return 0x80;
    if (T == DType::F8E4M3FN)
      return uint8_t(0x7F | (Neg ? 0x80 : 0));
    if (T == DType::F8E5M2)
      return uint8_t(0x7E | (Neg ? 0x80 : 0));
    // f4e2m1 has no NaN; ONNX's reference gives a zero of the opposite sign.
    return Neg ? 0 : SignBit;
  }
  double A = std::fabs(V);
  double MinNormal = std::ldexp(1.0, 1 - F.Bias);
  double Max = narrowToDouble(T, F.MaxFinite);
  // The spacing of representable values around A, then A rounded to a
  // multiple of it (ties to even: nearbyint in the default rounding mode).
  double R = A;
  if (!std::isinf(A)) {
    int Exp = 0;
    std::frexp(A, &Exp); // A = f * 2^Exp, f in [0.5, 1)
    int Q = (A < MinNormal ? 1 - F.Bias : Exp - 1) - int(F.Mant);
    R = std::ldexp(std::nearbyint(std::ldexp(A, -Q)), Q);
  }
  unsigned Mag;
  if (R > Max) {
    if (Saturate || F.Bits == 4)
      Mag = F.MaxFinite;
    else if (F.HasInf)
      Mag = 0x7C;
    else if (F.FNUZ)
      return 0x80;
    else
      Mag = 0x7F; // e4m3fn: NaN
  } else if (R < MinNormal) {
    Mag = unsigned(std::ldexp(R, F.Bias - 1 + int(F.Mant)));
  } else {
    int Exp = std::ilogb(R);
    unsigned M = unsigned(std::ldexp(R, int(F.Mant) - Exp)) - (1u << F.Mant);
    Mag = (unsigned(Exp + F.Bias) << F.Mant) | M;
  }
  if (F.FNUZ && Mag == 0)
    return 0;
  return uint8_t(Mag | (Neg ? SignBit : 0));
}
