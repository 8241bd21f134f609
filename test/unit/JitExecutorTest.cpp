// The CPU executor runs whole functions: every table example whose optimized
// form has only ops with CPU lowerings runs through the JIT and equals the
// interpreter on the original graph. As lowerings are added, more ops are
// covered automatically; a floor on the count keeps coverage from shrinking.
#include "TestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

std::vector<Tensor> inputsFor(const Function &F, int64_t N) {
  return functionInputs(F, N, 31);
}

TEST(JitExecutor, TableExamplesMatchInterpreter) {
  unsigned Covered = 0;
  std::string Names;
  for (const OpInfo &I : allOps()) {
    auto M = parseModule(exampleText(I), "<example>");
    ASSERT_TRUE(bool(M)) << errText(M.takeError());
    Function &F = *(*M)->Functions[0];
    auto Ref = parseModule(exampleText(I), "<example>");
    ASSERT_TRUE(bool(Ref));
    PassManager PM;
    ASSERT_FALSE(bool(PM.addPipeline("optimize")));
    ASSERT_FALSE(bool(PM.run(**M)));
    bool All = true;
    for (auto &Op : F.Body)
      All &= CompiledFunction::supports(*Op);
    if (!All)
      continue;
    auto C = CompiledFunction::compile(F, 2);
    ASSERT_TRUE(bool(C)) << I.Mnemonic.str() << ": " << errText(C.takeError());
    for (int64_t N : {1, 7, 33}) {
      auto In = inputsFor(F, N);
      auto Want = interpret(*(*Ref)->Functions[0], In);
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      auto Got = (*C)->run(In);
      ASSERT_TRUE(bool(Got)) << I.Mnemonic.str() << ": " << errText(Got.takeError());
      ASSERT_EQ(Want->size(), Got->size());
      for (size_t K = 0; K < Want->size(); ++K) {
        const Tensor &W = (*Want)[K], &G = (*Got)[K];
        ASSERT_EQ(W.type(), G.type()) << I.Mnemonic.str();
        if (W.elem() == DType::Str) {
          EXPECT_EQ(W.strings(), G.strings()) << I.Mnemonic.str();
          continue;
        }
        for (int64_t E = 0; E < W.numElements(); ++E) {
          double A = W.getF(E), B = G.getF(E);
          if ((std::isnan(A) && std::isnan(B)) || A == B)
            continue;
          ASSERT_LE(std::fabs(A - B), 1e-5 * (1 + std::fabs(A)))
              << I.Mnemonic.str() << " N=" << N << " element " << E;
        }
      }
    }
    ++Covered;
    Names += " " + I.Mnemonic.str();
  }
  std::printf("ops running end to end on the CPU JIT: %u:%s\n", Covered,
              Names.c_str());
  // Elementwise ops, the reductions and the composites built from them.
  EXPECT_GE(Covered, 50u);
}

