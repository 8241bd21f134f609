// exec/GpuExecutable over the CPU emulation and over the fake CUDA driver,
// with hand-written kernels (GpuFixtures.h): results against the reference
// interpreter, what crosses the host-device boundary (bytes counted by the
// fake), parameter blocks written once, state kept on the device between
// runs, skipped empty launches, and every error path.
#include "FakeCuda.h"
#include "GpuFixtures.h"
#include "exec/GpuExecutable.h"
#include "interp/Collective.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "runtime/CudaDriver.h"

#include "gtest/gtest.h"

#include <cmath>
#include <thread>

using namespace dlc;

namespace {

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

Tensor values(DType E, llvm::ArrayRef<int64_t> Shape, int Seed) {
  Tensor T(E, Shape);
  for (int64_t I = 0; I < T.numElements(); ++I)
    T.setF(I, std::sin(double(I) * 0.37 + Seed) * 2.0);
  return T;
}

void expectSame(const Tensor &Want, const Tensor &Got, const std::string &What) {
  ASSERT_EQ(Want.type(), Got.type()) << What;
  for (int64_t I = 0; I < Want.numElements(); ++I)
    ASSERT_EQ(Want.getF(I), Got.getF(I)) << What << " element " << I;
}

const char *Chain =
    "func @f(%x: f32[N,4], %y: f32[N,4]) params(%b: f32[4] = "
    "dense<f32[4]>[0.5, -1.0, 2.0, 0.25]) -> (r: f32[N,4], s: f32[N,4]) {\n"
    "  %a = add %x, %y\n"
    "  %m = mul %a, %x\n"
    "  %v = reshape %m {shape = [-1]}\n"
    "  %w = reshape %v {shape = [-1, 4]}\n"
    "  %c = add %w, %b\n"
    "  %r = relu %c\n"
    "  %s = sub %r, %y\n"
    "  return %r, %s\n"
    "}\n";

const char *Step = "func @step(%x: f32[N,4], %w: f32[4]) -> (y: f32[N,4], "
                   "w2: f32[4]) {\n"
                   "  %c = constant {value = dense<f32[4]>[0.9, 0.8, 0.7, 0.6]}\n"
                   "  %y = add %x, %w\n"
                   "  %w2 = mul %w, %c\n"
                   "  return %y, %w2\n"
                   "}\n";

/// A parsed function, its GPU executable and the fixture program.
struct Compiled {
  std::unique_ptr<Module> M;
  const Function *F = nullptr;
  std::unique_ptr<GpuExecutable> X;
};

/// Parses Text and builds its executable on Pool's device with the fixture
/// kernels (registered with the fake driver too); Edit may change the
/// program first.
llvm::Expected<Compiled>
compileOn(std::shared_ptr<GpuMemoryPool> Pool, llvm::StringRef Text,
          std::function<void(GpuProgram &)> Edit = nullptr) {
  Compiled C;
  auto M = parseModule(Text, "<test>");
  if (!M)
    return M.takeError();
  C.M = std::move(*M);
  C.F = C.M->Functions[0].get();
  auto Steps = planSteps(*C.F);
  if (!Steps)
    return Steps.takeError();
  GpuProgram P = fixture::programFor(*Steps);
  if (Edit)
    Edit(P);
  for (const GpuKernelEntry &K : P.Kernels)
    dlcFakeCudaRegisterKernel(K.Name.c_str(), K.NumArgs, K.Emulate);
  auto X = GpuExecutable::create(*C.F, std::move(*Steps), std::move(P), Pool);
  if (!X)
    return X.takeError();
  C.X = std::move(*X);
  return std::move(C);
}

/// A memory pool on the fake driver's device or on the emulation.
class DeviceFixture {
protected:
  void setUpDevice(bool Fake) {
    dlcFakeCudaReset();
    if (Fake) {
      auto D = rt::CudaDriver::load(DLC_FAKE_CUDA);
      ASSERT_TRUE(bool(D)) << errText(D.takeError());
      Driver = std::move(*D);
      Pool = GpuMemoryPool::create(GpuDevice::cuda(Driver));
    } else {
      Pool = GpuMemoryPool::create(GpuDevice::emulator());
    }
  }
  llvm::Expected<Compiled>
  compile(llvm::StringRef Text,
          std::function<void(GpuProgram &)> Edit = nullptr) {
    return compileOn(Pool, Text, std::move(Edit));
  }
  std::shared_ptr<rt::CudaDriver> Driver;
  std::shared_ptr<GpuMemoryPool> Pool;
};

/// Every test on both devices.
class GpuExecutableTest : public ::testing::TestWithParam<bool>,
                          public DeviceFixture {
protected:
  bool fake() const { return GetParam(); }
  void SetUp() override { setUpDevice(fake()); }
  void TearDown() override { EXPECT_STREQ(dlcFakeCudaViolations(), ""); }
};

/// Tests of what only the fake driver shows: copies, launches, faults.
class FakeCudaExecutableTest : public ::testing::Test, public DeviceFixture {
protected:
  void SetUp() override { setUpDevice(true); }
  void TearDown() override { EXPECT_STREQ(dlcFakeCudaViolations(), ""); }
};

TEST_P(GpuExecutableTest, MatchesTheInterpreter) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int64_t N : {1, 7, 33, 1000, 8}) {
    std::vector<Tensor> In = {values(DType::F32, {N, 4}, 1),
                              values(DType::F32, {N, 4}, 2)};
    auto Want = interpret(*C->F, In);
    ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
    uint64_t Peak = 0;
    auto Got = C->X->run(In, &Peak);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    ASSERT_EQ(Got->size(), 2u);
    expectSame((*Want)[0], (*Got)[0], "r N=" + std::to_string(N));
    expectSame((*Want)[1], (*Got)[1], "s N=" + std::to_string(N));
    // a, m (+ its views), c, r, s: at most four f32[N,4] alive at once.
    EXPECT_LE(Peak, uint64_t(4 * N * 16 + 4 * 256)) << N;
  }
}

