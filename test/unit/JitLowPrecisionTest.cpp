// The narrow element types: the reference conversions against independent
// formulations (every code's value from the format's definition, nearest-
// code search for rounding), and the JIT's casts against the interpreter on
// every code and on values around every rounding boundary.
#include "ir/LowPrecision.h"

#include "JitTestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace dlc;

namespace {

const DType Floats[] = {DType::F8E4M3FN, DType::F8E4M3FNUZ, DType::F8E5M2,
                        DType::F8E5M2FNUZ, DType::F4E2M1};

/// The finite codes of T with their values, from the format definition:
/// exponent field E, mantissa field M, value (1 + M / 2^m) 2^(E - bias), or
/// M / 2^m 2^(1 - bias) when E is 0; NaN and infinity codes left out.
std::vector<std::pair<uint8_t, double>> finiteCodes(DType T) {
  struct Def { int E, M, Bias; bool FNUZ, IEEE; };
  Def D = T == DType::F8E4M3FN     ? Def{4, 3, 7, false, false}
          : T == DType::F8E4M3FNUZ ? Def{4, 3, 8, true, false}
          : T == DType::F8E5M2     ? Def{5, 2, 15, false, true}
          : T == DType::F8E5M2FNUZ ? Def{5, 2, 16, true, false}
                                   : Def{2, 1, 1, false, false};
  int Bits = 1 + D.E + D.M;
  std::vector<std::pair<uint8_t, double>> R;
  for (int C = 0; C < (1 << Bits); ++C) {
    int S = C >> (Bits - 1), E = (C >> D.M) & ((1 << D.E) - 1),
        M = C & ((1 << D.M) - 1);
    if (D.FNUZ && C == 1 << (Bits - 1))
      continue; // NaN
    if (D.IEEE && E == (1 << D.E) - 1)
      continue; // infinity, NaN
    if (T == DType::F8E4M3FN && (C & 0x7F) == 0x7F)
      continue; // NaN
    double V = E ? (1.0 + M / double(1 << D.M)) * std::pow(2.0, E - D.Bias)
                 : M / double(1 << D.M) * std::pow(2.0, 1 - D.Bias);
    R.push_back({uint8_t(C), S ? -V : V});
  }
  return R;
}

TEST(LowPrecision, DecodeMatchesFormatDefinition) {
  for (DType T : Floats) {
    auto Codes = finiteCodes(T);
    EXPECT_EQ(Codes.size(), T == DType::F8E4M3FN     ? 254u
                            : T == DType::F8E5M2     ? 248u
                            : T == DType::F4E2M1     ? 16u
                                                     : 255u);
    for (auto [C, V] : Codes) {
      double Got = narrowToDouble(T, C);
      EXPECT_EQ(Got, V) << dtypeName(T).str() << " code " << int(C);
      EXPECT_EQ(std::signbit(Got), bool(C >> (narrowBits(T) - 1)))
          << dtypeName(T).str() << " code " << int(C);
    }
  }
  EXPECT_EQ(narrowToDouble(DType::F8E4M3FN, 0x7E), 448.0);
  EXPECT_EQ(narrowToDouble(DType::F8E4M3FNUZ, 0x7F), 240.0);
  EXPECT_EQ(narrowToDouble(DType::F8E5M2, 0x7B), 57344.0);
  EXPECT_EQ(narrowToDouble(DType::F8E5M2, 0xFC),
            -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(narrowToDouble(DType::F8E5M2FNUZ, 0x80)));
  EXPECT_TRUE(std::isnan(narrowToDouble(DType::F8E4M3FN, 0xFF)));
  EXPECT_EQ(narrowToDouble(DType::F4E2M1, 0x7), 6.0);
  for (int C = 0; C < 255; ++C)
    EXPECT_EQ(narrowToDouble(DType::F8E8M0, uint8_t(C)), std::ldexp(1.0, C - 127));
  EXPECT_TRUE(std::isnan(narrowToDouble(DType::F8E8M0, 0xFF)));
  for (int V = -8; V < 8; ++V)
    EXPECT_EQ(narrowToDouble(DType::I4, narrowFromInt(DType::I4, V)), V);
  for (int V = 0; V < 16; ++V)
    EXPECT_EQ(narrowToDouble(DType::U4, narrowFromInt(DType::U4, V)), V);
  EXPECT_EQ(narrowToDouble(DType::I2, narrowFromInt(DType::I2, 3)), -1);
  EXPECT_EQ(narrowToDouble(DType::I4, narrowFromInt(DType::I4, 300)), -4);
  EXPECT_EQ(narrowToDouble(DType::U2, narrowFromInt(DType::U2, -1)), 3);
}

/// Rounding by search: the finite code nearest to V, ties to the code whose
/// mantissa is even; Saturate clamps beyond the largest value.
uint8_t nearestCode(DType T, double V) {
  auto Codes = finiteCodes(T);
  uint8_t Best = 0;
  double BestD = INFINITY;
  for (auto [C, W] : Codes) {
    if (std::signbit(W) != std::signbit(V) && W != 0)
      continue;
    double D = std::fabs(W - V);
    if (D < BestD || (D == BestD && (C & 1) == 0)) {
      Best = C;
      BestD = D;
    }
  }
  // A zero result keeps V's sign where the type has a negative zero.
  if (narrowToDouble(T, Best) == 0)
    Best = std::signbit(V) && !narrowFloatFormat(T).FNUZ
               ? uint8_t(1u << (narrowBits(T) - 1))
               : 0;
  return Best;
}

/// Values at, between and just around every pair of neighbouring codes.
std::vector<double> probes(DType T) {
  std::vector<double> V;
  auto Codes = finiteCodes(T);
  for (auto [C, W] : Codes) {
    V.push_back(W);
    for (auto [C2, W2] : Codes) {
      if (W2 <= W || std::signbit(W2) != std::signbit(W))
        continue;
      bool Next = true; // W2 is W's successor
      for (auto [C3, W3] : Codes)
        if (W3 > W && W3 < W2)
          Next = false;
      if (!Next)
        continue;
      double Mid = (W + W2) / 2;
      V.push_back(Mid);
      V.push_back(std::nextafter(Mid, -INFINITY));
      V.push_back(std::nextafter(Mid, INFINITY));
      V.push_back(W + (W2 - W) / 3);
    }
  }
  return V;
}

TEST(LowPrecision, RoundingMatchesNearestCodeSearch) {
  for (DType T : Floats) {
    double Max = narrowToDouble(T, narrowFloatFormat(T).MaxFinite);
    for (double V : probes(T)) {
      EXPECT_EQ(narrowFromDouble(T, V), nearestCode(T, V))
          << dtypeName(T).str() << " " << V;
      EXPECT_EQ(narrowFromDouble(T, -V), nearestCode(T, -V))
          << dtypeName(T).str() << " " << -V;
    }
    // Tiny values round to zero; beyond the range, saturate or overflow.
    EXPECT_EQ(narrowToDouble(T, narrowFromDouble(T, 1e-30)), 0.0);
    EXPECT_EQ(narrowToDouble(T, narrowFromDouble(T, 1e30)), Max);
    EXPECT_EQ(narrowToDouble(T, narrowFromDouble(T, -INFINITY)), -Max);
    double Over = narrowToDouble(T, narrowFromDouble(T, 1e30, false));
    if (T == DType::F8E5M2)
      EXPECT_EQ(Over, INFINITY);
    else if (T == DType::F4E2M1)
      EXPECT_EQ(Over, Max); // no infinity, no NaN: always saturates
    else
      EXPECT_TRUE(std::isnan(Over));
  }
  // ONNX's table: -0 has no sign in the fnuz types, NaN is 0x80 there.
  EXPECT_EQ(narrowFromDouble(DType::F8E4M3FNUZ, -0.0), 0);
  EXPECT_EQ(narrowFromDouble(DType::F8E5M2FNUZ, NAN), 0x80);
  EXPECT_EQ(narrowFromDouble(DType::F8E4M3FN, -NAN), 0xFF);
  EXPECT_EQ(narrowFromDouble(DType::F8E5M2, INFINITY, false), 0x7C);
  EXPECT_EQ(narrowFromDouble(DType::F8E4M3FN, 464.0), 0x7E); // tie to even
  EXPECT_EQ(narrowFromDouble(DType::F8E4M3FN, 465.0, false), 0x7F);
  // f8e8m0: rounding modes on the f32 exponent.
  EXPECT_EQ(narrowFromDouble(DType::F8E8M0, 1.1), 128);
  EXPECT_EQ(narrowFromDouble(DType::F8E8M0, 1.1, true, E8M0Round::Down), 127);
  EXPECT_EQ(narrowFromDouble(DType::F8E8M0, 1.6, true, E8M0Round::Nearest), 128);
  EXPECT_EQ(narrowFromDouble(DType::F8E8M0, 1.4, true, E8M0Round::Nearest), 127);
  EXPECT_EQ(narrowFromDouble(DType::F8E8M0, INFINITY), 0xFF);
  // Integers truncate toward zero and wrap.
  EXPECT_EQ(narrowToDouble(DType::I4, narrowFromDouble(DType::I4, -1.5)), -1);
  EXPECT_EQ(narrowToDouble(DType::I4, narrowFromDouble(DType::I4, 9.0)), -7);
  EXPECT_EQ(narrowToDouble(DType::U4, narrowFromDouble(DType::U4, 17.9)), 1);
}

/// f32 inputs that exercise every rounding boundary of every narrow float
/// type, special values and a spread of magnitudes.
Tensor castInputs() {
  std::vector<float> V = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN,
                          1e-45f, -1e-45f, 3e38f, -3e38f, 1e-30f};
  for (DType T : Floats)
    for (double P : probes(T))
      for (double S : {P, -P}) {
        V.push_back(float(S));
        V.push_back(std::nextafter(float(S), INFINITY));
        V.push_back(std::nextafter(float(S), -INFINITY));
      }
  for (int E = -140; E < 128; ++E)
    for (float M : {1.0f, 1.1f, 1.25f, 1.5f, 1.75f, 1.999f})
      V.push_back(std::ldexp(M, E));
  for (int I = -40; I <= 40; ++I)
    V.push_back(I * 0.5f);
  Tensor T(DType::F32, {int64_t(V.size())});
  std::memcpy(T.data(), V.data(), V.size() * 4);
  return T;
}

