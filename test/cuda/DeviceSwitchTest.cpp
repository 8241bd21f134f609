// The device switch of dlc::Model and dlc::Trainer: device names, the
// errors without a driver or without a GPU code generator, and whole
// models and training steps through the GPU executor, on the emulation and
// on the fake driver, with the CPU JIT's kernels standing in for GPU ones
// (JitAsGpu.h). ctest runs the NoDriver tests with DLC_CUDA_DRIVER naming
// a missing file, the rest with it naming the fake driver.
#include "FakeCuda.h"
#include "JitAsGpu.h"
#include "api/Device.h"
#include "api/Model.h"
#include "api/Trainer.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Random.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dlc;

namespace {

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

const char *Cnn =
    "func @cnn(%x: f32[N,1,8,8]) params(%w1: f32[4,1,3,3], %b1: f32[4], "
    "%w2: f32[64,3], %b2: f32[3]) -> (p: f32[N,3]) {\n"
    "  %c = conv %x, %w1, %b1 {pads = [1, 1, 1, 1]}\n"
    "  %r = relu %c\n"
    "  %m = max_pool %r {kernel = [2, 2], strides = [2, 2]}\n"
    "  %f = flatten %m\n"
    "  %h = matmul %f, %w2\n"
    "  %z = add %h, %b2\n"
    "  %p = softmax %z\n"
    "  return %p\n}\n";

/// Cnn with seeded parameters.
std::unique_ptr<Module> cnnModule() {
  auto M = llvm::cantFail(parseModule(Cnn, "cnn.dlc"));
  Function &F = *M->Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(F.Params[I]->Type.elem(), Shape);
    for (int64_t E = 0; E < T.numElements(); ++E)
      T.setF(E, 0.5 * (2 * uniformAt(7 + int64_t(I), E) - 1));
    F.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  return M;
}

std::pair<Tensor, Tensor> batch(int64_t N, int64_t Seed) {
  Tensor X(DType::F32, {N, 1, 8, 8}), Y(DType::I64, {N});
  for (int64_t I = 0; I < X.numElements(); ++I)
    X.setF(I, uniformAt(Seed, I));
  for (int64_t I = 0; I < N; ++I)
    Y.setI(I, int64_t(uniformAt(Seed + 1, I) * 3));
  return {X, Y};
}

class DeviceSwitch : public ::testing::Test {
protected:
  void SetUp() override {
    dlcFakeCudaReset();
    Saved = setGpuCodegen(jitgpu::codegen);
  }
  void TearDown() override {
    setGpuCodegen(Saved);
    EXPECT_STREQ(dlcFakeCudaViolations(), "");
  }
  GpuCodegenFn Saved = nullptr;
};

TEST_F(DeviceSwitch, Names) {
  ModelOptions O;
  O.Device = "gpu";
  auto M = Model::fromText(Cnn, "cnn.dlc", O);
  ASSERT_FALSE(bool(M));
  EXPECT_EQ(errText(M.takeError()),
            "error: device must be 'cpu', 'cuda' or 'cuda-emu', got 'gpu'");
  O.Device = "cuda-emu";
  O.Engine = "interp";
  auto I = Model::fromText(Cnn, "cnn.dlc", O);
  ASSERT_FALSE(bool(I));
  EXPECT_EQ(errText(I.takeError()),
            "error: engine 'interp' runs on the CPU only: use device 'cpu' or "
            "engine 'jit'");
}

TEST_F(DeviceSwitch, WithoutAGpuCodeGenerator) {
  setGpuCodegen(nullptr);
  for (const char *D : {"cuda", "cuda-emu"}) {
    ModelOptions O;
    O.Device = D;
    auto M = Model::fromText(Cnn, "cnn.dlc", O);
    ASSERT_FALSE(bool(M));
    EXPECT_EQ(errText(M.takeError()),
              std::string("error: device '") + D +
                  "' is not supported yet: this dlc has no GPU code generator "
                  "(kernel IR to NVPTX, issue 11); use --device cpu");
  }
  auto Mod = cnnModule();
  TrainerOptions T;
  T.Device = "cuda";
  auto Tr = Trainer::create(*Mod->Functions[0], T);
  ASSERT_FALSE(bool(Tr));
  EXPECT_NE(errText(Tr.takeError()).find("is not supported yet"),
            std::string::npos);
}

/// The model on Device gives the CPU JIT's outputs, batch after batch.
void runsLikeTheCpu(const char *Device) {
  std::string Text = toString(*cnnModule());
  auto Cpu = Model::fromText(Text, "cnn.dlc");
  ASSERT_TRUE(bool(Cpu)) << errText(Cpu.takeError());
  ModelOptions O;
  O.Device = Device;
  O.Threads = 1;
  auto Gpu = Model::fromText(Text, "cnn.dlc", O);
  ASSERT_TRUE(bool(Gpu)) << errText(Gpu.takeError());
  EXPECT_EQ(Gpu->device(), Device);
  for (int64_t N : {1, 5, 2}) {
    auto [X, Y] = batch(N, N);
    auto A = Cpu->run({X});
    ASSERT_TRUE(bool(A)) << errText(A.takeError());
    auto B = Gpu->run({X});
    ASSERT_TRUE(bool(B)) << errText(B.takeError());
    ASSERT_EQ((*A)[0].type(), (*B)[0].type());
    for (int64_t I = 0; I < (*A)[0].numElements(); ++I)
      ASSERT_NEAR((*A)[0].getF(I), (*B)[0].getF(I), 1e-6) << N << " " << I;
  }
}

TEST_F(DeviceSwitch, ModelOnTheEmulation) { runsLikeTheCpu("cuda-emu"); }

TEST_F(DeviceSwitch, ModelOnTheFakeDriver) {
  runsLikeTheCpu("cuda");
  EXPECT_GT(dlcFakeCudaLaunchCount(), 0u);
}

/// Training on Device follows the CPU trainer step for step; on the fake
/// driver only the batch, labels and step count go in and the loss and
/// count come out, and from the fifth step on the launches are CUDA graph
/// replays.
void trainsLikeTheCpu(const char *Device) {
  auto Mod = cnnModule();
  TrainerOptions O;
  O.Optimizer.Kind = OptimizerKind::Adam;
  O.Optimizer.LearningRate = 0.01;
  O.Threads = 1;
  auto Cpu = Trainer::create(*Mod->Functions[0], O);
  ASSERT_TRUE(bool(Cpu)) << errText(Cpu.takeError());
  O.Device = Device;
  auto Gpu = Trainer::create(*Mod->Functions[0], O);
  ASSERT_TRUE(bool(Gpu)) << errText(Gpu.takeError());
  uint64_t FirstLaunches = 0;
  for (int S = 0; S < 6; ++S) {
    auto [X, Y] = batch(6, 40 + S);
    uint64_t In = dlcFakeCudaBytes(0), Out = dlcFakeCudaBytes(1);
    auto A = Cpu->step(X, Y);
    ASSERT_TRUE(bool(A)) << errText(A.takeError());
    uint64_t Launches = dlcFakeCudaCalls("cuLaunchKernel"),
             Graphs = dlcFakeCudaCalls("cuGraphLaunch");
    auto B = Gpu->step(X, Y);
    ASSERT_TRUE(bool(B)) << errText(B.takeError());
    Launches = dlcFakeCudaCalls("cuLaunchKernel") - Launches;
    Graphs = dlcFakeCudaCalls("cuGraphLaunch") - Graphs;
    if (S == 0)
      FirstLaunches = Launches;
    // The step's two parameter bindings alternate: each is recorded as
    // CUDA graphs at its second run (steps 2 and 3), then replayed.
    if (std::string(Device) == "cuda" && S >= 4) {
      EXPECT_GE(Graphs, 1u) << S;
      EXPECT_LT(Launches, FirstLaunches / 2) << S;
    }
    EXPECT_NEAR(A->Loss, B->Loss, 1e-5 * std::fabs(A->Loss)) << S;
    EXPECT_EQ(A->Correct, B->Correct) << S;
    if (std::string(Device) == "cuda" && S >= 2) {
      // x f32[6,1,8,8], labels i64[6], step i64; loss f32 (or f64) and
      // count i64 back.
      EXPECT_EQ(dlcFakeCudaBytes(0) - In, 6u * 64 * 4 + 6 * 8 + 8) << S;
      EXPECT_LE(dlcFakeCudaBytes(1) - Out, 16u) << S;
    }
  }
  auto [X, Y] = batch(7, 99);
  auto EA = Cpu->evaluate(X, Y), EB = Gpu->evaluate(X, Y);
  ASSERT_TRUE(bool(EA) && bool(EB));
  EXPECT_NEAR(EA->Loss, EB->Loss, 1e-5 * std::fabs(EA->Loss));
  auto MA = Cpu->trainedModel(), MB = Gpu->trainedModel();
  ASSERT_TRUE(bool(MA) && bool(MB));
  const Function &FA = *(*MA)->Functions[0], &FB = *(*MB)->Functions[0];
  for (size_t I = 0; I < FA.Params.size(); ++I) {
    const Tensor &TA = *FA.ParamInits[I]->getTensor();
    const Tensor &TB = *FB.ParamInits[I]->getTensor();
    for (int64_t E = 0; E < TA.numElements(); ++E)
      ASSERT_NEAR(TA.getF(E), TB.getF(E), 1e-5) << FA.Params[I]->Name;
  }
}

TEST_F(DeviceSwitch, TrainingOnTheEmulation) { trainsLikeTheCpu("cuda-emu"); }
TEST_F(DeviceSwitch, TrainingOnTheFakeDriver) { trainsLikeTheCpu("cuda"); }

TEST(NoDriver, CudaSaysToUseTheCpu) {
  ModelOptions O;
  O.Device = "cuda";
  auto M = Model::fromText(Cnn, "cnn.dlc", O);
  ASSERT_FALSE(bool(M));
  std::string E = errText(M.takeError());
  EXPECT_NE(E.find("error: no NVIDIA driver found (DLC_CUDA_DRIVER=/"
                   "nonexistent/libcuda.so.1: "),
            std::string::npos) << E;
  EXPECT_NE(E.find("install the NVIDIA driver or use --device cpu"),
            std::string::npos) << E;
  // The emulation needs no driver.
  O.Device = "cuda-emu";
  setGpuCodegen(jitgpu::codegen);
  auto Emu = Model::fromText(toString(*cnnModule()), "cnn.dlc", O);
  setGpuCodegen(nullptr);
  ASSERT_TRUE(bool(Emu)) << errText(Emu.takeError());
  auto [X, Y] = batch(2, 3);
  auto R = Emu->run({X});
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_EQ((*R)[0].type().str(), "f32[2,3]");
}

} // namespace