TEST_P(GpuExecutableTest, InputErrorsAreTheCpuOnes) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto R = C->X->run({values(DType::F32, {3, 4}, 1), values(DType::F32, {2, 4}, 2)});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "error: input 'y' dim 0 (N) is 2 but N was bound to 3 by input "
            "'x'");
}

TEST_P(GpuExecutableTest, ConcurrentRunsOfDifferentSizes) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto work = [&](int64_t N) {
    std::vector<Tensor> In = {values(DType::F32, {N, 4}, 3),
                              values(DType::F32, {N, 4}, 4)};
    auto Want = interpret(*C->F, In);
    for (int K = 0; K < 20; ++K) {
      auto Got = C->X->run(In);
      ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
      expectSame((*Want)[1], (*Got)[1], "N=" + std::to_string(N));
    }
  };
  std::thread A(work, 5), B(work, 70);
  A.join();
  B.join();
}

TEST_P(GpuExecutableTest, StateStaysOnTheDevice) {
  auto C = compile(Step);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor W = values(DType::F32, {4}, 9);
  auto Dev = C->X->upload(W);
  ASSERT_TRUE(bool(Dev)) << errText(Dev.takeError());
  GpuTensor State(std::move(*Dev));
  uint64_t In0 = dlcFakeCudaBytes(0), Out0 = dlcFakeCudaBytes(1);
  for (int K = 0; K < 6; ++K) {
    Tensor X = values(DType::F32, {3, 4}, K);
    auto Want = interpret(*C->F, {X, W});
    ASSERT_TRUE(bool(Want));
    auto Got = C->X->run({GpuTensor(X), State}, {false, true});
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    ASSERT_FALSE((*Got)[0].onDevice());
    ASSERT_TRUE((*Got)[1].onDevice());
    expectSame((*Want)[0], (*Got)[0].Host, "y at step " + std::to_string(K));
    State = std::move((*Got)[1]); // the old buffer goes back to the pool
    W = (*Want)[1];
    if (fake() && K >= 2) { // steady: the batch in, y out, nothing else
      EXPECT_EQ(dlcFakeCudaBytes(0) - In0, 48u) << K;
      EXPECT_EQ(dlcFakeCudaBytes(1) - Out0, 48u) << K;
    }
    In0 = dlcFakeCudaBytes(0), Out0 = dlcFakeCudaBytes(1);
  }
  // The new state lands in the buffer the old one left, so two images of
  // parameter blocks serve every step.
  EXPECT_EQ(C->X->blockImagesWritten(), 2u);
  auto Final = C->X->download(State.Dev);
  ASSERT_TRUE(bool(Final)) << errText(Final.takeError());
  expectSame(W, *Final, "final state");
}