std::string ty(DType E, int64_t N) {
  return dtypeName(E).str() + "[" + std::to_string(N) + "]";
}

/// cast(x) {Attrs} from In's type to To through the JIT and the
/// interpreter; the codes must agree bit for bit.
void checkCast(const Tensor &In, DType To, const std::string &Attrs = "") {
  int64_t N = In.numElements();
  jit_test::checkOneOp("%x: " + ty(In.elem(), N),
                       "cast %x {to = " + dtypeName(To).str() + Attrs + "}",
                       ty(To, N), {In}, 0, {0, 3});
}

Tensor convert(const Tensor &X, DType E) {
  Tensor R(E, X.shape());
  for (int64_t I = 0; I < X.numElements(); ++I)
    R.setF(I, X.getF(I));
  return R;
}

TEST(LowPrecision, JitEncodeMatchesInterpreter) {
  Tensor F32 = castInputs();
  Tensor F64 = convert(F32, DType::F64), F16 = convert(F32, DType::F16);
  for (DType T : {DType::F8E4M3FN, DType::F8E4M3FNUZ, DType::F8E5M2,
                  DType::F8E5M2FNUZ, DType::F4E2M1, DType::F8E8M0, DType::I4,
                  DType::U4, DType::I2, DType::U2}) {
    checkCast(F32, T);
    checkCast(F64, T);
    checkCast(F16, T);
  }
  for (DType T : Floats)
    checkCast(F32, T, ", saturate = false");
  checkCast(F32, DType::F8E8M0, ", round_mode = \"down\"");
  checkCast(F32, DType::F8E8M0, ", round_mode = \"nearest\", saturate = false");
  Tensor Ints(DType::I32, {600});
  for (int64_t I = 0; I < 600; ++I)
    Ints.setI(I, (I - 300) * (I % 3 == 0 ? 1 : 977));
  for (DType T : {DType::F8E4M3FN, DType::F8E5M2, DType::I4, DType::U2})
    checkCast(Ints, T);
}

