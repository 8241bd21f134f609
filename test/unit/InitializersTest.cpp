// Weight initializers: mean, variance and bounds of large draws against the
// formulas, reproducibility, names.
#include "TestUtil.h"

#include "frontend/builder/Initializers.h"

#include "gtest/gtest.h"

#include <cmath>
#include <set>

using namespace dlc;

namespace {

struct Stats {
  double Mean = 0, Var = 0, Min = INFINITY, Max = -INFINITY;
};

Stats stats(const Tensor &T) {
  Stats S;
  int64_t N = T.numElements();
  for (int64_t I = 0; I < N; ++I) {
    double V = T.getF(I);
    S.Mean += V;
    S.Min = std::min(S.Min, V);
    S.Max = std::max(S.Max, V);
  }
  S.Mean /= N;
  for (int64_t I = 0; I < N; ++I)
    S.Var += (T.getF(I) - S.Mean) * (T.getF(I) - S.Mean);
  S.Var /= N - 1;
  return S;
}

TEST(Initializers, MomentsAndBounds) {
  // A conv kernel [64,32,5,5]: fan_in 800, fan_out 1600; 51200 draws.
  const int64_t FanIn = 32 * 25, FanOut = 64 * 25;
  const double N = 64 * 32 * 25;
  struct {
    Init I;
    double Var;   // expected variance
    double Bound; // |x| <= Bound
  } Cases[] = {
      {Init::GlorotUniform, 2.0 / (FanIn + FanOut), std::sqrt(6.0 / (FanIn + FanOut))},
      {Init::HeUniform, 2.0 / FanIn, std::sqrt(6.0 / FanIn)},
      {Init::TorchDefault, 1.0 / (3.0 * FanIn), 1.0 / std::sqrt(double(FanIn))},
      // Truncated at two standard deviations of the untruncated law, whose
      // sd is the target's divided by 0.8796.
      {Init::GlorotNormal, 2.0 / (FanIn + FanOut),
       2 * std::sqrt(2.0 / (FanIn + FanOut)) / 0.87962566103423978},
      {Init::HeNormal, 2.0 / FanIn, 2 * std::sqrt(2.0 / FanIn) / 0.87962566103423978},
  };
  for (auto &C : Cases) {
    SCOPED_TRACE(initName(C.I).str());
    Tensor T = initTensor(C.I, {64, 32, 5, 5}, FanIn, FanOut, 123);
    ASSERT_EQ(T.type().str(), "f32[64,32,5,5]");
    Stats S = stats(T);
    double Sd = std::sqrt(C.Var);
    // The mean of N draws has sd Sd / sqrt(N): allow 4 of them.
    EXPECT_NEAR(S.Mean, 0.0, 4 * Sd / std::sqrt(N));
    // The sample variance is within a few percent at this N.
    EXPECT_NEAR(S.Var / C.Var, 1.0, 0.03);
    EXPECT_LE(S.Max, C.Bound * (1 + 1e-6));
    EXPECT_GE(S.Min, -C.Bound * (1 + 1e-6));
    // The draws reach close to the bounds (uniform: within 1%; truncated
    // normal: the density at the cut is high enough to get within 5%).
    EXPECT_GT(S.Max, C.Bound * 0.95);
    EXPECT_LT(S.Min, -C.Bound * 0.95);
  }
}

TEST(Initializers, ConstantsAndSeeds) {
  Tensor Z = initTensor(Init::Zeros, {3, 4}, 3, 4, 1);
  Tensor O = initTensor(Init::Ones, {3, 4}, 3, 4, 1);
  for (int64_t I = 0; I < 12; ++I) {
    EXPECT_EQ(Z.getF(I), 0.0);
    EXPECT_EQ(O.getF(I), 1.0);
  }
  Tensor A = initTensor(Init::HeNormal, {100}, 10, 10, 5);
  Tensor B = initTensor(Init::HeNormal, {100}, 10, 10, 5);
  Tensor C = initTensor(Init::HeNormal, {100}, 10, 10, 6);
  EXPECT_TRUE(A == B);
  EXPECT_FALSE(A == C);
  // Distinct elements: no stream repeats itself.
  std::set<double> Seen;
  for (int64_t I = 0; I < 100; ++I)
    Seen.insert(A.getF(I));
  EXPECT_EQ(Seen.size(), 100u);
  EXPECT_NE(paramSeed(1, 0), paramSeed(1, 1));
  EXPECT_NE(paramSeed(1, 0), paramSeed(2, 0));
}

TEST(Initializers, Names) {
  for (Init I : {Init::Zeros, Init::Ones, Init::GlorotUniform,
                 Init::GlorotNormal, Init::HeUniform, Init::HeNormal,
                 Init::TorchDefault}) {
    auto P = parseInit(initName(I));
    ASSERT_TRUE(bool(P));
    EXPECT_EQ(*P, I);
  }
  auto Bad = parseInit("orthogonal");
  ASSERT_FALSE(bool(Bad));
  EXPECT_NE(errText(Bad.takeError()).find("unknown initializer 'orthogonal'"),
            std::string::npos);
}

} // namespace