TEST_P(GpuExecutableTest, OutputsThatAreInputsOrParameters) {
  auto C = compile("func @p(%x: f32[3]) params(%b: f32[3] = "
                   "dense<f32[3]>[1.0, 2.0, 3.0]) -> (a: f32[3], b: f32[3], "
                   "c: f32[3]) {\n  %c = add %x, %b\n  return %x, %b, %c\n}\n");
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor X = values(DType::F32, {3}, 5);
  auto Want = interpret(*C->F, {X});
  ASSERT_TRUE(bool(Want));
  for (bool Keep : {false, true}) {
    auto Got = C->X->run({GpuTensor(X)}, {Keep, Keep, Keep});
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    for (size_t K = 0; K < 3; ++K) {
      Tensor H = (*Got)[K].Host;
      if (Keep) {
        auto D = C->X->download((*Got)[K].Dev);
        ASSERT_TRUE(bool(D));
        H = std::move(*D);
      }
      expectSame((*Want)[K], H, "output " + std::to_string(K));
    }
  }
}

TEST_P(GpuExecutableTest, GatherIndicesAreChecked) {
  auto C = compile("func @g(%d: f32[5], %i: i64[3], %k: i64[3]) -> (o: "
                   "f32[3]) {\n  %j = add %i, %k\n  %o = gather %d, %j "
                   "{axis = 0}\n  return %o\n}\n");
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  Tensor D = values(DType::F32, {5}, 1), I(DType::I64, {3}), K(DType::I64, {3});
  for (int64_t E = 0; E < 3; ++E)
    I.setI(E, E), K.setI(E, -2 * E);
  auto Want = interpret(*C->F, {D, I, K});
  ASSERT_TRUE(bool(Want));
  auto Got = C->X->run({D, I, K});
  ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
  expectSame((*Want)[0], (*Got)[0], "gather");
  K.setI(2, 4); // 2 + 4: computed on the device, out of range
  auto Bad = C->X->run({D, I, K});
  ASSERT_FALSE(bool(Bad));
  EXPECT_EQ(errText(Bad.takeError()),
            "<test>:3:8: error: 'gather': index 6 is out of range for dim 0 "
            "of size 5");
}

TEST_P(GpuExecutableTest, KernelTableMustFitTheSteps) {
  auto C = compile(Chain, [](GpuProgram &P) { P.Kernels[1].NumArgs = 4; });
  ASSERT_FALSE(bool(C));
  EXPECT_EQ(errText(C.takeError()),
            "<test>:3:8: error: internal error: GPU kernel 'k1_mul' takes 4 "
            "buffers; its step passes 3");
  auto D = compile(Chain, [](GpuProgram &P) { P.Kernels.pop_back(); });
  ASSERT_FALSE(bool(D));
  EXPECT_EQ(errText(D.takeError()),
            "error: internal error: '@f' has 5 kernel steps but its GPU "
            "program 4 "
            "kernels");
}

TEST_P(GpuExecutableTest, ImpossibleLaunchNamesTheKernel) {
  auto C = compile(Step, [](GpuProgram &P) {
    P.Kernels[0].Launch = [](const BufferArg *, GpuLaunch *L) {
      L->Grid[0] = 1;
      L->Block[0] = 2048;
    };
  });
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto R = C->X->run({values(DType::F32, {2, 4}, 1), values(DType::F32, {4}, 1)});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "<test>:3:8: error: internal error: GPU kernel 'k0_add' computed "
            "an impossible launch: grid 1x1x1, block 2048x1x1");
}

/// Stands for Ranks ranks holding the same values, plus Offset on every
/// element (a skipped sum shows): sum = Ranks * x + Offset. With OnDevice,
/// it sums device buffers of the fake driver in place (as NCCL would).
class FakeRanks final : public CollectiveHook {
public:
  FakeRanks(int Ranks, double Offset, bool OnDevice = false)
      : Ranks(Ranks), Offset(Offset), OnDevice(OnDevice) {}
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> D) override {
    ++HostCalls;
    if (Fail)
      return makeError("the network is down");
    for (float &V : D)
      V = V * float(Ranks) + float(Offset);
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> D) override {
    ++HostCalls;
    for (double &V : D)
      V = V * Ranks + Offset;
    return llvm::Error::success();
  }
  llvm::Expected<bool> allReduceSumOnDevice(uint64_t Addr, size_t Count,
                                            DType Elem) override {
    if (!OnDevice)
      return false;
    ++DeviceCalls;
    if (Elem != DType::F32)
      return makeError("only f32 here");
    // The executor waited for the kernels before: the bytes are there.
    auto *P = static_cast<const float *>(
        dlcFakeCudaHostView(Addr, Count * sizeof(float)));
    if (!P)
      return makeError("not a device buffer");
    float *W = const_cast<float *>(P);
    for (size_t I = 0; I < Count; ++I)
      W[I] = W[I] * float(Ranks) + float(Offset);
    return true;
  }
  int Ranks;
  double Offset;
  bool OnDevice, Fail = false;
  int HostCalls = 0, DeviceCalls = 0;
};

