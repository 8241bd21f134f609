// The seed models through the GPU mapping in emulation: the tutorial CNN's
// forward (examples/mnist_cnn.dlc) and a small CNN's whole training step
// (forward, autodiff, Adam update), against the interpreter.
#include "TestUtil.h"

#include "codegen/GpuEmulation.h"
#include "frontend/builder/TutorialModels.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "passes/Pass.h"
#include "passes/TrainingStep.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

void expectClose(const std::vector<Tensor> &Want, const std::vector<Tensor> &Got,
                 double Tol) {
  ASSERT_EQ(Want.size(), Got.size());
  for (size_t K = 0; K < Want.size(); ++K) {
    ASSERT_EQ(Want[K].type(), Got[K].type()) << "output " << K;
    for (int64_t E = 0; E < Want[K].numElements(); ++E) {
      double A = Want[K].getF(E), B = Got[K].getF(E);
      ASSERT_LE(std::fabs(A - B), Tol * (1 + std::fabs(A)))
          << "output " << K << " element " << E;
    }
  }
}

unsigned kernelsWith(const GpuEmulatedFunction &C, kir::KOpKind Kd) {
  std::function<bool(const std::vector<std::unique_ptr<kir::KOp>> &)> Has =
      [&](const std::vector<std::unique_ptr<kir::KOp>> &Ops) {
        for (auto &Op : Ops)
          if (Op->kind() == Kd || Has(Op->Body))
            return true;
        return false;
      };
  unsigned N = 0;
  for (auto &K : C.kernels())
    N += Has(K->Body);
  return N;
}

TEST(GpuModel, TutorialCnnForward) {
  auto Buf = llvm::MemoryBuffer::getFile(DLC_SOURCE_DIR "/examples/mnist_cnn.dlc");
  ASSERT_TRUE(bool(Buf));
  auto M = parseModule((*Buf)->getBuffer(), "mnist_cnn.dlc");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  auto In = functionInputs(F, 3, 17);
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  auto C = GpuEmulatedFunction::compile(F, 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto Got = (*C)->run(In);
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  expectClose(*Want, *Got, 1e-4);
  // The softmax rows use shared memory.
  EXPECT_GE(kernelsWith(**C, kir::KOpKind::Shared), 1u);
}

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

TEST(GpuModel, TrainingStepMatchesInterpreter) {
  auto Fwd = parseModule(SmallCnn, "cnn.dlc");
  ASSERT_TRUE(bool(Fwd)) << errText(Fwd.takeError());
  Function &FF = *(*Fwd)->Functions[0];
  for (size_t I = 0; I < FF.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : FF.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(DType::F32, Shape);
    for (int64_t E = 0; E < T.numElements(); ++E)
      T.setF(E, 0.5 * (2 * uniformAt(11 + int64_t(I), E) - 1));
    FF.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  OptimizerConfig Opt;
  Opt.LearningRate = 0.05;
  auto Ref = buildTrainingGraphs(*(*Fwd)->Functions[0],
                                 LossKind::SparseCategoricalCrossEntropy, Opt, 3);
  ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
  auto G = buildTrainingGraphs(*(*Fwd)->Functions[0],
                               LossKind::SparseCategoricalCrossEntropy, Opt, 3);
  ASSERT_TRUE(bool(G)) << errText(G.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(*G->M)));
  auto C = GpuEmulatedFunction::compile(*G->Step, 2);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int64_t N : {1, 5}) {
    SCOPED_TRACE("batch " + std::to_string(N));
    auto In = functionInputs(*Ref->Step, N, 40 + N);
    auto Want = interpret(*Ref->Step, In);
    ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    // Loss, correct count, new parameters, new Adam moments.
    EXPECT_GT(Want->size(), 6u);
    expectClose(*Want, *Got, 1e-4);
  }
}

// Every tutorial model's training step (the workloads of dlc train) and
// prediction, GPU-mapped, in emulation against the interpreter at batch 2.
TEST(GpuModel, TutorialTrainingStepsMatchInterpreter) {
  for (const std::string &Name : tutorialModelNames()) {
    SCOPED_TRACE(Name);
    auto M = makeTutorialModel(Name, 1);
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    LossKind Loss = Name == "pytorch-net" ? LossKind::NegativeLogLikelihood
                    : Name == "neuron"    ? LossKind::BinaryCrossEntropy
                                          : LossKind::SparseCategoricalCrossEntropy;
    auto Ref = buildTrainingGraphs(*(*M)->Functions[0], Loss, OptimizerConfig(), 9);
    ASSERT_TRUE(bool(Ref)) << errText(Ref.takeError());
    auto G = buildTrainingGraphs(*(*M)->Functions[0], Loss, OptimizerConfig(), 9);
    ASSERT_TRUE(bool(G)) << errText(G.takeError());
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(*G->M)));
    for (auto [F, RF] : {std::pair{G->Step, Ref->Step}, {G->Predict, Ref->Predict}}) {
      auto C = GpuEmulatedFunction::compile(*F, 2);
      ASSERT_TRUE(bool(C)) << errText(C.takeError());
      auto In = functionInputs(*RF, 2, 60);
      auto Want = interpret(*RF, In);
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      auto Got = (*C)->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      expectClose(*Want, *Got, 1e-4);
    }
  }
}

} // namespace