TEST(JitExecutor, RunTimeInputErrors) {
  auto M = parseModule("func @f(%a: f32[N,3], %b: f32[N,3]) -> (c: f32[N,3]) {\n"
                       "  %c = add %a, %b\n  return %c\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 0);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor A(DType::F32, {2, 3}), B(DType::F32, {4, 3}), I(DType::I64, {2, 3});
  auto E1 = (*C)->run({A});
  ASSERT_FALSE(bool(E1));
  EXPECT_NE(errText(E1.takeError()).find("takes 2 input(s), got 1"), std::string::npos);
  auto E2 = (*C)->run({A, B});
  ASSERT_FALSE(bool(E2));
  EXPECT_NE(errText(E2.takeError()).find("(N) is 4 but N was bound to 2 by input 'a'"),
            std::string::npos);
  auto E3 = (*C)->run({A, I});
  ASSERT_FALSE(bool(E3));
  EXPECT_NE(errText(E3.takeError()).find("input 'b' must be f32[N,3], got i64"),
            std::string::npos);
  // One compiled function serves any batch size.
  Tensor A5(DType::F32, {5, 3}), B5(DType::F32, {5, 3});
  A5.setF(14, 2.5);
  B5.setF(14, 1.0);
  auto Ok = (*C)->run({A5, B5});
  ASSERT_TRUE(bool(Ok)) << errText(Ok.takeError());
  EXPECT_EQ((*Ok)[0].getF(14), 3.5);
}

TEST(JitExecutor, IntermediatesAreFreedAfterTheirLastUse) {
  // a and b die in the op that reads them, so each result overwrites its
  // operand in place: the arena holds one [N,4] f32 tensor (rounded up to
  // 64 bytes), not two or three.
  auto M = parseModule("func @f(%x: f32[N,4]) -> (c: f32[N,4]) {\n"
                       "  %a = relu %x\n  %b = neg %a\n  %c = exp %b\n"
                       "  return %c\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 0);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  uint64_t Peak = 0;
  auto R = (*C)->run({Tensor(DType::F32, {2, 4})}, &Peak);
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_EQ(Peak, 64u);
  EXPECT_EQ((*R)[0].getF(7), 1.0); // exp(-relu(0))
  auto R2 = (*C)->run({Tensor(DType::F32, {10, 4})}, &Peak);
  ASSERT_TRUE(bool(R2));
  EXPECT_EQ(Peak, 192u); // batch 10: 160 bytes, run-time sizes
}

TEST(JitExecutor, ThreadCountDoesNotChangeResults) {
  // Parallel loops split independent iterations, so 1, 2 and 3 threads give
  // bit-identical outputs (and the interpreter's values).
  auto M = parseModule(
      "func @f(%x: f32[N,64], %w: f32[64,70], %y: f32[N,3,12,12], %k: f32[5,3,3,3]) "
      "-> (a: f32[N,70], b: f32[N,5,10,10], c: f32[N]) {\n"
      "  %m = matmul %x, %w\n  %a = relu %m\n"
      "  %b = conv %y, %k\n"
      "  %c = reduce_max %m {axes = [1], keepdims = false}\n"
      "  return %a, %b, %c\n}\n",
      "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  std::vector<Tensor> In = inputsFor(F, 13);
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want));
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  std::vector<Tensor> First;
  for (unsigned T : {1u, 2u, 3u}) {
    auto C = CompiledFunction::compile(F, 3, T);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    if (First.empty())
      First = *Got;
    for (size_t K = 0; K < Got->size(); ++K) {
      EXPECT_TRUE((*Got)[K] == First[K]) << T << " threads, output " << K;
      for (int64_t E = 0; E < (*Want)[K].numElements(); ++E)
        ASSERT_NEAR((*Want)[K].getF(E), (*Got)[K].getF(E),
                    1e-4 * (1 + std::fabs((*Want)[K].getF(E))));
    }
  }
}

TEST(JitExecutor, UnsupportedOpsAreListedTogether) {
  auto M = parseModule("func @f(%a: f32[1,1,5,5], %w: f32[1,1,3,3], %i: i64[2]) -> (c: f32[1,1,7,7]) {\n"
                       "  %m = conv_transpose %a, %w\n"
                       "  %t = dropout %m {ratio = 0.5, training = true}\n"
                       "  %c = range {limit = 5.0}\n"
                       "  return %m\n}\n",
                       "<t.dlc>");
  ASSERT_TRUE(bool(M));
  auto C = CompiledFunction::compile(*(*M)->Functions[0], 0);
  ASSERT_FALSE(bool(C));
  std::string Msg = errText(C.takeError());
  EXPECT_EQ(Msg.find("'conv_transpose'"), std::string::npos) << Msg;
  // Composites are decomposed by the caller; an undecomposed dropout is
  // reported like any other op.
  EXPECT_NE(Msg.find("<t.dlc>:3:8: 'dropout'"), std::string::npos) << Msg;
  EXPECT_NE(Msg.find("<t.dlc>:4:8: 'range'"), std::string::npos) << Msg;
}

} // namespace

namespace {
TEST(JitExecutor, ArgMaxArgMinTiesAndNaN) {
  for (const char *Op : {"argmax", "argmin"})
    for (const char *Attrs :
         {"{axis = 1}", "{axis = 0, keepdims = false}",
          "{axis = -1, select_last_index = true}", "{axis = 1, keepdims = false, select_last_index = true}"}) {
      std::string Text = std::string("func @f(%x: f32[4,6]) -> (x: f32[4,6]) {\n  %y = ") +
                         Op + " %x " + Attrs + "\n  return %x\n}\n";
      auto M = parseModule(Text, "<test>");
      ASSERT_TRUE(bool(M)) << errText(M.takeError());
      Function &F = *(*M)->Functions[0];
      F.Outputs[0] = F.Body.front()->result(); // return the index tensor
      F.Outputs[0]->Name = "y";
      Tensor X(DType::F32, {4, 6});
      const double Vals[] = {1, 3, 3, 0, 3, -1,   // ties
                             2, NAN, 5, NAN, 1, 0, // NaNs
                             -4, -4, -4, -4, -4, -4, 7, 6, 5, 4, 3, 8};
      for (int I = 0; I < 24; ++I)
        X.setF(I, Vals[I]);
      auto Want = interpret(F, {X});
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      auto C = CompiledFunction::compile(F, 3);
      ASSERT_TRUE(bool(C)) << errText(C.takeError());
      auto Got = (*C)->run({X});
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      ASSERT_EQ((*Want)[0].type(), (*Got)[0].type()) << Op << " " << Attrs;
      for (int64_t E = 0; E < (*Want)[0].numElements(); ++E)
        EXPECT_EQ((*Want)[0].getI(E), (*Got)[0].getI(E)) << Op << " " << Attrs << " " << E;
    }
}
} // namespace