const char *SumStep = "func @s(%x: f32[N,3], %y: f32[N,3]) -> (r: f32[N,3], "
                      "t: f32[N,3]) {\n"
                      "  %a = add %x, %y\n"
                      "  %s = all_reduce_sum %a\n"
                      "  %m = mul %s, %x\n"
                      "  %t = all_reduce_sum %m\n"
                      "  %r = sub %t, %s\n"
                      "  return %r, %t\n"
                      "}\n";

TEST_P(GpuExecutableTest, AllReduceSumMatchesTheInterpreter) {
  auto C = compile(SumStep);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (bool Device : {false, true}) {
    if (Device && !fake())
      continue; // the emulation sums through the host
    for (int64_t N : {1, 7, 33, 0}) {
      std::vector<Tensor> In = {values(DType::F32, {N, 3}, 1),
                                values(DType::F32, {N, 3}, 2)};
      FakeRanks Ref(3, 0.5), Run(3, 0.5, Device);
      std::vector<Tensor> Want, Got, Alone;
      {
        CollectiveScope S(&Ref);
        Want = llvm::cantFail(interpret(*C->F, In));
      }
      {
        CollectiveScope S(&Run);
        auto R = C->X->run(In);
        ASSERT_TRUE(bool(R)) << errText(R.takeError());
        Got = std::move(*R);
      }
      std::string What = (Device ? "device sum, N=" : "host sum, N=") +
                         std::to_string(N);
      expectSame(Want[0], Got[0], "r, " + What);
      expectSame(Want[1], Got[1], "t, " + What);
      int Sums = N ? 2 : 0; // nothing to sum in an empty batch
      EXPECT_EQ(Run.HostCalls + Run.DeviceCalls, Sums) << What;
      EXPECT_EQ(Run.DeviceCalls, Device ? Sums : 0) << What;
      // Without a hook: one process, the identity.
      auto R = C->X->run(In);
      ASSERT_TRUE(bool(R)) << errText(R.takeError());
      Want = llvm::cantFail(interpret(*C->F, In));
      expectSame(Want[1], (*R)[1], "t without a hook, N=" + std::to_string(N));
    }
  }
  FakeRanks Down(2, 0);
  Down.Fail = true;
  CollectiveScope S(&Down);
  auto R = C->X->run({values(DType::F32, {2, 3}, 1), values(DType::F32, {2, 3}, 2)});
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "<test>:3:8: error: all_reduce_sum: the network is down");
  EXPECT_EQ(Down.HostCalls, 1) << "the run stops at the first error";
}

// Without host kernels (create's Host), host steps are refused; dlc::Model
// and the C API pass the interpreter's (GpuHostStepTest.cpp).
TEST_P(GpuExecutableTest, HostStepsNeedHostKernels) {
  auto C = compile("func @s(%x: str[2]) -> (y: str[2]) {\n"
                   "  %y = string_normalizer %x {case_change_action = "
                   "\"UPPER\"}\n  return %y\n}\n");
  ASSERT_FALSE(bool(C));
  EXPECT_EQ(errText(C.takeError()),
            "<test>:2:8: error: 'string_normalizer' works on str tensors: "
            "a host step, and this GPU executor has no host kernels: use "
            "--device cpu");
}

INSTANTIATE_TEST_SUITE_P(Devices, GpuExecutableTest, ::testing::Bool(),
                         [](const auto &I) {
                           return I.param ? "FakeCuda" : "Emulation";
                         });

} // namespace

