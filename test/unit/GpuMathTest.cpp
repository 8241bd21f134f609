// dlc's own GPU math (codegen/GpuMath.cpp) against the interpreter (the C
// library) over wide ranges and special values, f32 and f64, through the
// GPU emulation (which uses the same functions as the PTX).
#include "TestUtil.h"

#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace dlc;

namespace {

std::vector<double> samples(double Limit) {
  std::vector<double> V = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-30, -1e-30,
                           1e-300, 5e-324, 1e300, -1e300, 88.7, 89.0, -87.0,
                           -104.0, 709.7, 710.0, -745.0, 3.0, 5.9, 6.1, 2.9999,
                           1e10, -1e10, 22.5, 0.34, 0.35, 3.14159265358979,
                           1.5707963267949,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()};
  for (int I = -400; I <= 400; ++I)
    V.push_back(I * 0.0371);
  for (int E = -40; E <= 40; ++E)
    V.push_back(std::ldexp(1.37, E)), V.push_back(-std::ldexp(0.71, E));
  std::vector<double> In;
  for (double X : V)
    if (!(std::fabs(X) > Limit) || std::isinf(X))
      In.push_back(X);
  return In;
}

/// Relative error of Got against Want in units of the type's epsilon (NaN
/// and infinities must match exactly).
double ulps(double Want, double Got, double Eps, double Tiny) {
  if (std::isnan(Want) || std::isnan(Got))
    return std::isnan(Want) && std::isnan(Got) ? 0 : 1e30;
  if (std::isinf(Want) || std::isinf(Got))
    return Want == Got ? 0 : 1e30;
  return std::fabs(Want - Got) / std::max(std::fabs(Want), Tiny) / Eps;
}

void check(const std::string &Op, const std::string &Ty, bool Binary,
           double MaxUlps, double Limit = INFINITY) {
  SCOPED_TRACE(Op + " on " + Ty);
  std::string Args = "%x: " + Ty + "[N]" + (Binary ? ", %z: " + Ty + "[N]" : "");
  std::string Text = "func @f(" + Args + ") -> (y: " + Ty + "[N]) {\n  %y = " +
                     Op + " %x" + (Binary ? ", %z" : "") + "\n  return %y\n}\n";
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  std::vector<double> S = samples(Limit);
  DType E = Ty == "f32" ? DType::F32 : DType::F64;
  int64_t N = int64_t(S.size());
  Tensor X(E, {N}), Z(E, {N});
  for (int64_t I = 0; I < N; ++I) {
    X.setF(I, S[I]);
    // pow: exponents that are integers (odd and even), fractions, signs.
    static const double Ys[] = {2.0, 3.0, -1.0, 0.5, -2.5, 0.0, 1.0 / 3, 7.0, -3.0};
    Z.setF(I, Ys[I % 9]);
  }
  std::vector<Tensor> In = {X};
  if (Binary)
    In.push_back(Z);
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  auto C = GpuEmulatedFunction::compile(F, 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto Got = (*C)->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  double Eps = E == DType::F32 ? 1.2e-7 : 2.2e-16;
  double Tiny = E == DType::F32 ? 1e-30 : 1e-300;
  double Worst = 0;
  int64_t At = 0;
  for (int64_t I = 0; I < N; ++I) {
    double U = ulps((*Want)[0].getF(I), (*Got)[0].getF(I), Eps, Tiny);
    if (U > Worst)
      Worst = U, At = I;
  }
  std::printf("%-8s %s: worst %.2f ulps over %lld values\n", Op.c_str(),
              Ty.c_str(), Worst, (long long)N);
  EXPECT_LE(Worst, MaxUlps) << "worst at x = " << X.getF(At)
                            << (Binary ? " z = " + std::to_string(Z.getF(At)) : "")
                            << ": want " << (*Want)[0].getF(At) << " got "
                            << (*Got)[0].getF(At);
}

TEST(GpuMath, MatchesTheCLibrary) {
  // f32 results are computed in f64 and rounded: within an ulp or two.
  for (const char *Op : {"exp", "log", "tanh", "erf", "atan", "sigmoid", "elu"})
    check(Op, "f32", false, 2);
  check("pow", "f32", true, 2);
  // sin and cos reduce by pi/2 in three parts: accurate for |x| < 1e5 (and
  // infinities give NaN, as in C); larger arguments are a documented limit.
  check("sin", "f32", false, 2, 1e5);
  check("cos", "f32", false, 2, 1e5);
  // f64: a few ulps; pow loses what log loses times |y log x|.
  for (const char *Op : {"exp", "log", "tanh", "erf", "atan", "elu"})
    check(Op, "f64", false, 8);
  check("sin", "f64", false, 8, 1e5);
  check("cos", "f64", false, 8, 1e5);
  check("pow", "f64", true, 2048);
}

} // namespace
