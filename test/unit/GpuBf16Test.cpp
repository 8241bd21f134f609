// The opt-in bf16 precision: f32 matmuls on tensor cores (mma.sync
// m16n8k16 with bf16 inputs, f32 sums) through the CPU emulation, which
// reads every fragment element from the lane and register PTX's layout
// puts it in, against a reference computed from inputs rounded to bf16
// (nearest, ties to even); they differ from fp32 by what that rounding
// predicts, so the test fails if another path runs. round_bf16's edge
// cases (ties, NaN, infinities, overflow) and the switch through
// dlc::Model; ptxas is in GpuPtxTest.
#include "GpuTestUtil.h"
#include "TestUtil.h"

#include "api/Model.h"
#include "codegen/GpuEmulation.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace dlc;
using namespace dlc::gpu_test;

namespace {

/// bf16 rounding as cvt.rn.bf16.f32: nearest, ties to even; NaN stays NaN.
float bf16(float X) {
  if (std::isnan(X))
    return X;
  uint32_t U;
  std::memcpy(&U, &X, 4);
  U = (U + 0x7fffu + ((U >> 16) & 1u)) & 0xffff0000u;
  float R;
  std::memcpy(&R, &U, 4);
  return R;
}

std::unique_ptr<GpuEmulatedFunction> compileBf16(Function &F, Module &M) {
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(M)));
  GpuOptions G;
  G.Bf16 = true;
  auto C = GpuEmulatedFunction::compile(F, 1, 0, G);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  return C ? std::move(*C) : nullptr;
}

/// y = a[M,K] * b[K,N] (+ bias, relu when Fused) at bf16 through the
/// emulation, against the double-precision product of the bf16-rounded
/// inputs; returns how far fp32's exact product is, relative to the scale.
double checkBf16MatMul(int64_t M, int64_t K, int64_t N, bool Fused) {
  std::string Ks = std::to_string(K), Ns = std::to_string(N);
  std::string Text =
      "func @f(%a: f32[N," + Ks + "], %b: f32[" + Ks + "," + Ns + "], %c: f32[" +
      Ns + "]) -> (y: f32[N," + Ns + "]) {\n  %m = matmul %a, %b\n" +
      (Fused ? "  %s = add %m, %c\n  %y = relu %s\n" : "  %y = add %m, %m\n") +
      "  return %y\n}\n";
  auto Mod = parseModule(Text, "<test>");
  EXPECT_TRUE(bool(Mod)) << errText(Mod.takeError());
  if (!Mod)
    return 0;
  Function &F = *(*Mod)->Functions[0];
  auto In = functionInputs(F, M, 23);
  // Both signs, so sums cancel and relu cuts.
  for (Tensor &T : In)
    for (int64_t I = 0; I < T.numElements(); ++I)
      T.as<float>()[I] = T.as<float>()[I] * 2 - 1;
  auto C = compileBf16(F, **Mod);
  if (!C)
    return 0;
  unsigned Mmas = 0;
  for (auto &Kn : C->kernels())
    Mmas += countOps(Kn->Body, kir::KOpKind::Mma);
  EXPECT_EQ(Mmas, 8u); // 2 x 4 tiles per warp, one per k step of 16
  auto Got = C->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (!Got)
    return 0;
  const float *A = In[0].as<float>(), *B = In[1].as<float>(),
              *Bias = In[2].as<float>();
  const Tensor &Y = (*Got)[0];
  double Off = 0;
  for (int64_t R = 0; R < M; ++R)
    for (int64_t Col = 0; Col < N; ++Col) {
      double T = 0, Exact = 0, Scale = 1e-6;
      for (int64_t Kk = 0; Kk < K; ++Kk) {
        float X = A[R * K + Kk], W = B[Kk * N + Col];
        T += double(bf16(X)) * bf16(W);
        Exact += double(X) * W;
        Scale += std::fabs(double(X) * W);
      }
      if (Fused) {
        T = std::max(0.0, T + Bias[Col]);
        Exact = std::max(0.0, Exact + Bias[Col]);
      } else {
        T *= 2;
        Exact *= 2;
        Scale *= 2;
      }
      double V = Y.getF(R * N + Col);
      // f32 sums of exact bf16 products: a few f32 roundings of the scale.
      EXPECT_LE(std::fabs(V - T), 4e-6 * Scale * std::sqrt(double(K)))
          << "row " << R << " col " << Col;
      Off = std::max(Off, std::fabs(Exact - T) / Scale);
    }
  return Off;
}

// Matmuls at odd sizes (edges in every dimension, k below, at and above a
// step of 16), alone and with a fused bias + relu.
TEST(GpuBf16, MatMulsMatchBf16RoundedInputs) {
  double MaxOff = 0;
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {7, 7, 10}, {33, 16, 64}, {70, 33, 129},
                         {130, 100, 7}}) {
    SCOPED_TRACE("m " + std::to_string(M) + " k " + std::to_string(K) +
                 " n " + std::to_string(N));
    MaxOff = std::max(MaxOff, checkBf16MatMul(M, K, N, false));
    MaxOff = std::max(MaxOff, checkBf16MatMul(M, K, N, true));
  }
  // bf16 keeps 8 significant bits: the fp32 product is about 2^-9 of the
  // scale away somewhere, far above the f32 noise allowed above.
  EXPECT_GT(MaxOff, 1e-3);
}

