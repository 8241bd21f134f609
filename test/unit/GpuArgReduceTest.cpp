// argmax / argmin on the GPU (kernel/GpuArgReduce.cpp): one block per output
// element, partial (value, index) pairs combined by warp shuffles, run
// through the CPU emulation (whose shuffles follow PTX's lane semantics)
// against the interpreter, exactly: at every block size (a partial warp,
// one warp, several warps), over axes shorter and longer than the block, on
// every axis of a rank-3 tensor, with ties (first and last index) and NaNs
// (the first NaN wins), for floats and integers.
#include "GpuTestUtil.h"
#include "TestUtil.h"

#include "codegen/GpuEmulation.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;
using namespace dlc::gpu_test;

namespace {

struct Counts {
  unsigned Barriers = 0, Shuffles = 0, Launches = 0;
  int64_t Block = 0; // threads per block of the arg kernel
};

/// Fills X: values from a set of 5 (so ties are common), and with NaNs
/// every NaNEvery elements (0: none) for floats.
void fill(Tensor &X, uint64_t Seed, int64_t NaNEvery) {
  for (int64_t I = 0; I < X.numElements(); ++I) {
    double U = uniformAt(int64_t(Seed), I);
    double V = std::floor(U * 5) - 2;
    if (NaNEvery && isFloat(X.elem()) && (I * 7 + int64_t(Seed)) % NaNEvery == 0)
      V = NAN;
    X.setF(I, V);
  }
}

/// Text's function (one input) through the GPU emulation with blocks of
/// Threads, against the interpreter, bit for bit.
Counts checkArg(const std::string &Text, llvm::ArrayRef<int64_t> Shape,
                unsigned Threads, int64_t NaNEvery) {
  Counts R;
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return R;
  Function &F = *(*M)->Functions[0];
  std::vector<Tensor> In;
  In.emplace_back(F.Inputs[0]->Type.elem(), Shape);
  fill(In[0], Threads + Shape.size(), NaNEvery);
  auto Want = interpret(F, In);
  EXPECT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**M)));
  GpuOptions G;
  G.RowThreads = Threads;
  auto C = GpuEmulatedFunction::compile(F, 1, 0, G);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  if (!C || !Want)
    return R;
  auto Got = (*C)->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (!Got)
    return R;
  const Tensor &W = (*Want)[0], &Y = (*Got)[0];
  EXPECT_EQ(W.type().str(), Y.type().str());
  int64_t Wrong = 0;
  for (int64_t E = 0; E < W.numElements() && E < Y.numElements(); ++E)
    if (W.as<int64_t>()[E] != Y.as<int64_t>()[E] && Wrong++ < 5)
      ADD_FAILURE() << Text << "element " << E << ": want "
                    << W.as<int64_t>()[E] << ", got " << Y.as<int64_t>()[E];
  for (auto &K : (*C)->kernels()) {
    R.Barriers += countOps(K->Body, kir::KOpKind::Barrier);
    R.Shuffles += countOps(K->Body, kir::KOpKind::Shuffle);
    if (const kir::KOp *L = K->launch()) {
      ++R.Launches;
      R.Block = L->Block[0];
    }
  }
  return R;
}

std::string argText(const std::string &Op, const std::string &Ty,
                    const std::string &InDims, const std::string &OutDims,
                    int Axis, bool Keep, bool Last) {
  return "func @f(%x: " + Ty + "[" + InDims + "]) -> (y: i64[" + OutDims +
         "]) {\n  %y = " + Op + " %x {axis = " + std::to_string(Axis) +
         ", keepdims = " + (Keep ? "true" : "false") +
         ", select_last_index = " + (Last ? "true" : "false") +
         "}\n  return %y\n}\n";
}

// Rows along the last axis at every block size, both tie rules, NaNs:
// shuffles in every case, one barrier only with several warps; a short
// static axis gets a block of one warp.
TEST(GpuArgReduce, LastAxisAtEveryBlockSize) {
  for (unsigned N : {2u, 16u, 32u, 64u, 1024u})
    for (int64_t L : {1, 7, 33, 1000}) {
      SCOPED_TRACE("threads " + std::to_string(N) + " axis length " +
                   std::to_string(L));
      std::string Ls = std::to_string(L);
      for (bool Last : {false, true}) {
        Counts S = checkArg(argText("argmax", "f32", "N," + Ls, "N", 1, false,
                                    Last),
                            {5, L}, N, 0);
        EXPECT_EQ(S.Launches, 1u);
        EXPECT_GT(S.Shuffles, 0u);
        int64_t Block = N;
        if (L <= 32)
          Block = std::min<int64_t>(N, 32);
        else if (L <= 64)
          Block = std::min<int64_t>(N, 64);
        EXPECT_EQ(S.Block, Block);
        EXPECT_EQ(S.Barriers, Block > 32 ? 1u : 0u);
        checkArg(argText("argmin", "f64", "N," + Ls, "N,1", 1, true, Last),
                 {3, L}, N, 11);
        checkArg(argText("argmax", "i32", "N," + Ls, "N", -1, false, Last),
                 {4, L}, N, 0);
        checkArg(argText("argmin", "i64", "N," + Ls, "N", 1, false, Last),
                 {2, L}, N, 0);
      }
      // Many NaNs: the first one wins, whatever the tie rule.
      checkArg(argText("argmax", "f32", "N," + Ls, "N", 1, false, true),
               {3, L}, N, 3);
    }
}

// A symbolic axis length (the block keeps its N threads), and every axis
// of a rank-3 tensor, with and without keepdims.
TEST(GpuArgReduce, AnyAxisAndSymbolicLength) {
  for (unsigned N : {32u, 256u}) {
    SCOPED_TRACE("threads " + std::to_string(N));
    Counts S = checkArg(argText("argmax", "f32", "B,L", "B", 1, false, false),
                        {3, 700}, N, 0);
    EXPECT_EQ(S.Block, int64_t(N));
    checkArg(argText("argmax", "f32", "7,33,5", "33,5", 0, false, false),
             {7, 33, 5}, N, 13);
    checkArg(argText("argmin", "f32", "7,33,5", "7,1,5", 1, true, true),
             {7, 33, 5}, N, 0);
    checkArg(argText("argmax", "i32", "7,33,5", "7,33", 2, false, true),
             {7, 33, 5}, N, 0);
    checkArg(argText("argmin", "f16", "1,1000,1", "1,1", 1, false, false),
             {1, 1000, 1}, N, 0);
  }
}

} // namespace