namespace {

std::vector<Tensor> chainInputs(int64_t N) {
  return {values(DType::F32, {N, 4}, 1), values(DType::F32, {N, 4}, 2)};
}

TEST_F(FakeCudaExecutableTest, OnlyBoundaryCopiesAndBlocksWrittenOnce) {
  uint64_t Before = dlcFakeCudaBytes(0);
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  EXPECT_EQ(dlcFakeCudaBytes(0) - Before, 16u) << "the parameter, once";
  for (int K = 0; K < 3; ++K) {
    uint64_t In = dlcFakeCudaBytes(0), Out = dlcFakeCudaBytes(1);
    auto R = C->X->run(chainInputs(10));
    ASSERT_TRUE(bool(R)) << errText(R.takeError());
    // Two f32[10,4] inputs in, two out; the parameter blocks of five
    // kernels (16-byte BufferArgs, 8-byte sizes) only on the first run.
    uint64_t Blocks = K ? 0 : (3 * 16 + 6 * 8) * 4 + (2 * 16 + 4 * 8);
    EXPECT_EQ(dlcFakeCudaBytes(0) - In, 2 * 160 + Blocks) << K;
    EXPECT_EQ(dlcFakeCudaBytes(1) - Out, 2 * 160u) << K;
    EXPECT_EQ(dlcFakeCudaBytes(2), 0u);
  }
  EXPECT_EQ(C->X->blockImagesWritten(), 1u);
  EXPECT_EQ(dlcFakeCudaLaunchCount(), 15u);
  EXPECT_STREQ(dlcFakeCudaLaunchName(1), "k1_mul");
  GpuLaunch L;
  dlcFakeCudaLaunchGeometry(1, &L);
  EXPECT_EQ(L.Grid[0], 2u); // 40 elements, 32 threads a block
  EXPECT_EQ(L.Block[0], 32u);
}

TEST_F(FakeCudaExecutableTest, EmptyBatchLaunchesNothing) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  auto R = C->X->run(chainInputs(0));
  ASSERT_TRUE(bool(R)) << errText(R.takeError());
  EXPECT_EQ((*R)[0].type().str(), "f32[0,4]");
  EXPECT_EQ(dlcFakeCudaLaunchCount(), 0u);
  EXPECT_EQ(dlcFakeCudaCalls("cuLaunchKernel"), 0u);
}

TEST_F(FakeCudaExecutableTest, RejectedPtxShowsTheDriverLog) {
  auto C = compile(Chain, [](GpuProgram &P) {
    size_t At = P.Ptx.find("ret;", P.Ptx.find("k2_add"));
    P.Ptx.insert(At, "dlc_fake_invalid ");
  });
  ASSERT_FALSE(bool(C));
  EXPECT_EQ(errText(C.takeError()),
            "the CUDA driver on Fake GPU rejected the PTX of kernel 'k2_add': "
            "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed); driver "
            "log:\nptxas application ptx input, line 14; error   : Unknown "
            "symbol 'dlc_fake_invalid'");
}

TEST_F(FakeCudaExecutableTest, MissingEntryInThePtx) {
  auto C = compile(Chain, [](GpuProgram &P) { P.Kernels[3].Name = "k3_nope"; });
  ASSERT_FALSE(bool(C));
  EXPECT_EQ(errText(C.takeError()),
            "the PTX has no kernel 'k3_nope' (cuModuleGetFunction: "
            "CUDA_ERROR_NOT_FOUND (named symbol not found))");
}

TEST_F(FakeCudaExecutableTest, OutOfMemoryLeavesNothingBehind) {
  {
    auto C = compile(Chain);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    ASSERT_TRUE(bool(C->X->run(chainInputs(4))));
    dlcFakeCudaSetMemoryLimit(1 << 20);
    auto R = C->X->run(chainInputs(100000));
    ASSERT_FALSE(bool(R));
    std::string E = errText(R.takeError());
    EXPECT_NE(E.find("out of device memory on Fake GPU: asked for 4.58 MiB, "),
              std::string::npos) << E;
    EXPECT_NE(E.find("free of 1.00 MiB"), std::string::npos) << E;
    EXPECT_EQ(dlcFakeCudaCalls("cuLaunchKernel"), 5u) << "only the first run";
    auto Small = C->X->run(chainInputs(4)); // still usable
    ASSERT_TRUE(bool(Small)) << errText(Small.takeError());
  }
  Pool.reset();
  EXPECT_EQ(dlcFakeCudaLiveAllocations(), 0u);
}