// round_bf16 (in the staging of the operands): ties to even, NaN,
// infinities, the largest float rounding to infinity, signed zero.
TEST(GpuBf16, RoundingEdges) {
  auto Mod = parseModule("func @f(%a: f32[N,1], %b: f32[1,1]) -> "
                         "(y: f32[N,1]) {\n  %y = matmul %a, %b\n"
                         "  return %y\n}\n",
                         "<test>");
  ASSERT_TRUE(bool(Mod));
  auto C = compileBf16(*(*Mod)->Functions[0], **Mod);
  ASSERT_TRUE(C);
  const float Inf = std::numeric_limits<float>::infinity();
  const float X[] = {1 + 0x1p-8f,       // a tie: down to the even 1
                     1 + 3 * 0x1p-8f,   // a tie: up to the even 1 + 2^-6
                     1 + 0x1p-8f + 0x1p-20f, // above the tie: up
                     -(1 + 0x1p-8f),    // a tie, negative
                     std::numeric_limits<float>::max(), // past bf16's max
                     Inf, -Inf, -0.0f, 0x1p-130f /* subnormal */};
  const int64_t N = sizeof X / sizeof X[0];
  Tensor A(DType::F32, llvm::SmallVector<int64_t, 2>{N, 1});
  std::memcpy(A.data(), X, sizeof X);
  Tensor B(DType::F32, llvm::SmallVector<int64_t, 2>{1, 1});
  B.as<float>()[0] = 1;
  auto Got = C->run({A, B});
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  const float *Y = (*Got)[0].as<float>();
  EXPECT_EQ(Y[0], 1.0f);
  EXPECT_EQ(Y[1], 1 + 0x1p-6f);
  EXPECT_EQ(Y[2], 1 + 0x1p-7f);
  EXPECT_EQ(Y[3], -1.0f);
  EXPECT_EQ(Y[4], Inf);
  EXPECT_EQ(Y[5], Inf);
  EXPECT_EQ(Y[6], -Inf);
  EXPECT_EQ(Y[7], 0.0f);
  EXPECT_EQ(Y[8], bf16(0x1p-130f));
  for (int64_t I = 0; I < N; ++I)
    EXPECT_EQ(Y[I], bf16(X[I]) * 1.0f) << I;
  A.as<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  Got = C->run({A, B});
  ASSERT_TRUE(bool(Got));
  EXPECT_TRUE(std::isnan((*Got)[0].as<float>()[0]));
}

// Through dlc::Model on cuda-emu: bf16 within its tolerance of the CPU but
// further than tf32; on the CPU it is refused.
TEST(GpuBf16, ModelPrecisionSwitch) {
  const char *Text = "func @main(%a: f32[N,40], %b: f32[40,24]) -> (y: f32[N,24]) {\n"
                     "  %y = matmul %a, %b\n  return %y\n}\n";
  auto Run = [&](const std::string &Device, const std::string &Prec)
      -> llvm::Expected<std::vector<Tensor>> {
    auto M = parseModule(Text, "<test>");
    if (!M)
      return M.takeError();
    auto In = functionInputs(*(*M)->Functions[0], 9, 5);
    ModelOptions O;
    O.Device = Device;
    O.Precision = Prec;
    auto Md = Model::fromText(Text, "model.dlc", O);
    if (!Md)
      return Md.takeError();
    return Md->run(In);
  };
  auto Cpu = Run("cpu", "fp32"), Tf32 = Run("cuda-emu", "tf32"),
       Bf16 = Run("cuda-emu", "bf16");
  ASSERT_TRUE(bool(Cpu)) << errText(Cpu.takeError());
  ASSERT_TRUE(bool(Tf32)) << errText(Tf32.takeError());
  ASSERT_TRUE(bool(Bf16)) << errText(Bf16.takeError());
  double MaxTf32 = 0, MaxBf16 = 0;
  for (int64_t I = 0; I < (*Cpu)[0].numElements(); ++I) {
    double W = (*Cpu)[0].getF(I);
    MaxTf32 = std::max(MaxTf32, std::fabs((*Tf32)[0].getF(I) - W));
    MaxBf16 = std::max(MaxBf16, std::fabs((*Bf16)[0].getF(I) - W));
  }
  EXPECT_LT(MaxBf16, 0.2); // 40 products of about 0.25, 2^-9 each
  EXPECT_GT(MaxBf16, 2 * MaxTf32);
  auto Bad = Run("cpu", "bf16");
  ASSERT_FALSE(bool(Bad));
  EXPECT_EQ(errText(Bad.takeError()),
            "error: precision 'bf16' is for GPU tensor cores: use device "
            "'cuda' or 'cuda-emu', or precision 'fp32' on the CPU");
}

} // namespace
