// Bounded work on large graphs: a 100k-op ONNX chain goes through import,
// the optimize pipeline (fusion included) and lowering to kernel IR in
// seconds. The bound is the ctest TIMEOUT of this executable (see
// test/CMakeLists.txt), generous for a sanitizer build yet far below what
// the quadratic fusion took (13 s for 20k ops, over 300 s for 100k).
#include "OnnxTestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"

#include <cmath>

using namespace dlc;
using namespace onnx_test;

namespace {

/// y = op_{N-1}(... op_0(x)), cycling Relu, Neg, Abs, Sigmoid; with Diamond
/// every other step is the max with the value two steps back (two uses per
/// value).
onnx::ModelProto chain(int N, bool Diamond) {
  onnx::ModelProto M = baseModel();
  auto &G = *M.mutable_graph();
  addTensorInput(G, "x", {16}, onnx::TensorProto::FLOAT, "N");
  const char *Ops[] = {"Relu", "Neg", "Abs", "Sigmoid"};
  std::string Prev = "x", Prev2 = "x";
  for (int I = 0; I < N; ++I) {
    std::string Out = I + 1 == N ? "y" : "v" + std::to_string(I);
    if (Diamond && I % 2) {
      addNode(G, "Max", {Prev, Prev2}, {Out}, "n" + std::to_string(I));
    } else {
      addNode(G, Ops[I % 4], {Prev}, {Out}, "n" + std::to_string(I));
    }
    Prev2 = Prev;
    Prev = Out;
  }
  G.add_output()->set_name("y");
  return M;
}

/// Imports, optimizes and lowers M; returns the number of kernels.
size_t lower(const onnx::ModelProto &M) {
  auto Mod = importOnnx(M.SerializeAsString(), "chain.onnx");
  EXPECT_TRUE(bool(Mod)) << llvm::toString(Mod.takeError());
  if (!Mod)
    return 0;
  PassManager PM;
  EXPECT_FALSE(PM.addPipeline(optimizePipeline()));
  llvm::Error E = PM.run(**Mod);
  EXPECT_FALSE(bool(E)) << llvm::toString(std::move(E));
  auto L = lowerFunction(*(*Mod)->Functions.front());
  EXPECT_TRUE(bool(L)) << llvm::toString(L.takeError());
  return L ? L->Kernels.size() : 0;
}

TEST(OnnxScale, HundredThousandOpChainImportsOptimizesAndLowers) {
  size_t K = lower(chain(100000, false));
  // Fused into groups of at most 128 ops each.
  EXPECT_GE(K, 100000u / 128);
  EXPECT_LE(K, 100000u / 64);
}

TEST(OnnxScale, HundredThousandOpDiamondChainImportsOptimizesAndLowers) {
  EXPECT_GT(lower(chain(100000, true)), 0u);
}

TEST(OnnxScale, LongFusedChainComputesWhatTheInterpreterDoes) {
  // 1000 ops: eight groups of 128 and a rest, run by the JIT.
  std::unique_ptr<Module> Mod;
  auto CF = compileModel(chain(1000, true), Mod);
  ASSERT_TRUE(CF);
  Tensor X(DType::F32, {16, 3});
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setF(I, 0.01 * double(I) - 0.2);
  auto Got = CF->run({X});
  if (!Got)
    FAIL() << "run: " << llvm::toString(Got.takeError());
  auto Want = interpret(*Mod->Functions.front(), {X});
  ASSERT_TRUE(bool(Want)) << llvm::toString(Want.takeError());
  for (int64_t I = 0; I < X.numElements(); ++I)
    EXPECT_NEAR((*Got)[0].getF(I), (*Want)[0].getF(I),
                1e-4 * (1 + std::fabs((*Want)[0].getF(I))))
        << I;
}

} // namespace
