// The GPU mapping checked without a GPU: every table example (after the
// optimize pipeline) is lowered, mapped to the GPU (--kir-gpu-rows,
// --kir-gpu-map) and run through the CPU emulation of its kernels (blocks
// and threads as loops, split at barriers), against the interpreter at odd
// sizes; and hand-written mapped kernels run block by block.
#include "GpuTestUtil.h"
#include "TestUtil.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;
using namespace dlc::gpu_test;

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


/// Compiles Text's function for the GPU emulation, runs it on seeded inputs
/// with symbolic dims of size Sym, compares with the interpreter, and
/// returns the number of barriers in its kernels.
unsigned checkGraph(const std::string &Text, int64_t Sym, double Tol = 1e-5) {
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return 0;
  Function &F = *(*M)->Functions[0];
  auto In = functionInputs(F, Sym, 7);
  auto Want = interpret(F, In);
  EXPECT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  auto C = GpuEmulatedFunction::compile(F, 2);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  if (!C || !Want)
    return 0;
  auto Got = (*C)->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (Got)
    expectClose(*Want, *Got, Text, Tol);
  unsigned Barriers = 0;
  for (auto &K : (*C)->kernels())
    Barriers += countOps(K->Body, kir::KOpKind::Barrier);
  return Barriers;
}

// Rows of softmax, log-softmax, layer-norm, a loss and plain reductions run
// one block per row with tree reductions in shared memory (so the kernels
// have barriers), at row lengths below, at and above the 256 threads of a
// block, and odd row counts.
TEST(GpuEmulation, RowReductionsRunOneBlockPerRow) {
  for (int64_t C : {1, 7, 256, 1000}) {
    std::string Cs = std::to_string(C);
    SCOPED_TRACE("row length " + Cs);
    EXPECT_GT(checkGraph("func @f(%x: f32[N," + Cs + "]) -> (y: f32[N," + Cs +
                             "]) {\n  %y = softmax %x\n  return %y\n}\n",
                         5),
              0u);
    EXPECT_GT(checkGraph("func @f(%x: f32[N," + Cs + "]) -> (y: f32[N," + Cs +
                             "]) {\n  %y = log_softmax %x\n  return %y\n}\n",
                         3),
              0u);
    EXPECT_GT(checkGraph("func @f(%x: f32[N," + Cs + "]) -> (y: f32[N]) {\n"
                             "  %y = reduce_sum %x {axes = [1], keepdims = false}\n"
                             "  return %y\n}\n",
                         33),
              0u);
    EXPECT_GT(checkGraph("func @f(%x: f32[N," + Cs + "], %g: f32[" + Cs +
                             "], %b: f32[" + Cs + "]) -> (y: f32[N," + Cs +
                             "]) {\n  %y = layer_norm %x, %g, %b\n"
                             "  return %y\n}\n",
                         3, 1e-4),
              0u);
    if (C > 1) { // labels of the seeded inputs go up to 1
      EXPECT_GT(checkGraph("func @f(%x: f32[N," + Cs + "], %l: i64[N]) -> (y: "
                             "f32[]) {\n  %y = softmax_cross_entropy %x, %l\n"
                             "  return %y\n}\n",
                         7),
              0u);
    }
  }
  // Reductions over a leading axis: one block per output column.
  EXPECT_GT(checkGraph("func @f(%x: f32[N,5]) -> (y: f32[5]) {\n"
                           "  %y = reduce_max %x {axes = [0], keepdims = false}\n"
                           "  return %y\n}\n",
                       1000),
            0u);
}

// The tiled matmul (64 x 64 tiles, k steps of 16 through shared memory):
// edges in every dimension, k shorter and longer than a step, and a fused
// bias + relu epilogue.
TEST(GpuEmulation, TiledMatMulAtOddSizes) {
  for (int64_t K : {1, 7, 16, 33}) {
    for (int64_t Nc : {1, 10, 64, 129}) {
      std::string Ks = std::to_string(K), Ns = std::to_string(Nc);
      SCOPED_TRACE("k " + Ks + " n " + Ns);
      EXPECT_GT(checkGraph("func @f(%a: f32[N," + Ks + "], %b: f32[" + Ks + "," +
                               Ns + "]) -> (y: f32[N," + Ns + "]) {\n"
                               "  %y = matmul %a, %b\n  return %y\n}\n",
                           K == 33 ? 70 : 5),
                0u);
      EXPECT_GT(checkGraph("func @f(%a: f32[N," + Ks + "], %b: f32[" + Ks + "," +
                               Ns + "], %c: f32[" + Ns + "]) -> (y: f32[N," + Ns +
                               "]) {\n  %m = matmul %a, %b\n"
                               "  %s = add %m, %c\n  %y = relu %s\n"
                               "  return %y\n}\n",
                           K == 7 ? 130 : 3),
                0u);
    }
  }
}