TEST(LowPrecision, JitDecodeMatchesInterpreter) {
  for (DType From : {DType::F8E4M3FN, DType::F8E4M3FNUZ, DType::F8E5M2,
                     DType::F8E5M2FNUZ, DType::F4E2M1, DType::F8E8M0,
                     DType::I4, DType::U4, DType::I2, DType::U2}) {
    unsigned N = 1u << narrowBits(From);
    Tensor X(From, {int64_t(N)});
    for (unsigned C = 0; C < N; ++C)
      X.data()[C] = isNarrowInt(From) ? narrowFromInt(From, C) : uint8_t(C);
    for (DType To : {DType::F32, DType::F64, DType::F16, DType::BF16,
                     DType::I32, DType::U8, DType::Bool, DType::F8E5M2,
                     DType::I4})
      // f8e8m0's code 0 is 2^-127, an f32 subnormal, which the JIT's
      // f32-to-bf16 conversion (AVX-512 BF16) flushes to zero, unlike the
      // interpreter: a difference of the bf16 path, not of the decoding.
      if (To != From && !(From == DType::F8E8M0 && To == DType::BF16))
        checkCast(X, To);
  }
}

TEST(LowPrecision, ArithmeticOnNarrowTypesIsAnError) {
  auto M = parseModule("func @f(%x: f8e4m3fn[4]) -> (y: f8e4m3fn[4]) {\n"
                       "  %y = add %x, %x\n  return %y\n}\n",
                       "<test>");
  ASSERT_FALSE(bool(M));
  EXPECT_NE(errText(M.takeError()).find("only casts and data-movement"),
            std::string::npos);
}

TEST(LowPrecision, MovementOfNarrowTypesIsExact) {
  Tensor X(DType::F8E4M3FN, {16, 16});
  for (int C = 0; C < 256; ++C)
    X.data()[C] = uint8_t(C);
  jit_test::checkOneOp("%x: f8e4m3fn[16,16]", "transpose %x {perm = [1, 0]}",
                       "f8e4m3fn[16,16]", {X}, 0, {0, 3});
  auto M = parseModule("func @f(%x: f8e4m3fn[16,16]) -> (y: f8e4m3fn[16,16]) "
                       "{\n  %y = transpose %x {perm = [1, 0]}\n  return %y\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  auto R = interpret(*(*M)->Functions[0], {X});
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  for (int I = 0; I < 16; ++I)
    for (int J = 0; J < 16; ++J)
      EXPECT_EQ((*R)[0].data()[I * 16 + J], uint8_t(J * 16 + I));
}

} // namespace