TEST_F(FakeCudaExecutableTest, KernelFaultNamesTheRun) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  dlcFakeCudaFaultKernel("k1_mul");
  auto R = C->X->run(chainInputs(4));
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "a kernel failed on Fake GPU while running '@f' (kernels k0_add, "
            "k1_mul, k2_add, k3_relu, k4_sub): CUDA_ERROR_ILLEGAL_ADDRESS (an "
            "illegal memory access was encountered); the CUDA context cannot "
            "be used again in this process (set DLC_CUDA_SYNC=1 to name the "
            "kernel)");
}

TEST_F(FakeCudaExecutableTest, LaunchFailureNamesTheKernel) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  dlcFakeCudaFailCall("cuLaunchKernel", 3, 701);
  auto R = C->X->run(chainInputs(4));
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "launching kernel 'k2_add' (grid 1x1x1, block 32x1x1, 0 bytes of "
            "shared memory) failed: CUDA error 701");
  auto Again = C->X->run(chainInputs(4));
  EXPECT_TRUE(bool(Again)) << errText(Again.takeError());
}

/// Driver calls made by F().
template <typename Fn> uint64_t callsIn(const char *Call, Fn F) {
  uint64_t Before = dlcFakeCudaCalls(Call);
  F();
  return dlcFakeCudaCalls(Call) - Before;
}

/// Runs C's executable on Chain's inputs of N rows (values from Seed) and
/// checks the result against the interpreter.
void runChain(Compiled &C, int64_t N, int Seed, const std::string &What) {
  std::vector<Tensor> In = {values(DType::F32, {N, 4}, Seed),
                            values(DType::F32, {N, 4}, Seed + 1)};
  auto Want = interpret(*C.F, In);
  ASSERT_TRUE(bool(Want)) << errText(Want.takeError());
  auto Got = C.X->run(In);
  ASSERT_TRUE(bool(Got)) << What << ": " << errText(Got.takeError());
  expectSame((*Want)[0], (*Got)[0], "r, " + What);
  expectSame((*Want)[1], (*Got)[1], "s, " + What);
}

TEST_F(FakeCudaExecutableTest, GraphsReplayTheLaunches) {
  setCudaGraphs(true);
  {
    auto C = compile(Chain);
    ASSERT_TRUE(bool(C)) << errText(C.takeError());
    // First run of a plan and binding: plain launches.
    EXPECT_EQ(callsIn("cuLaunchKernel", [&] { runChain(*C, 10, 1, "run 1"); }),
              5u);
    EXPECT_EQ(dlcFakeCudaCalls("cuStreamBeginCapture_v2"), 0u);
    // Second: the five launches are recorded (not run), then replayed.
    EXPECT_EQ(callsIn("cuLaunchKernel", [&] { runChain(*C, 10, 2, "run 2"); }),
              5u);
    EXPECT_EQ(dlcFakeCudaCalls("cuStreamBeginCapture_v2"), 1u);
    EXPECT_EQ(dlcFakeCudaCalls("cuGraphLaunch"), 1u);
    EXPECT_EQ(dlcFakeCudaGraphOps(), 5u);
    // Then one graph launch a run, on new values each time.
    for (int K = 3; K <= 5; ++K)
      EXPECT_EQ(callsIn("cuLaunchKernel",
                        [&] { runChain(*C, 10, K, "run " + std::to_string(K)); }),
                0u);
    EXPECT_EQ(dlcFakeCudaCalls("cuGraphLaunch"), 4u);
    EXPECT_EQ(dlcFakeCudaGraphOps(), 20u);
    EXPECT_EQ(C->X->graphsCaptured(), 1u);
    // A new shape is a new plan: launched, then recorded on its own.
    runChain(*C, 7, 6, "N=7, run 1");
    runChain(*C, 7, 7, "N=7, run 2");
    EXPECT_EQ(C->X->graphsCaptured(), 2u);
    GpuLaunch L;
    dlcFakeCudaLaunchGeometry(dlcFakeCudaLaunchCount() - 5, &L);
    EXPECT_EQ(L.Grid[0], 1u) << "the replay has N=7's geometry";
    // The old shape replays its own graph.
    EXPECT_EQ(callsIn("cuGraphLaunch", [&] { runChain(*C, 10, 8, "N=10"); }),
              1u);
    EXPECT_EQ(C->X->graphsCaptured(), 2u);
    EXPECT_EQ(dlcFakeCudaLiveGraphs(), 2u) << "two instances, no graphs left";
  }
  EXPECT_EQ(dlcFakeCudaLiveGraphs(), 0u) << "destroyed with the executable";
}