// A conv whose GEMM reads its patches from the image (the fused im2col of
// the CPU's implicit GEMM): the GPU's tile loads gather them, zero where a
// tap falls off the image.
TEST(GpuEmulation, ConvGemmGathersPatches) {
  checkGraph("func @f(%x: f32[N,3,5,34], %w: f32[16,3,3,3], %b: f32[16]) -> "
             "(y: f32[N,16,4,34]) {\n"
             "  %c = conv %x, %w, %b {dilations = [1, 2], pads = [0, 2, 1, 2]}\n"
             "  %y = relu %c\n  return %y\n}\n",
             2);
  // Strided along both dims, odd sizes: 7x7 stride 2 as in ResNet's first.
  checkGraph("func @f(%x: f32[N,3,27,29], %w: f32[16,3,7,7], %b: f32[16]) -> "
             "(y: f32[N,16,14,15]) {\n"
             "  %c = conv %x, %w, %b {pads = [3, 3, 3, 3], strides = [2, 2]}\n"
             "  %y = relu %c\n  return %y\n}\n",
             2);
}

// The host side of exec/GpuAbi.h as a GPU executor uses it: the launch
// function sizes the grid from the buffers' sizes alone (zero blocks when
// there is no work), and running Emulate on every block of that grid, in
// any order, gives the result; the PTX has the kernel's .entry.
TEST(GpuEmulation, HostFunctionsFollowTheAbi) {
  auto M = parseModule("func @f(%a: f32[N,7], %b: f32[7]) -> (c: f32[N,7]) {\n"
                       "  %c = add %a, %b\n  return %c\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M));
  GpuTarget T;
  auto P = GpuCompilation::compile(*(*M)->Functions[0], &T);
  ASSERT_TRUE(bool(P)) << errText(P.takeError());
  ASSERT_EQ((*P)->entries().size(), 1u);
  const GpuKernelEntry &E = (*P)->entries()[0];
  EXPECT_EQ(E.NumArgs, 3u);
  EXPECT_NE((*P)->ptx().find(".entry " + E.Name + "("), std::string::npos);
  const int64_t N = 1000;
  std::vector<float> A(N * 7), B(7), C(N * 7, -1);
  for (int64_t I = 0; I < N * 7; ++I)
    A[I] = float(I);
  for (int I = 0; I < 7; ++I)
    B[I] = 0.5f * I;
  int64_t SA[] = {N, 7}, SB[] = {7}, SC[] = {N, 7};
  BufferArg Args[] = {{A.data(), SA}, {B.data(), SB}, {C.data(), SC}};
  BufferArg Sizes[] = {{nullptr, SA}, {nullptr, SB}, {nullptr, SC}};
  GpuLaunch L;
  E.Launch(Sizes, &L); // data pointers are never read
  EXPECT_EQ(L.Grid[0], uint32_t((N * 7 + 255) / 256));
  EXPECT_EQ(L.Grid[1], 1u);
  EXPECT_EQ(L.Block[0], 256u);
  // Blocks in reverse order.
  for (uint32_t Bx = L.Grid[0]; Bx-- > 0;)
    E.Emulate(Args, &L, Bx, 0, 0);
  for (int64_t I = 0; I < N * 7; ++I)
    ASSERT_EQ(C[I], float(I) + 0.5f * (I % 7)) << "element " << I;
  int64_t Empty[] = {0, 7};
  BufferArg None[] = {{nullptr, Empty}, {nullptr, SB}, {nullptr, Empty}};
  E.Launch(None, &L);
  EXPECT_EQ(L.Grid[0], 0u);
}

} // namespace
