// The opt-in tf32 precision: f32 matmuls on tensor cores (mma.sync m16n8k8
// with tf32 inputs) run through the CPU emulation, which follows the same
// fragment layout and rounding, against a reference computed from inputs
// rounded to tf32; they differ from fp32 by what that rounding predicts (so
// the test fails if the fp32 path runs instead). The PTX passes ptxas for
// sm_80 and sm_90 (GpuPtxTest), and the switch is refused where it cannot
// apply.
#include "GpuTestUtil.h"
#include "TestUtil.h"

#include "api/Device.h"
#include "api/Model.h"
#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>

using namespace dlc;
using namespace dlc::gpu_test;

namespace {



/// y = a[M,K] * b[K,N] (+ bias, relu when Fused) at tf32 through the
/// emulation, against the double-precision product of the tf32-rounded
/// inputs; returns how far fp32's exact product is, relative to the scale.
double checkTf32MatMul(int64_t M, int64_t K, int64_t N, bool Fused) {
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
  auto In = functionInputs(F, M, 17);
  PassManager PM;
  EXPECT_FALSE(bool(PM.addPipeline("optimize")));
  EXPECT_FALSE(bool(PM.run(**Mod)));
  GpuOptions G;
  G.Tf32 = true;
  auto C = GpuEmulatedFunction::compile(F, 1, 0, G);
  EXPECT_TRUE(bool(C)) << errText(C.takeError());
  if (!C)
    return 0;
  unsigned Mmas = 0;
  for (auto &Kn : (*C)->kernels())
    Mmas += countOps(Kn->Body, kir::KOpKind::Mma);
  EXPECT_EQ(Mmas, 16u); // 2 x 4 tiles per warp, 2 per k step of 16
  auto Got = (*C)->run(In);
  EXPECT_TRUE(bool(Got)) << errText(Got.takeError());
  if (!Got)
    return 0;
  const float *A = In[0].as<float>(), *B = In[1].as<float>(), *Bias = In[2].as<float>();
  const Tensor &Y = (*Got)[0];
  double Off = 0;
  for (int64_t R = 0; R < M; ++R)
    for (int64_t Col = 0; Col < N; ++Col) {
      double T = 0, Exact = 0, Scale = 0;
      for (int64_t Kk = 0; Kk < K; ++Kk) {
        float X = A[R * K + Kk], W = B[Kk * N + Col];
        T += double(tf32(X)) * tf32(W);
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
      Scale += 1e-6;
      double V = Y.getF(R * N + Col);
      // f32 sums of tf32 products: a few f32 roundings of the scale.
      EXPECT_LE(std::fabs(V - T), 4e-6 * Scale * std::sqrt(double(K)))
          << "row " << R << " col " << Col;
      Off = std::max(Off, std::fabs(Exact - T) / Scale);
    }
  return Off;
}

// Matmuls at odd sizes (edges in every dimension, k below and above a
// step), alone and with a fused bias + relu.
TEST(GpuTf32, MatMulsMatchTf32RoundedInputs) {
  double MaxOff = 0;
  for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                         {7, 7, 10}, {33, 16, 64}, {70, 33, 129},
                         {130, 100, 7}}) {
    SCOPED_TRACE("m " + std::to_string(M) + " k " + std::to_string(K) +
                 " n " + std::to_string(N));
    MaxOff = std::max(MaxOff, checkTf32MatMul(M, K, N, false));
    MaxOff = std::max(MaxOff, checkTf32MatMul(M, K, N, true));
  }
  // tf32 keeps 11 significant bits: relative to the sum of |products|, the
  // fp32 result is about 2^-12 away somewhere, far above the f32 noise the
  // check above allows.
  EXPECT_GT(MaxOff, 1e-4);
}

// The same model through dlc::Model on cuda-emu at both precisions: fp32
// unchanged (the default), tf32 within its tolerance but not identical.
TEST(GpuTf32, ModelPrecisionSwitch) {
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
  auto Cpu = Run("cpu", "fp32"), Fp32 = Run("cuda-emu", "fp32"),
       Tf32 = Run("cuda-emu", "tf32");
  ASSERT_TRUE(bool(Cpu)) << errText(Cpu.takeError());
  ASSERT_TRUE(bool(Fp32)) << errText(Fp32.takeError());
  ASSERT_TRUE(bool(Tf32)) << errText(Tf32.takeError());
  double MaxFp32 = 0, MaxTf32 = 0;
  for (int64_t I = 0; I < (*Cpu)[0].numElements(); ++I) {
    double W = (*Cpu)[0].getF(I);
    MaxFp32 = std::max(MaxFp32, std::fabs((*Fp32)[0].getF(I) - W));
    MaxTf32 = std::max(MaxTf32, std::fabs((*Tf32)[0].getF(I) - W));
  }
  EXPECT_LT(MaxFp32, 1e-4);
  EXPECT_LT(MaxTf32, 2e-2);
  EXPECT_GT(MaxTf32, 10 * MaxFp32);
  auto Bad = Run("cpu", "tf32");
  ASSERT_FALSE(bool(Bad));
  EXPECT_EQ(errText(Bad.takeError()),
            "error: precision 'tf32' is for GPU tensor cores: use device "
            "'cuda' or 'cuda-emu', or precision 'fp32' on the CPU");
  auto Bad2 = Run("cuda-emu", "bf8");
  ASSERT_FALSE(bool(Bad2));
  EXPECT_NE(errText(Bad2.takeError()).find("precision must be 'fp32', 'tf32' or 'bf16'"),
            std::string::npos);
}

// The tensor-core kernel's PTX: mma.sync m16n8k8 with tf32 operands
// converted by cvt.rna (GpuPtxTest runs ptxas on it); sm_75 has no tf32
// and is refused.
TEST(GpuTf32, PtxHasMmaSync) {
  auto M = parseModule("func @f(%a: f32[N,64], %b: f32[64,48], %c: f32[48]) -> "
                       "(y: f32[N,48]) {\n  %m = matmul %a, %b\n"
                       "  %s = add %m, %c\n  %y = relu %s\n  return %y\n}\n",
                       "<test>");
  ASSERT_TRUE(bool(M));
  PassManager PM;
  ASSERT_FALSE(bool(PM.addPipeline("optimize")));
  ASSERT_FALSE(bool(PM.run(**M)));
  GpuOptions G;
  G.Tf32 = true;
  auto L = lowerFunctionForGpu(*(*M)->Functions[0], G);
  ASSERT_TRUE(bool(L)) << errText(L.takeError());
  std::vector<const kir::Kernel *> Ks;
  for (auto &K : L->Kernels)
    Ks.push_back(K.get());
  for (const char *Arch : {"sm_80", "sm_90"}) {
    GpuTarget T;
    T.Arch = Arch;
    auto Ptx = emitPtx(Ks, T);
    ASSERT_TRUE(bool(Ptx)) << errText(Ptx.takeError());
    EXPECT_NE(Ptx->find("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"),
              std::string::npos);
    EXPECT_NE(Ptx->find("cvt.rna.tf32.f32"), std::string::npos);
  }
  GpuTarget Old;
  Old.Arch = "sm_75";
  auto Ptx = emitPtx(Ks, Old);
  ASSERT_FALSE(bool(Ptx));
  EXPECT_NE(errText(Ptx.takeError()).find("needs sm_80 or newer"),
            std::string::npos);
}

} // namespace
