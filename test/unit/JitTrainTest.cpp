// Training: one JIT-compiled training step equals the interpreter running
// the same training graph, for every optimizer; the sigmoid neuron (workload
// c) follows an independent hand-written gradient descent; small models
// learn; bad settings and labels are clear errors.
#include "TestUtil.h"

#include "api/Trainer.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace dlc;

namespace {

const char *SmallCnn =
    "func @cnn(%x: f32[N,1,8,8]) params(%w1: f32[4,1,3,3], %b1: f32[4], "
    "%w2: f32[32,3], %b2: f32[3]) -> (p: f32[N,3]) {\n"
    "  %c = conv %x, %w1, %b1 {pads = [1, 1, 1, 1]}\n"
    "  %r = relu %c\n"
    "  %m = max_pool %r {kernel = [2, 2], strides = [2, 2]}\n"
    "  %d = dropout %m {ratio = 0.25}\n"
    "  %s = avg_pool %d {kernel = [2, 1], strides = [2, 1]}\n"
    "  %f = flatten %s\n"
    "  %h = matmul %f, %w2\n"
    "  %z = add %h, %b2\n"
    "  %p = softmax %z\n"
    "  return %p\n}\n";

/// Parses Text and gives every parameter seeded uniform values in
/// [-Scale, Scale].
std::unique_ptr<Module> withInits(const char *Text, double Scale, int64_t Seed) {
  auto M = llvm::cantFail(parseModule(Text, "model.dlc"));
  Function &F = *M->Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(F.Params[I]->Type.elem(), Shape);
    for (int64_t E = 0; E < T.numElements(); ++E)
      T.setF(E, Scale * (2 * uniformAt(Seed + int64_t(I), E) - 1));
    F.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  return M;
}

/// A batch of N images whose class is the quadrant with the brightest mean.
std::pair<Tensor, Tensor> quadrantBatch(int64_t N, int64_t Seed) {
  Tensor X(DType::F32, {N, 1, 8, 8}), Y(DType::I64, {N});
  for (int64_t I = 0; I < N; ++I) {
    int64_t Class = int64_t(uniformAt(Seed, I) * 3);
    Y.setI(I, Class);
    for (int64_t P = 0; P < 64; ++P) {
      int64_t Row = P / 8, Col = P % 8;
      bool Hot = (Class == 0 && Row < 4) || (Class == 1 && Row >= 4 && Col < 4) ||
                 (Class == 2 && Row >= 4 && Col >= 4);
      X.setF(I * 64 + P, 0.3 * uniformAt(Seed + 1, I * 64 + P) + (Hot ? 0.7 : 0));
    }
  }
  return {X, Y};
}

void expectClose(const Tensor &A, const Tensor &B, double Rel) {
  ASSERT_EQ(A.shape(), B.shape());
  for (int64_t I = 0; I < A.numElements(); ++I)
    ASSERT_NEAR(A.getF(I), B.getF(I), Rel * (1e-3 + std::fabs(B.getF(I))))
        << "element " << I;
}

class TrainStep : public ::testing::TestWithParam<OptimizerKind> {};

TEST_P(TrainStep, JitEqualsInterpreter) {
  auto M = withInits(SmallCnn, 0.5, 11);
  TrainerOptions Opts;
  Opts.Optimizer.Kind = GetParam();
  Opts.Optimizer.LearningRate = 0.05;
  Opts.Optimizer.WeightDecay = 1e-3;
  Opts.Seed = 5;
  auto Jit = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Jit)) << errText(Jit.takeError());
  Opts.Engine = "interp";
  auto Ref = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
  // Three steps, so optimizer state and the step count matter; each step
  // draws its own dropout mask in both engines.
  for (int S = 0; S < 3; ++S) {
    auto [X, Y] = quadrantBatch(5, 100 + S);
    auto A = Jit->step(X, Y);
    ASSERT_TRUE(bool(A)) << errText(A.takeError());
    auto B = Ref->step(X, Y);
    ASSERT_TRUE(bool(B)) << errText(B.takeError());
    EXPECT_NEAR(A->Loss, B->Loss, 1e-5 * std::fabs(B->Loss));
    EXPECT_EQ(A->Correct, B->Correct);
  }
  auto MA = Jit->currentModel(), MB = Ref->currentModel();
  const Function &FA = *MA->Functions[0], &FB = *MB->Functions[0];
  for (size_t I = 0; I < FA.Params.size(); ++I) {
    SCOPED_TRACE(FA.Params[I]->Name);
    expectClose(*FA.ParamInits[I]->getTensor(), *FB.ParamInits[I]->getTensor(),
                1e-5);
  }
  // And the parameters moved.
  const Tensor &Before = *M->Functions[0]->ParamInits[2]->getTensor();
  const Tensor &After = *FA.ParamInits[2]->getTensor();
  double Moved = 0;
  for (int64_t I = 0; I < Before.numElements(); ++I)
    Moved += std::fabs(Before.getF(I) - After.getF(I));
  EXPECT_GT(Moved, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, TrainStep,
    ::testing::Values(OptimizerKind::SGD, OptimizerKind::Momentum,
                      OptimizerKind::Nesterov, OptimizerKind::Adam,
                      OptimizerKind::AdamW, OptimizerKind::RMSprop,
                      OptimizerKind::Adagrad),
    [](const ::testing::TestParamInfo<OptimizerKind> &P) {
      return optimizerName(P.param).str();
    });

