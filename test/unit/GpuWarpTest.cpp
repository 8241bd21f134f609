// Warp-collective kernel IR in the CPU emulation: shuffles and tensor-core
// mma in hand-written GPU kernels against their definitions (source lanes,
// the clamp at the warp's end, the m16n8k8 fragment layout, tf32 rounding),
// and the row reductions built on shuffles at the block sizes
// --kir-gpu-rows accepts, for float and integer element types.
#include "GpuTestUtil.h"
#include "TestUtil.h"

#include "codegen/GpuEmulation.h"
#include "codegen/Jit.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "kernel/KernelParser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>

using namespace dlc;
using namespace dlc::gpu_test;

namespace {

/// A hand-written GPU kernel compiled for the emulation.
struct Emulated {
  std::unique_ptr<kir::Kernel> K, Emu;
  std::unique_ptr<JitModule> Jit;
  GpuLaunchFn Launch = nullptr;
  GpuEmulateFn Emulate = nullptr;

  /// Runs every block of the grid on Args.
  void run(const BufferArg *Args) const {
    GpuLaunch L;
    Launch(Args, &L);
    for (uint32_t Z = 0; Z < L.Grid[2]; ++Z)
      for (uint32_t Y = 0; Y < L.Grid[1]; ++Y)
        for (uint32_t X = 0; X < L.Grid[0]; ++X)
          Emulate(Args, &L, X, Y, Z);
  }
};

llvm::Expected<Emulated> emulate(const std::string &Text) {
  auto Ks = kir::parseKernels(Text, "<test>", 1);
  if (!Ks)
    return Ks.takeError();
  Emulated R;
  R.K = std::move((*Ks)[0]);
  auto C = emulationKernel(*R.K);
  if (!C)
    return C.takeError();
  R.Emu = std::move(*C);
  const kir::Kernel *Emu = R.Emu.get();
  auto J = JitModule::compile({Emu}, 1, [&](llvm::Module &M) {
    return emitGpuHostFunctions(*R.K, M);
  });
  if (!J)
    return J.takeError();
  R.Jit = std::move(*J);
  auto L = R.Jit->lookupAddress(gpuLaunchName(R.K->Name));
  if (!L)
    return L.takeError();
  auto E = R.Jit->lookupAddress(gpuEmulateName(R.K->Name));
  if (!E)
    return E.takeError();
  R.Launch = reinterpret_cast<GpuLaunchFn>(*L);
  R.Emulate = reinterpret_cast<GpuEmulateFn>(*E);
  return std::move(R);
}

/// The lane a shuffle of a block of NT threads reads for linear id Lin.
int64_t sourceOf(int64_t Lin, int64_t NT, bool Down, int64_t Off) {
  int64_t W = std::min<int64_t>(32, NT), Lane = Lin % 32;
  int64_t J = Down ? Lane + Off : Lane ^ Off;
  return J < W ? Lin - Lane + J : Lin;
}

// out[l] = shfl(in[l]); out2[l] = shfl2(out[l] + in[l]) over a 2-D block:
// the second shuffle needs values carried over the first's exchange.
TEST(GpuWarp, ShufflesReadTheirSourceLane) {
  struct Case {
    int64_t BX, BY;
    const char *Mode1;
    int Off1;
    const char *Mode2;
    int Off2;
  };
  const Case Cases[] = {{32, 1, "shfl_down", 1, "shfl_xor", 16},
                        {64, 1, "shfl_xor", 5, "shfl_down", 16},
                        {16, 4, "shfl_down", 3, "shfl_xor", 8},
                        {256, 1, "shfl_xor", 31, "shfl_down", 31},
                        {8, 1, "shfl_down", 4, "shfl_xor", 3},
                        {2, 1, "shfl_xor", 1, "shfl_down", 1}};
  for (const char *Ty : {"f32", "i32", "f64", "i64", "f16"}) {
    for (const Case &C : Cases) {
      int64_t NT = C.BX * C.BY;
      std::string T = Ty;
      SCOPED_TRACE(T + " block " + std::to_string(C.BX) + "x" +
                   std::to_string(C.BY) + " " + C.Mode1 + " " +
                   std::to_string(C.Off1) + ", " + C.Mode2 + " " +
                   std::to_string(C.Off2));
      std::string Text =
          "kernel @shfl(%in: " + T + "[?], %out: " + T + "[?], %out2: " + T +
          "[?]) {\n  %0 = const 1 : index\n  launch grid(%0, %0, %0) block(" +
          std::to_string(C.BX) + ", " + std::to_string(C.BY) +
          ", 1)\n  threads {\n    %1 = thread_id x\n    %2 = thread_id y\n"
          "    %3 = const " + std::to_string(C.BX) + " : index\n"
          "    %4 = imul %2, %3\n    %5 = iadd %1, %4\n"
          "    %6 = load %in[%5] : " + T + "\n    %7 = " + C.Mode1 + " %6, " +
          std::to_string(C.Off1) + " : " + T + "\n    store %7, %out[%5]\n"
          "    %8 = add %7, %6 : " + T + "\n    %9 = " + C.Mode2 + " %8, " +
          std::to_string(C.Off2) + " : " + T + "\n    store %9, %out2[%5]\n"
          "  }\n}\n";
      auto E = emulate(Text);
      ASSERT_TRUE(bool(E)) << errText(E.takeError());
      Tensor In(*parseDType(T), {NT}), Out(In.elem(), {NT}), Out2(In.elem(), {NT});
      for (int64_t L = 0; L < NT; ++L)
        In.setF(L, double((L * 7) % 61 + 1));
      int64_t S[] = {NT};
      BufferArg Args[] = {{In.data(), S}, {Out.data(), S}, {Out2.data(), S}};
      E->run(Args);
      bool D1 = llvm::StringRef(C.Mode1) == "shfl_down",
           D2 = llvm::StringRef(C.Mode2) == "shfl_down";
      for (int64_t L = 0; L < NT; ++L) {
        double Want = In.getF(sourceOf(L, NT, D1, C.Off1));
        ASSERT_EQ(Out.getF(L), Want) << "lane " << L;
        int64_t Src = sourceOf(L, NT, D2, C.Off2);
        ASSERT_EQ(Out2.getF(L), Out.getF(Src) + In.getF(Src)) << "lane " << L;
      }
    }
  }
}


// Each of 2 warps multiplies its own 16 x 8 A by 8 x 8 B and adds C with
// one mma, its fragments loaded per the m16n8k8 tf32 layout (rounded by
// round_tf32); the result is D = C + A * B of the rounded inputs.
TEST(GpuWarp, MmaFollowsTheFragmentLayout) {
  const char *Text = R"(kernel @mma(%a: f32[2,16,8], %b: f32[2,8,8], %c: f32[2,16,8], %d: f32[2,16,8]) {
  %0 = const 1 : index
  launch grid(%0, %0, %0) block(64, 1, 1)
  %af = scratch f32[4]
  %bf = scratch f32[2]
  %cf = scratch f32[4]
  threads {
    %t = thread_id x
    %c32 = const 32 : index
    %c4 = const 4 : index
    %c8 = const 8 : index
    %c2 = const 2 : index
    %z = const 0 : index
    %one = const 1 : index
    %n2 = const 2 : index
    %n3 = const 3 : index
    %w = idiv %t, %c32
    %lane = irem %t, %c32
    %g = idiv %lane, %c4
    %q = irem %lane, %c4
    %g8 = iadd %g, %c8
    %q4 = iadd %q, %c4
    %q2 = imul %q, %c2
    %q21 = iadd %q2, %one
    %a0 = load %a[%w, %g, %q] : f32
    %a1 = load %a[%w, %g8, %q] : f32
    %a2 = load %a[%w, %g, %q4] : f32
    %a3 = load %a[%w, %g8, %q4] : f32
    %ra0 = round_tf32 %a0 : f32
    %ra1 = round_tf32 %a1 : f32
    %ra2 = round_tf32 %a2 : f32
    %ra3 = round_tf32 %a3 : f32
    store %ra0, %af[%z]
    store %ra1, %af[%one]
    store %ra2, %af[%n2]
    store %ra3, %af[%n3]
    %b0 = load %b[%w, %q, %g] : f32
    %b1 = load %b[%w, %q4, %g] : f32
    %rb0 = round_tf32 %b0 : f32
    %rb1 = round_tf32 %b1 : f32
    store %rb0, %bf[%z]
    store %rb1, %bf[%one]
    %c0 = load %c[%w, %g, %q2] : f32
    %c1 = load %c[%w, %g, %q21] : f32
    %c2v = load %c[%w, %g8, %q2] : f32
    %c3 = load %c[%w, %g8, %q21] : f32
    store %c0, %cf[%z]
    store %c1, %cf[%one]
    store %c2v, %cf[%n2]
    store %c3, %cf[%n3]
    %av = load %af[%z] : f32x4
    %bv = load %bf[%z] : f32x2
    %cv = load %cf[%z] : f32x4
    %dv = mma_m16n8k8_tf32 %av, %bv, %cv : f32x4
    store %dv, %cf[%z]
    %d0 = load %cf[%z] : f32
    %d1 = load %cf[%one] : f32
    %d2 = load %cf[%n2] : f32
    %d3 = load %cf[%n3] : f32
    store %d0, %d[%w, %g, %q2]
    store %d1, %d[%w, %g, %q21]
    store %d2, %d[%w, %g8, %q2]
    store %d3, %d[%w, %g8, %q21]
  }
}
)";
  auto E = emulate(Text);
  ASSERT_TRUE(bool(E)) << errText(E.takeError());
  std::vector<float> A(2 * 16 * 8), B(2 * 8 * 8), C(2 * 16 * 8), D(2 * 16 * 8, -1);
  // Values with bits below tf32's precision, so unrounded inputs differ.
  for (size_t I = 0; I < A.size(); ++I)
    A[I] = float(int(I * 37 % 23) - 11) * (1 + 0x1.8p-12f) / 8;
  for (size_t I = 0; I < B.size(); ++I)
    B[I] = float(int(I * 11 % 17) - 8) * (1 + 0x1.4p-11f) / 4;
  for (size_t I = 0; I < C.size(); ++I)
    C[I] = float(int(I % 13) - 6);
  int64_t SA[] = {2, 16, 8}, SB[] = {2, 8, 8};
  BufferArg Args[] = {{A.data(), SA}, {B.data(), SB}, {C.data(), SA}, {D.data(), SA}};
  E->run(Args);
  double MaxRoundingEffect = 0;
  for (int W = 0; W < 2; ++W)
    for (int R = 0; R < 16; ++R)
      for (int Col = 0; Col < 8; ++Col) {
        double Want = C[(W * 16 + R) * 8 + Col], Exact = Want;
        for (int K = 0; K < 8; ++K) {
          float X = A[(W * 16 + R) * 8 + K], Y = B[(W * 8 + K) * 8 + Col];
          Want += double(tf32(X)) * tf32(Y);
          Exact += double(X) * Y;
        }
        float Got = D[(W * 16 + R) * 8 + Col];
        ASSERT_NEAR(Got, Want, 1e-5 * (1 + std::fabs(Want)))
            << "warp " << W << " row " << R << " col " << Col;
        MaxRoundingEffect = std::max(MaxRoundingEffect, std::fabs(Exact - Want));
      }
  // The inputs were rounded: the exact products differ by more than the
  // tolerance somewhere.
  EXPECT_GT(MaxRoundingEffect, 1e-4);
}

