// matmul and transpose through the CPU executor equal the interpreter for
// numpy's shape cases (1-D operands, batch broadcasting) on odd sizes, the
// blocked kernel's packed slices and edges, and an
// MLP written in IR runs end to end on the JIT.
#include "JitTestUtil.h"

#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Random.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

using jit_test::random;

/// Tol: relative, plus as much absolute; the default suits k up to a few
/// thousand (the interpreter sums each dot product in k order, the kernels
/// in slices or in two interleaved sets).
void expectSame(llvm::StringRef Text, std::vector<Tensor> In, double Tol = 2e-5) {
  auto M = parseModule(Text, "<test>");
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  Function &F = *(*M)->Functions[0];
  auto Want = interpret(F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  for (unsigned Opt : {0u, 3u}) {
    auto C = CompiledFunction::compile(F, Opt);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    auto Got = (*C)->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    for (size_t K = 0; K < Want->size(); ++K) {
      const Tensor &W = (*Want)[K], &G = (*Got)[K];
      ASSERT_EQ(W.type(), G.type());
      for (int64_t E = 0; E < W.numElements(); ++E)
        ASSERT_NEAR(W.getF(E), G.getF(E), Tol * (1 + std::fabs(W.getF(E))))
            << Text.str() << " -O" << Opt << " element " << E;
    }
  }
}

TEST(JitMatMul, Shapes) {
  const char *T2 = "func @f(%a: f32[M,K], %b: f32[K,N]) -> (c: f32[M,N]) {\n"
                   "  %c = matmul %a, %b\n  return %c\n}\n";
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {7, 3, 5}, {33, 17, 1}, {1, 1000, 7}, {64, 64, 64},
                         // blocked kernel: full 6x32 blocks plus both edges
                         {13, 37, 70}, {6, 5, 32}, {12, 129, 96}})
    expectSame(T2, {random({M, K}, 1), random({K, N}, 2)});
  expectSame("func @f(%a: f32[K], %b: f32[K,N]) -> (c: f32[N]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({7}, 3), random({7, 5}, 4)});
  expectSame("func @f(%a: f32[M,K], %b: f32[K]) -> (c: f32[M]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({3, 33}, 5), random({33}, 6)});
  expectSame("func @f(%a: f32[K], %b: f32[K]) -> (c: f32[]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({9}, 7), random({9}, 8)});
  // Batch dims broadcast: [2,1,M,K] @ [3,K,N] -> [2,3,M,N].
  expectSame("func @f(%a: f32[2,1,M,K], %b: f32[3,K,N]) -> (c: f32[2,3,M,N]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({2, 1, 5, 4}, 9), random({3, 4, 6}, 10)});
}

TEST(JitMatMul, StaticNarrowWidths) {
  // A static width picks the register block: 16 x 1, 12 x 2, 8 x 3 or 6 x 4
  // vectors, with edge rows and columns.
  // Widths under 16 use 8- or 4-lane vectors.
  for (int64_t W : {3, 4, 5, 9, 10, 16, 17, 32, 40, 48, 50, 64, 100})
    for (int64_t M : {1, 13, 37}) {
      std::string N = std::to_string(W);
      expectSame("func @f(%a: f32[M,K], %b: f32[K," + N + "]) -> (c: f32[M," +
                     N + "]) {\n  %c = matmul %a, %b\n  return %c\n}\n",
                 {random({M, 130}, 1), random({130, W}, 2)});
    }
}

TEST(JitMatMul, PackedSlicesAndVectorEdges) {
  // b's k slices are packed (128 rows at a time): k below, at and past one
  // slice and across several. A static width past the last full 4-vector
  // panel leaves 1, 2 or 3 whole vectors (a narrower strip) and 0 to 15
  // scalar columns; rows past the last 6-row block run as 1-row blocks.
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 80},
                         {5, 128, 80}, {64, 129, 288}, {13, 300, 117},
                         {97, 257, 200}, {7, 1000, 64}, {1, 3, 127}})
    expectSame("func @f(%a: f32[M,K], %b: f32[K," + std::to_string(N) +
                   "]) -> (c: f32[M," + std::to_string(N) +
                   "]) {\n  %c = matmul %a, %b\n  return %c\n}\n",
               {random({M, K}, 30), random({K, N}, 31)});
  // The same shapes with dynamic widths (no narrower strip) and with a bias
  // and relu stored by the last slice.
  const char *Dyn = "func @f(%a: f32[M,K], %b: f32[K,N]) -> (c: f32[M,N]) {\n"
                    "  %c = matmul %a, %b\n  return %c\n}\n";
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{64, 129, 288},
                         {13, 300, 117}, {97, 257, 200}})
    expectSame(Dyn, {random({M, K}, 32), random({K, N}, 33)});
  expectSame("func @f(%a: f32[M,K], %b: f32[K,288], %c: f32[288]) -> "
             "(r: f32[M,288]) {\n  %m = matmul %a, %b\n  %s = add %m, %c\n"
             "  %r = relu %s\n  return %r\n}\n",
             {random({67, 259}, 34), random({259, 288}, 35), random({288}, 36)});
}