// The scatter-style gradients (overlapping and padded pooling through
// im2col and col2im, a strided conv's input gradient as conv_transpose and
// that conv_transpose's own gradient) compiled by the JIT, against the
// interpreter.
TEST(Train, OverlappingPoolsAndConvTransposeJitEqualsInterpreter) {
  const char *Text =
      "func @f(%x: f32[N,1,8,8]) params(%w1: f32[3,1,3,3], %wt: f32[3,2,2,2], "
      "%w2: f32[32,3], %b2: f32[3]) -> (p: f32[N,3]) {\n"
      "  %c = conv %x, %w1 {pads = [1, 1, 1, 1], strides = [2, 2]}\n"
      "  %u = conv_transpose %c, %wt {strides = [2, 2]}\n"
      "  %m = max_pool %u {kernel = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}\n"
      "  %a = avg_pool %m {kernel = [2, 2], pads = [0, 0, 1, 1], strides = [1, 1]}\n"
      "  %t = tanh %a\n"
      "  %f = flatten %t\n"
      "  %h = matmul %f, %w2\n"
      "  %z = add %h, %b2\n"
      "  %p = softmax %z\n"
      "  return %p\n}\n";
  auto M = withInits(Text, 0.5, 17);
  TrainerOptions Opts;
  Opts.Optimizer.Kind = OptimizerKind::SGD;
  Opts.Optimizer.LearningRate = 0.5;
  auto Jit = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Jit)) << errText(Jit.takeError());
  Opts.Engine = "interp";
  auto Ref = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
  for (int S = 0; S < 2; ++S) {
    auto [X, Y] = quadrantBatch(3, 40 + S);
    auto A = Jit->step(X, Y);
    ASSERT_TRUE(bool(A)) << errText(A.takeError());
    auto B = Ref->step(X, Y);
    ASSERT_TRUE(bool(B)) << errText(B.takeError());
    EXPECT_NEAR(A->Loss, B->Loss, 1e-5 * std::fabs(B->Loss));
  }
  auto MA = Jit->currentModel(), MB = Ref->currentModel();
  for (size_t I = 0; I < MA->Functions[0]->Params.size(); ++I) {
    SCOPED_TRACE(MA->Functions[0]->Params[I]->Name);
    const Tensor &Before = *M->Functions[0]->ParamInits[I]->getTensor();
    const Tensor &After = *MA->Functions[0]->ParamInits[I]->getTensor();
    expectClose(After, *MB->Functions[0]->ParamInits[I]->getTensor(), 1e-4);
    double Moved = 0;
    for (int64_t E = 0; E < Before.numElements(); ++E)
      Moved += std::fabs(Before.getF(E) - After.getF(E));
    EXPECT_GT(Moved, 1e-5); // a gradient reached every parameter
  }
}

TEST(Train, SmallCnnLearnsQuadrants) {
  auto M = withInits(SmallCnn, 0.5, 3);
  TrainerOptions Opts;
  Opts.Optimizer.Kind = OptimizerKind::Adam;
  Opts.Optimizer.LearningRate = 0.01;
  auto T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  for (int S = 0; S < 150; ++S) {
    auto [X, Y] = quadrantBatch(16, 1000 + 2 * S);
    ASSERT_TRUE(bool(T->step(X, Y)));
  }
  auto [X, Y] = quadrantBatch(200, 7);
  auto R = T->evaluate(X, Y);
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_GE(double(R->Correct) / R->Count, 0.95) << "loss " << R->Loss;
  EXPECT_LT(R->Loss, 0.3);
  // predict agrees with evaluate's accuracy source.
  auto P = T->predict(X);
  ASSERT_TRUE(bool(P)) << errText(P.takeError());
  EXPECT_EQ(P->shape().vec(), (std::vector<int64_t>{200, 3}));
}