// round_tf32 in the emulation (the CPU emitter's rounding): nearest, ties
// away from zero, infinities and NaN kept.
TEST(GpuWarp, RoundTf32) {
  auto E = emulate(R"(kernel @r(%x: f32[?], %y: f32[?]) {
  %0 = const 1 : index
  launch grid(%0, %0, %0) block(32, 1, 1)
  threads {
    %1 = thread_id x
    %2 = dim %x, 0
    for %i3 = %1 to %2 step 32 {
      %4 = load %x[%i3] : f32
      %5 = round_tf32 %4 : f32
      store %5, %y[%i3]
    }
  }
}
)");
  ASSERT_TRUE(bool(E)) << errText(E.takeError());
  std::vector<float> X = {1.0f, 1 + 0x1p-11f, -(1 + 0x1p-11f),
                          1 + 0x1p-11f - 0x1p-23f, 1 + 0x1p-10f + 0x1p-11f,
                          3.14159265f, -2.71828f, 1e-40f, 3.4e38f, 0x1.fffffep127f,
                          INFINITY, -INFINITY, NAN, 0.0f, -0.0f};
  for (int I = 0; I < 100; ++I)
    X.push_back(std::ldexp(float(I * 7919 % 100003) + 0.5f, I % 40 - 20));
  std::vector<float> Y(X.size());
  int64_t S[] = {int64_t(X.size())};
  BufferArg Args[] = {{X.data(), S}, {Y.data(), S}};
  E->run(Args);
  for (size_t I = 0; I < X.size(); ++I) {
    float Want = tf32(X[I]);
    if (std::isnan(Want)) {
      EXPECT_TRUE(std::isnan(Y[I]));
      continue;
    }
    EXPECT_EQ(Y[I], Want) << X[I];
    if (std::isfinite(Want)) { // within half a tf32 unit (subnormals: 2^-137)
      EXPECT_LE(std::fabs(Want - X[I]), std::fabs(X[I]) * 0x1p-11f + 0x1p-137f)
          << X[I];
    }
  }
  // Halfway between 1 and 1 + 2^-10: away from zero; just below: down.
  EXPECT_EQ(Y[1], 1 + 0x1p-10f);
  EXPECT_EQ(Y[2], -(1 + 0x1p-10f));
  EXPECT_EQ(Y[3], 1.0f);
  EXPECT_EQ(Y[4], 1 + 0x1p-9f); // 1 + 3 * 2^-11: a tie, away from zero
  EXPECT_TRUE(std::isinf(Y[9])); // the largest float rounds past tf32's
}


