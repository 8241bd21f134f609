// Batch normalization in training mode: the training step normalizes with
// the batch's statistics and updates the running ones (JIT against the
// interpreter, and against a hand computation), its gradient matches
// central differences through the batch statistics, evaluation uses the
// running statistics, and a small CNN with batch norm learns.
#include "TestUtil.h"

#include "api/Trainer.h"
#include "frontend/builder/Layers.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace dlc;

namespace {

/// Batch norm straight on the input (its statistics are the batch's, which
/// a test can compute by hand), then a conv, a second batch norm and a
/// dense layer.
const char *BnModel =
    "func @bn(%x: f32[N,2,4,4]) params(%g0: f32[2], %be0: f32[2], %m0: f32[2], "
    "%v0: f32[2], %w1: f32[3,2,3,3], %b1: f32[3], %g1: f32[3], %be1: f32[3], "
    "%m1: f32[3], %v1: f32[3], %w2: f32[48,3], %b2: f32[3]) -> (p: f32[N,3]) {\n"
    "  %n0 = batch_norm %x, %g0, %be0, %m0, %v0 {epsilon = 0.001}\n"
    "  %c = conv %n0, %w1, %b1 {pads = [1, 1, 1, 1]}\n"
    "  %n1 = batch_norm %c, %g1, %be1, %m1, %v1 {epsilon = 0.001}\n"
    "  %t = tanh %n1\n"
    "  %f = flatten %t\n"
    "  %h = matmul %f, %w2\n"
    "  %z = add %h, %b2\n"
    "  %p = softmax %z\n"
    "  return %p\n}\n";

/// Seeded parameters: uniform in [-0.5, 0.5], variances in [0.5, 1.5].
std::unique_ptr<Module> parseWithInits(std::string Text, DType E, int64_t Seed) {
  auto M = llvm::cantFail(parseModule(Text, "bn.dlc"));
  Function &F = *M->Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(E, Shape);
    bool IsVar = F.Params[I]->Name[0] == 'v';
    for (int64_t K = 0; K < T.numElements(); ++K)
      T.setF(K, uniformAt(Seed + int64_t(I), K) - (IsVar ? -0.5 : 0.5));
    F.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  return M;
}

/// N images [2,4,4] with per-channel offsets (so the batch mean is far
/// from 0) and labels in 0..2.
std::pair<Tensor, Tensor> batch(int64_t N, int64_t Seed, DType E = DType::F32) {
  Tensor X(E, {N, 2, 4, 4}), Y(DType::I64, {N});
  for (int64_t I = 0; I < X.numElements(); ++I) {
    int64_t C = (I / 16) % 2;
    X.setF(I, (C ? -2.0 : 3.0) + (C ? 0.5 : 2.0) * uniformAt(Seed, I));
  }
  for (int64_t I = 0; I < N; ++I)
    Y.setI(I, int64_t(uniformAt(Seed + 1, I) * 3));
  return {X, Y};
}

const Tensor &paramOf(const Module &M, llvm::StringRef Name) {
  const Function &F = *M.Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I)
    if (F.Params[I]->Name == Name)
      return *F.ParamInits[I]->getTensor();
  ADD_FAILURE() << "no parameter " << Name.str();
  return *F.ParamInits[0]->getTensor();
}