TEST_F(FakeCudaExecutableTest, GraphsOffOrRefusedLaunchDirectly) {
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  setCudaGraphs(false);
  for (int K = 0; K < 3; ++K)
    runChain(*C, 10, K, "graphs off");
  EXPECT_EQ(dlcFakeCudaCalls("cuStreamBeginCapture_v2"), 0u);
  setCudaGraphs(true);
  // A driver that cannot record (CUDA_ERROR_NOT_SUPPORTED): plain launches
  // from then on, on that device.
  dlcFakeCudaFailCall("cuStreamBeginCapture_v2", 1, 801);
  for (int K = 0; K < 3; ++K)
    EXPECT_EQ(callsIn("cuLaunchKernel", [&] { runChain(*C, 10, K, "refused"); }),
              5u);
  EXPECT_EQ(dlcFakeCudaCalls("cuStreamBeginCapture_v2"), 1u);
  EXPECT_EQ(dlcFakeCudaCalls("cuGraphLaunch"), 0u);
  EXPECT_EQ(C->X->graphsCaptured(), 0u);
}

TEST_F(FakeCudaExecutableTest, LaunchFailureWhileRecording) {
  setCudaGraphs(true);
  auto C = compile(Chain);
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  runChain(*C, 4, 1, "run 1");
  dlcFakeCudaFailCall("cuLaunchKernel", 2, 701);
  auto R = C->X->run(chainInputs(4));
  ASSERT_FALSE(bool(R));
  EXPECT_EQ(errText(R.takeError()),
            "launching kernel 'k1_mul' (grid 1x1x1, block 32x1x1, 0 bytes of "
            "shared memory) failed: CUDA error 701");
  EXPECT_EQ(dlcFakeCudaLiveGraphs(), 0u) << "the spoilt recording is gone";
  // The capture was ended: the stream works, and the next run records.
  runChain(*C, 4, 2, "after the failure");
  EXPECT_EQ(C->X->graphsCaptured(), 1u);
  EXPECT_EQ(dlcFakeCudaCalls("cuGraphLaunch"), 1u);
}

TEST_F(FakeCudaExecutableTest, GraphsStopAtCollectives) {
  setCudaGraphs(true);
  auto C = compile("func @c(%x: f32[N,3], %y: f32[N,3]) -> (r: f32[N,3]) {\n"
                   "  %a = add %x, %y\n"
                   "  %b = mul %a, %x\n"
                   "  %s = all_reduce_sum %b\n"
                   "  %m = mul %s, %x\n"
                   "  %r = sub %m, %y\n"
                   "  return %r\n"
                   "}\n");
  ASSERT_TRUE(bool(C)) << errText(C.takeError());
  for (int K = 0; K < 4; ++K) {
    std::vector<Tensor> In = {values(DType::F32, {5, 3}, K),
                              values(DType::F32, {5, 3}, K + 7)};
    FakeRanks Ref(2, 0.25), Run(2, 0.25, K % 2 == 1);
    std::vector<Tensor> Want;
    {
      CollectiveScope S(&Ref);
      Want = llvm::cantFail(interpret(*C->F, In));
    }
    CollectiveScope S(&Run);
    auto Got = C->X->run(In);
    ASSERT_TRUE(bool(Got)) << errText(Got.takeError());
    expectSame(Want[0], (*Got)[0], "run " + std::to_string(K));
    EXPECT_EQ(Run.HostCalls + Run.DeviceCalls, 1);
  }
  // Two graphs (before and after the sum), replayed from the third run on.
  EXPECT_EQ(C->X->graphsCaptured(), 2u);
  EXPECT_EQ(dlcFakeCudaCalls("cuGraphLaunch"), 6u);
}

TEST(GpuEmulation, NeedsEmulationFunctions) {
  auto Pool = GpuMemoryPool::create(GpuDevice::emulator());
  auto C = compileOn(Pool, Chain, [](GpuProgram &P) {
    P.Kernels[1].Emulate = nullptr;
    P.Kernels[3].Emulate = nullptr;
  });
  ASSERT_FALSE(bool(C));
  EXPECT_EQ(errText(C.takeError()),
            "error: the GPU emulation cannot run kernel(s) 'k1_mul', "
            "'k3_relu': the code generator made no CPU emulation for them");
}

} // namespace
