// The GPU mapping checked without a GPU: every table example (after the
// optimize pipeline) is lowered, mapped to the GPU (--kir-gpu-rows,
// --kir-gpu-map) and run through the CPU emulation of its kernels (blocks
// and threads as loops, split at barriers), against the interpreter at odd
// sizes; and hand-written mapped kernels run block by block.
#include "TestUtil.h"

#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

/// Compares Got with Want: NaN matches NaN, else within Tol relative.
void expectClose(const std::vector<Tensor> &Want, const std::vector<Tensor> &Got,
                 const std::string &What, double Tol = 1e-5) {
  ASSERT_EQ(Want.size(), Got.size()) << What;
  for (size_t K = 0; K < Want.size(); ++K) {
    const Tensor &W = Want[K], &G = Got[K];
    ASSERT_EQ(W.type(), G.type()) << What;
    if (W.elem() == DType::Str) {
      EXPECT_EQ(W.strings(), G.strings()) << What;
      continue;
    }
    for (int64_t E = 0; E < W.numElements(); ++E) {
      double A = W.getF(E), B = G.getF(E);
      if ((std::isnan(A) && std::isnan(B)) || A == B)
        continue;
      ASSERT_LE(std::fabs(A - B), Tol * (1 + std::fabs(A)))
          << What << " output " << K << " element " << E;
    }
  }
}

TEST(GpuEmulation, TableExamplesMatchInterpreter) {
  unsigned Covered = 0, CpuCovered = 0;
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
    ++CpuCovered;
    auto C = GpuEmulatedFunction::compile(F, 1);
    ASSERT_TRUE(bool(C)) << I.Mnemonic.str() << ": " << errText(C.takeError());
    for (auto &K : (*C)->kernels())
      ASSERT_TRUE(K->isGpu()) << I.Mnemonic.str() << ": @" << K->Name;
    for (int64_t N : {1, 7, 33}) {
      auto In = functionInputs(F, N, 31);
      auto Want = interpret(*(*Ref)->Functions[0], In);
      ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
      auto Got = (*C)->run(In);
      ASSERT_TRUE(bool(Got)) << I.Mnemonic.str() << ": " << errText(Got.takeError());
      expectClose(*Want, *Got, I.Mnemonic.str() + " N=" + std::to_string(N));
    }
    ++Covered;
    Names += " " + I.Mnemonic.str();
  }
  std::printf("ops running through the GPU emulation: %u of %u with a CPU "
              "lowering:%s\n",
              Covered, CpuCovered, Names.c_str());
  // Every op the CPU executor compiles also runs GPU-mapped.
  EXPECT_EQ(Covered, CpuCovered);
  EXPECT_GE(Covered, 50u);
}

} // namespace