TEST(TrainBatchNorm, JitEqualsInterpreterAndRunningStatsMatchHand) {
  auto M = parseWithInits(BnModel, DType::F32, 21);
  TrainerOptions Opts;
  Opts.Optimizer.Kind = OptimizerKind::Momentum;
  Opts.Optimizer.LearningRate = 0.1;
  Opts.BatchNormMomentum = 0.8;
  auto Jit = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Jit)) << errText(Jit.takeError());
  Opts.Engine = "interp";
  auto Ref = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());

  // The running statistics of the first batch norm, by hand: Keras'
  // running = 0.8 running + 0.2 batch, with the biased batch variance.
  std::vector<double> Mean = {paramOf(*M, "m0").getF(0), paramOf(*M, "m0").getF(1)};
  std::vector<double> Var = {paramOf(*M, "v0").getF(0), paramOf(*M, "v0").getF(1)};
  for (int S = 0; S < 3; ++S) {
    auto [X, Y] = batch(5 + S, 300 + 7 * S);
    auto A = Jit->step(X, Y);
    ASSERT_TRUE(bool(A)) << errText(A.takeError());
    auto B = Ref->step(X, Y);
    ASSERT_TRUE(bool(B)) << errText(B.takeError());
    EXPECT_NEAR(A->Loss, B->Loss, 1e-5 * std::fabs(B->Loss));
    for (int C = 0; C < 2; ++C) {
      double Sum = 0, Sq = 0, Count = 0;
      for (int64_t I = 0; I < X.numElements(); ++I)
        if ((I / 16) % 2 == C) {
          Sum += X.getF(I);
          Count += 1;
        }
      double BM = Sum / Count;
      for (int64_t I = 0; I < X.numElements(); ++I)
        if ((I / 16) % 2 == C)
          Sq += (X.getF(I) - BM) * (X.getF(I) - BM);
      Mean[C] = 0.8 * Mean[C] + 0.2 * BM;
      Var[C] = 0.8 * Var[C] + 0.2 * Sq / Count;
    }
  }
  auto MA = Jit->currentModel(), MB = Ref->currentModel();
  const Function &FA = *MA->Functions[0];
  for (size_t I = 0; I < FA.Params.size(); ++I) {
    SCOPED_TRACE(FA.Params[I]->Name);
    const Tensor &TA = *FA.ParamInits[I]->getTensor();
    const Tensor &TB = *MB->Functions[0]->ParamInits[I]->getTensor();
    for (int64_t K = 0; K < TA.numElements(); ++K)
      EXPECT_NEAR(TA.getF(K), TB.getF(K), 1e-5 * (1e-2 + std::fabs(TB.getF(K))));
  }
  for (int C = 0; C < 2; ++C) {
    EXPECT_NEAR(paramOf(*MA, "m0").getF(C), Mean[C], 1e-5 * std::fabs(Mean[C]));
    EXPECT_NEAR(paramOf(*MA, "v0").getF(C), Var[C], 1e-5 * std::fabs(Var[C]));
  }
  // The second batch norm's statistics moved too (they are no optimizer's).
  EXPECT_NE(paramOf(*MA, "m1").getF(0), paramOf(*M, "m1").getF(0));
}

/// The gradient of the training step, through the batch statistics, against
/// central differences of its loss: f64, plain SGD with lr 1, so the step's
/// new parameters are p - dloss/dp.
TEST(TrainBatchNorm, GradientThroughBatchStatisticsMatchesCentralDifferences) {
  std::string Text = BnModel;
  for (size_t P = Text.find("f32"); P != std::string::npos; P = Text.find("f32", P))
    Text.replace(P, 3, "f64");
  auto M = parseWithInits(Text, DType::F64, 5);
  const Function &F = *M->Functions[0];
  OptimizerConfig Opt;
  Opt.Kind = OptimizerKind::SGD;
  Opt.LearningRate = 1.0;
  auto G = buildTrainingGraphs(F, LossKind::SparseCategoricalCrossEntropy, Opt);
  ASSERT_TRUE(bool(G)) << errText(G.takeError());
  const Function &S = *G->Step;
  // Inputs: x, labels, params..., step.
  auto [X, Y] = batch(4, 77, DType::F64);
  std::vector<Tensor> In = {X, Y};
  for (auto &Init : F.ParamInits)
    In.push_back(*Init->getTensor());
  In.push_back(Tensor(DType::I64, {}));
  auto Out = interpret(S, In);
  ASSERT_TRUE(bool(Out)) << errText(Out.takeError());
  auto LossAt = [&](const std::vector<Tensor> &V) {
    auto R = interpret(S, V);
    EXPECT_TRUE(bool(R)) << errText(R.takeError());
    return R ? (*R)[0].getF(0) : NAN;
  };
  const double H = 1e-6;
  int Checked = 0;
  for (size_t P = 0; P < F.Params.size(); ++P) {
    llvm::StringRef Name = F.Params[P]->Name;
    if (Name.starts_with("m") || Name.starts_with("v"))
      continue; // running statistics: not trained
    SCOPED_TRACE(Name.str());
    const Tensor &Before = In[2 + P], &After = (*Out)[2 + P];
    int64_t N = Before.numElements(), Step = std::max<int64_t>(1, N / 12);
    for (int64_t K = 0; K < N; K += Step) {
      std::vector<Tensor> Plus = In, Minus = In;
      Plus[2 + P].setF(K, Before.getF(K) + H);
      Minus[2 + P].setF(K, Before.getF(K) - H);
      double Numeric = (LossAt(Plus) - LossAt(Minus)) / (2 * H);
      double Analytic = Before.getF(K) - After.getF(K);
      ASSERT_NEAR(Analytic, Numeric, 1e-7 + 1e-5 * std::fabs(Numeric)) << K;
      ++Checked;
    }
  }
  EXPECT_GT(Checked, 40);
  // The conv bias before a batch norm has no effect in training mode: the
  // batch mean removes it.
  const Tensor &B1 = In[2 + 5], &B1After = (*Out)[2 + 5];
  for (int64_t K = 0; K < 3; ++K)
    EXPECT_NEAR(B1.getF(K) - B1After.getF(K), 0.0, 1e-9);
}

