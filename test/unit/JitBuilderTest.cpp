// Models from the builder API compile with the JIT (through dlc::Model, from
// their printed IR) and match the reference interpreter.
#include "TestUtil.h"

#include "api/Model.h"
#include "frontend/builder/Layers.h"
#include "frontend/builder/TutorialModels.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include "gtest/gtest.h"

using namespace dlc;

namespace {

void expectJitMatchesInterpreter(const Module &M, int64_t Batch) {
  ModelOptions Opts;
  Opts.Engine = "jit";
  Opts.Threads = 1;
  auto Jit = Model::fromText(toString(M), "built.dlc", Opts);
  ASSERT_TRUE(bool(Jit)) << errText(Jit.takeError());
  const Function &F = *M.Functions[0];
  std::vector<Tensor> In = functionInputs(F, Batch, 3);
  auto Got = Jit->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  ASSERT_EQ((*Got)[0].type(), (*Want)[0].type());
  for (int64_t I = 0; I < (*Want)[0].numElements(); ++I)
    EXPECT_NEAR((*Got)[0].getF(I), (*Want)[0].getF(I), 1e-5) << I;
}

TEST(JitBuilder, TutorialModels) {
  for (const std::string &Name : tutorialModelNames()) {
    SCOPED_TRACE(Name);
    auto M = makeTutorialModel(Name, 2);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    expectJitMatchesInterpreter(**M, 3);
  }
}

TEST(JitBuilder, EveryLayer) {
  GraphBuilder B(4);
  Value *X = B.input("x", {2, 9, 9});
  Value *H = B.apply(Conv2D(4, 3).strides(2).padding(Padding::Same), X);
  H = B.apply(BatchNorm(), H);
  H = B.apply(LeakyReLU(), H);
  H = B.apply(AvgPool2D(2).padding(Padding::Same), H);
  H = B.apply(MaxPool2D(2).strides(1), H);
  H = B.apply(Dropout(0.3), H);
  H = B.apply(Flatten(), H);
  H = B.apply(Dense(7, Activation::Gelu), H);
  H = B.apply(Dense(5, Activation::Tanh), H);
  H = B.apply(LogSoftmax(), H);
  auto M = B.build(H);
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  expectJitMatchesInterpreter(**M, 4);
}

} // namespace