TEST(JitMatMul, PanelGroups) {
  // An a larger than 256 KB puts panels in groups whose k slices run
  // outside them: whole panels then a partial last one (200 columns), a
  // group with only the partial panel (N just past a panel), rows in blocks
  // and past them, and rows below one block (the direct rows) inside the
  // groups; static and dynamic k, and an epilogue stored by the last slice.
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{49, 1400, 200},
                         {50, 1400, 65}, {5, 14000, 100}, {1, 14000, 33}})
    expectSame("func @f(%a: f32[M," + std::to_string(K) + "], %b: f32[" +
                   std::to_string(K) + "," + std::to_string(N) +
                   "]) -> (c: f32[M," + std::to_string(N) +
                   "]) {\n  %c = matmul %a, %b\n  return %c\n}\n",
               {random({M, K}, 40), random({K, N}, 41)},
               K > 2000 ? 2e-4 : 2e-5); // 14000-term sums in other orders
  expectSame("func @f(%a: f32[M,K], %b: f32[K,N]) -> (c: f32[M,N]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({49, 1400}, 42), random({1400, 200}, 43)});
  expectSame("func @f(%a: f32[M,1400], %b: f32[1400,200], %c: f32[200]) -> "
             "(r: f32[M,200]) {\n  %m = matmul %a, %b\n  %s = add %m, %c\n"
             "  %r = relu %s\n  return %r\n}\n",
             {random({49, 1400}, 44), random({1400, 200}, 45), random({200}, 46)});
}

TEST(JitMatMul, BatchedRightHandShared) {
  // A 2-D a times a batch of matrices [batch, k, n] (a convolution's
  // weights times its images) on the blocked kernel: batch 1 and 3, widths
  // that leave vector and scalar edge columns (49, 14, 1), rows past the
  // last block, k across several packed slices, static and dynamic sizes.
  for (auto [Nb, M, K, N] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{1, 1, 1, 1},
                             {3, 7, 33, 49}, {1, 37, 129, 14}, {2, 100, 17, 196},
                             {3, 13, 300, 1}, {2, 6, 5, 80}, {1, 20, 128, 64},
                             {1, 9, 256, 33}}) {
    std::string Ns = std::to_string(N);
    expectSame("func @f(%a: f32[M,K], %b: f32[B,K," + Ns + "]) -> (c: f32[B,M," +
                   Ns + "]) {\n  %c = matmul %a, %b\n  return %c\n}\n",
               {random({M, K}, 40), random({Nb, K, N}, 41)});
    expectSame("func @f(%a: f32[M,K], %b: f32[B,K,N]) -> (c: f32[B,M,N]) {\n"
               "  %c = matmul %a, %b\n  return %c\n}\n",
               {random({M, K}, 42), random({Nb, K, N}, 43)});
    // A bias per row ([M, 1]) and relu, fused into the kernel's stores,
    // with a static k (the first slice starts from zero, the slices are
    // laid out at compile time).
    std::string Ms = std::to_string(M), Ks = std::to_string(K);
    expectSame("func @f(%a: f32[" + Ms + "," + Ks + "], %b: f32[B," + Ks + "," + Ns +
                   "], %c: f32[" + Ms + ",1]) -> (r: f32[B," + Ms + "," + Ns +
                   "]) {\n  %m = matmul %a, %b\n  %s = add %m, %c\n  %r = relu %s\n"
                   "  return %r\n}\n",
               {random({M, K}, 44), random({Nb, K, N}, 45), random({M, 1}, 46)});
  }
}