TEST(TrainBatchNorm, SmallCnnLearnsAndEvaluatesWithRunningStatistics) {
  auto M = Sequential({2, 4, 4}, "x")
               .add(BatchNorm().name("bn0"))
               .add(Conv2D(6, 3).padding(Padding::Same))
               .add(BatchNorm().name("bn1"))
               .add(ReLU())
               .add(MaxPool2D(2))
               .add(Flatten())
               .add(Dense(3, Activation::Softmax))
               .build(3, "p");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  // Labels that depend on the pattern: the class is the brightest of three
  // column bands of channel 0.
  auto Batch = [](int64_t N, int64_t Seed) {
    auto [X, Y] = batch(N, Seed);
    for (int64_t I = 0; I < N; ++I) {
      int64_t C = Y.getI(I);
      for (int64_t P = 0; P < 16; ++P)
        if (P % 4 == C + (C == 2))
          X.setF(I * 32 + P, X.getF(I * 32 + P) + 1.5);
    }
    return std::pair{X, Y};
  };
  TrainerOptions Opts;
  Opts.Optimizer.Kind = OptimizerKind::Adam;
  Opts.Optimizer.LearningRate = 0.02;
  Opts.BatchNormMomentum = 0.9;
  auto T = Trainer::create(*(*M)->Functions[0], Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  for (int S = 0; S < 120; ++S) {
    auto [X, Y] = Batch(16, 2000 + 2 * S);
    auto R = T->step(X, Y);
    ASSERT_TRUE(bool(R)) << errText(R.takeError());
  }
  auto [X, Y] = Batch(300, 9);
  auto R = T->evaluate(X, Y);
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_GE(double(R->Correct) / R->Count, 0.9) << "loss " << R->Loss;
  // Evaluation reads the running statistics: they approach the data's
  // channel means (about 4.375 and -1.75).
  auto Now = T->currentModel();
  const Tensor &Mean = paramOf(*Now, "bn0.moving_mean");
  EXPECT_NEAR(Mean.getF(0), 4.375, 0.2);
  EXPECT_NEAR(Mean.getF(1), -1.75, 0.2);
  // With the running statistics reset to the initial ones, the same weights
  // score differently: evaluate does not use batch statistics.
  auto Reset = (*M)->Functions[0]->clone("main");
  Function &RF = *Now->Functions[0];
  for (size_t I = 0; I < RF.Params.size(); ++I)
    if (!llvm::StringRef(RF.Params[I]->Name).contains("moving"))
      Reset->ParamInits[I] = RF.ParamInits[I];
  auto T2 = Trainer::create(*Reset, Opts);
  ASSERT_TRUE(bool(T2)) << errText(T2.takeError());
  auto R2 = T2->evaluate(X, Y);
  ASSERT_TRUE(bool(R2)) << errText(R2.takeError());
  EXPECT_GT(std::fabs(R2->Loss - R->Loss), 1e-3);
}

} // namespace