struct Counts {
  unsigned Barriers = 0, Shuffles = 0;
};

/// Text's function through the GPU emulation with row blocks of Threads,
/// against the interpreter (symbolic dims of size Sym); the barriers and
/// shuffles of its kernels.
Counts checkRows(const std::string &Text, int64_t Sym, unsigned Threads,
                 double Tol = 1e-5) {
  Counts R;
  auto M = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(M)) << errText(M.takeError());
  if (!M)
    return R;
  Function &F = *(*M)->Functions[0];
  auto In = functionInputs(F, Sym, 11);
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
  for (size_t K = 0; K < Want->size(); ++K)
    for (int64_t E = 0; E < (*Want)[K].numElements(); ++E) {
      double A = (*Want)[K].getF(E), B = (*Got)[K].getF(E);
      if (A != B) {
        EXPECT_LE(std::fabs(A - B), Tol * (1 + std::fabs(A)))
            << Text << "element " << E;
      }
    }
  for (auto &K : (*C)->kernels()) {
    R.Barriers += countOps(K->Body, kir::KOpKind::Barrier);
    R.Shuffles += countOps(K->Body, kir::KOpKind::Shuffle);
  }
  return R;
}

std::string reduceText(const std::string &Op, const std::string &Ty,
                       int64_t Cols) {
  std::string C = std::to_string(Cols);
  return "func @f(%x: " + Ty + "[N," + C + "]) -> (y: " + Ty + "[N]) {\n  %y = " +
         Op + " %x {axes = [1], keepdims = false}\n  return %y\n}\n";
}