TEST(JitMatMul, BatchedLeftByTwoD) {
  // a [..., m, k] times a 2-D b (a dense layer over a batch of sequences):
  // conv-to-gemm makes it one GEMM of a's rows. Static leading dims, one
  // symbolic (the result's shape an attribute with -1), two symbolic (the
  // shape read from a's at run time), with a bias and relu after it.
  expectSame("func @f(%a: f32[2,3,4,24], %b: f32[24,20]) -> (c: f32[2,3,4,20]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({2, 3, 4, 24}, 50), random({24, 20}, 51)});
  expectSame("func @f(%a: f32[N,5,40], %b: f32[40,33]) -> (c: f32[N,5,33]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {random({3, 5, 40}, 52), random({40, 33}, 53)});
  for (auto [Bn, S] : {std::pair<int64_t, int64_t>{2, 7}, {1, 19}})
    expectSame("func @f(%a: f32[B,S,40], %b: f32[40,17], %c: f32[17]) -> "
               "(r: f32[B,S,17]) {\n  %m = matmul %a, %b\n  %s = add %m, %c\n"
               "  %r = relu %s\n  return %r\n}\n",
               {random({Bn, S, 40}, 54), random({40, 17}, 55), random({17}, 56)});
}

TEST(JitMatMul, BlockedF64) {
  auto toF64 = [](const Tensor &T) {
    Tensor R(DType::F64, T.shape());
    for (int64_t I = 0; I < T.numElements(); ++I)
      R.setF(I, T.getF(I));
    return R;
  };
  expectSame("func @f(%a: f64[M,K], %b: f64[K,N]) -> (c: f64[M,N]) {\n"
             "  %c = matmul %a, %b\n  return %c\n}\n",
             {toF64(random({14, 19}, 40)), toF64(random({19, 35}, 41))});
}

TEST(JitMatMul, TransposeAndGemm) {
  expectSame("func @f(%a: f32[A,B,C]) -> (c: f32[C,A,B]) {\n"
             "  %c = transpose %a {perm = [2, 0, 1]}\n  return %c\n}\n",
             {random({3, 7, 5}, 11)});
  expectSame("func @f(%x: f32[N,784], %w: f32[10,784], %b: f32[10]) -> (y: f32[N,10]) {\n"
             "  %y = gemm %x, %w, %b {alpha = 0.5, trans_b = true}\n  return %y\n}\n",
             {random({3, 784}, 12), random({10, 784}, 13), random({10}, 14)});
}

TEST(JitMatMul, MlpEndToEnd) {
  // Dense(128, relu) - Dense(10) - log_softmax - NLL, as a model would use it.
  expectSame(
      "func @f(%x: f32[N,784], %w1: f32[784,128], %b1: f32[128], %w2: f32[128,10], "
      "%b2: f32[10], %y: i64[N]) -> (logp: f32[N,10], loss: f32[]) {\n"
      "  %h = matmul %x, %w1\n  %h1 = add %h, %b1\n  %r = relu %h1\n"
      "  %z = matmul %r, %w2\n  %z1 = add %z, %b2\n"
      "  %logp = log_softmax %z1\n  %loss = nll_loss %logp, %y\n"
      "  return %logp, %loss\n}\n",
      [] {
        std::vector<Tensor> In = {random({5, 784}, 20), random({784, 128}, 21),
                                  random({128}, 22), random({128, 10}, 23),
                                  random({10}, 24)};
        Tensor Y(DType::I64, {5});
        for (int I = 0; I < 5; ++I)
          Y.setI(I, (I * 3) % 10);
        In.push_back(Y);
        return In;
      }());
}

} // namespace