// Workload (c): y = sigmoid(x w + b) on 2 inputs, MSE, gradient descent
// with lr 0.01 for 1000 steps, against the same descent written out by hand
// in double precision.
TEST(Train, SigmoidNeuronFollowsHandWrittenDescent) {
  auto M = llvm::cantFail(parseModule(
      "func @neuron(%x: f32[N,2]) params(%w: f32[2,1] = dense<f32[2,1]>[0.3, -0.2], "
      "%b: f32[1] = dense<f32[1]>[0.1]) -> (y: f32[N,1]) {\n"
      "  %h = matmul %x, %w\n  %z = add %h, %b\n  %y = sigmoid %z\n"
      "  return %y\n}\n",
      "neuron.dlc"));
  const int64_t N = 8;
  Tensor X(DType::F32, {N, 2}), Y(DType::F32, {N, 1});
  for (int64_t I = 0; I < N; ++I) {
    X.setF(2 * I, 2 * uniformAt(1, I) - 1);
    X.setF(2 * I + 1, 2 * uniformAt(2, I) - 1);
    Y.setF(I, X.getF(2 * I) + X.getF(2 * I + 1) > 0 ? 1 : 0);
  }
  TrainerOptions Opts;
  Opts.Loss = LossKind::MeanSquaredError;
  Opts.Optimizer.Kind = OptimizerKind::SGD;
  Opts.Optimizer.LearningRate = 0.01;
  auto T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());

  double W0 = 0.3, W1 = -0.2, Bias = 0.1;
  for (int S = 0; S < 1000; ++S) {
    // Hand-written: loss = mean((s - y)^2); dL/dz = 2 (s - y) s (1 - s) / N.
    double Loss = 0, G0 = 0, G1 = 0, GB = 0;
    for (int64_t I = 0; I < N; ++I) {
      double X0 = X.getF(2 * I), X1 = X.getF(2 * I + 1);
      double Sg = 1 / (1 + std::exp(-(X0 * W0 + X1 * W1 + Bias)));
      double D = Sg - Y.getF(I);
      Loss += D * D / N;
      double DZ = 2 * D * Sg * (1 - Sg) / N;
      G0 += DZ * X0;
      G1 += DZ * X1;
      GB += DZ;
    }
    auto R = T->step(X, Y);
    ASSERT_TRUE(bool(R)) << errText(R.takeError());
    if (S % 100 == 0 || S == 999) {
      ASSERT_NEAR(R->Loss, Loss, 1e-6) << "step " << S;
    }
    W0 -= 0.01 * G0;
    W1 -= 0.01 * G1;
    Bias -= 0.01 * GB;
  }
}

TEST(Train, BadSettingsAndLabelsAreClearErrors) {
  auto M = withInits(SmallCnn, 0.5, 3);
  const Function &F = *M->Functions[0];
  TrainerOptions Opts;
  Opts.Optimizer.LearningRate = NAN;
  EXPECT_NE(errText(Trainer::create(F, Opts).takeError()).find("learning rate"),
            std::string::npos);
  Opts.Optimizer.LearningRate = -1;
  EXPECT_NE(errText(Trainer::create(F, Opts).takeError()).find("positive"),
            std::string::npos);
  Opts.Optimizer.LearningRate = 0.01;
  Opts.Loss = LossKind::BinaryCrossEntropy;
  EXPECT_NE(errText(Trainer::create(F, Opts).takeError()).find("one probability"),
            std::string::npos);
  Opts.Loss = LossKind::SparseCategoricalCrossEntropy;
  auto T = Trainer::create(F, Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  auto [X, Y] = quadrantBatch(4, 1);
  Y.setI(2, 3);
  std::string Msg = errText(T->step(X, Y).takeError());
  EXPECT_NE(Msg.find("label 3 at position 2 is out of range: the model has 3 classes"),
            std::string::npos)
      << Msg;
  EXPECT_EQ(T->stepsDone(), 0);
  EXPECT_FALSE(parseLoss("hinge"));
  EXPECT_NE(errText(parseOptimizer("lbfgs").takeError()).find("known: sgd"),
            std::string::npos);
  EXPECT_EQ(T->numClasses(), 3);
}

} // namespace