// Row reductions at every kind of block --kir-gpu-rows makes: one partial
// warp (2 and 16 threads), one warp, several warps (64, 1024), over rows
// shorter and longer than the block; sums, maxima and minima of floats and
// integers. Each reduction costs one barrier, whatever the block size.
TEST(GpuWarp, RowReductionsAtEveryBlockSize) {
  for (unsigned N : {2u, 16u, 32u, 64u, 1024u}) {
    for (int64_t C : {1, 7, 33, 1000}) {
      SCOPED_TRACE("threads " + std::to_string(N) + " row length " +
                   std::to_string(C));
      std::string Cs = std::to_string(C);
      Counts S = checkRows("func @f(%x: f32[N," + Cs + "]) -> (y: f32[N," + Cs +
                               "]) {\n  %y = softmax %x\n  return %y\n}\n",
                           5, N);
      EXPECT_GT(S.Shuffles, 0u);
      EXPECT_EQ(S.Barriers, 2u); // the max's and the sum's
      checkRows(reduceText("reduce_sum", "i32", C), 3, N);
      checkRows(reduceText("reduce_max", "i64", C), 3, N);
      checkRows(reduceText("reduce_min", "f64", C), 3, N);
      Counts Min = checkRows(reduceText("reduce_min", "i32", C), 3, N);
      EXPECT_GT(Min.Shuffles, 0u);
      EXPECT_EQ(Min.Barriers, 1u);
      checkRows(reduceText("reduce_prod", "f32", C), 2, N, 1e-4);
    }
  }
}

} // namespace
