// runtime/CudaDriver against the fake driver (and against no driver): the
// calls' effects and every error message a user can meet.
#include "FakeCuda.h"
#include "runtime/CudaDriver.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <thread>

using namespace dlc;
using namespace dlc::rt;

namespace {

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

class CudaDriverTest : public ::testing::Test {
protected:
  void SetUp() override { dlcFakeCudaReset(); }
  void TearDown() override {
    EXPECT_STREQ(dlcFakeCudaViolations(), "") << "the fake saw misuse";
  }
  std::unique_ptr<CudaDriver> load() {
    auto D = CudaDriver::load(DLC_FAKE_CUDA);
    if (!D) {
      ADD_FAILURE() << errText(D.takeError());
      return nullptr;
    }
    return std::move(*D);
  }
};

TEST_F(CudaDriverTest, NoDriverSaysToUseTheCpu) {
  auto D = CudaDriver::load("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(D);
  std::string E = errText(D.takeError());
  EXPECT_NE(E.find("no NVIDIA driver found (/nonexistent/libcuda.so.1: "),
            std::string::npos) << E;
  EXPECT_NE(E.find("install the NVIDIA driver or use --device cpu"),
            std::string::npos) << E;
}

TEST_F(CudaDriverTest, EnvironmentVariableChoosesTheLibrary) {
  setenv("DLC_CUDA_DRIVER", "/nonexistent/fake.so", 1);
  auto D = CudaDriver::load();
  unsetenv("DLC_CUDA_DRIVER");
  ASSERT_FALSE(D);
  std::string E = errText(D.takeError());
  EXPECT_NE(E.find("DLC_CUDA_DRIVER=/nonexistent/fake.so"), std::string::npos)
      << E;
  setenv("DLC_CUDA_DRIVER", DLC_FAKE_CUDA, 1);
  auto F = CudaDriver::load();
  unsetenv("DLC_CUDA_DRIVER");
  ASSERT_TRUE(bool(F)) << errText(F.takeError());
  EXPECT_EQ((*F)->libraryPath(), DLC_FAKE_CUDA);
}

TEST_F(CudaDriverTest, LibraryWithoutTheDriverSymbols) {
  // libm is a shared library without any cu* symbol.
  auto D = CudaDriver::load("libm.so.6");
  ASSERT_FALSE(D);
  std::string E = errText(D.takeError());
  EXPECT_NE(E.find("lacks cuInit, cuDriverGetVersion"), std::string::npos) << E;
  EXPECT_NE(E.find("cuMemAlloc_v2"), std::string::npos) << E;
  EXPECT_NE(E.find("too old for dlc"), std::string::npos) << E;
}

TEST_F(CudaDriverTest, NoDevice) {
  dlcFakeCudaSetDeviceCount(0);
  auto D = CudaDriver::load(DLC_FAKE_CUDA);
  ASSERT_FALSE(D);
  std::string E = errText(D.takeError());
  EXPECT_NE(E.find("did not initialize (cuInit: CUDA_ERROR_NO_DEVICE (no "
                   "CUDA-capable device is detected))"),
            std::string::npos) << E;
  EXPECT_NE(E.find("use --device cpu"), std::string::npos) << E;
}

TEST_F(CudaDriverTest, DeviceOrdinalOutOfRange) {
  auto D = CudaDriver::load(DLC_FAKE_CUDA, 3);
  ASSERT_FALSE(D);
  EXPECT_EQ(errText(D.takeError()),
            "no CUDA device 3 (the driver sees 1): use --device cpu");
}

TEST_F(CudaDriverTest, DescribesTheDevice) {
  auto D = load();
  ASSERT_TRUE(D);
  EXPECT_EQ(D->describe(), "Fake GPU (sm_90, driver 13.0)");
  EXPECT_EQ(D->computeCapability(), 90);
  EXPECT_EQ(dlcFakeCudaCalls("cuDevicePrimaryCtxRetain"), 1u);
}

TEST_F(CudaDriverTest, CopiesRoundTripAfterTheStreamSynchronizes) {
  auto D = load();
  ASSERT_TRUE(D);
  auto S = D->createStream();
  ASSERT_TRUE(bool(S));
  auto P = D->alloc(4096);
  ASSERT_TRUE(bool(P));
  std::vector<float> In(1024), Out(1024, -1.0f);
  for (int I = 0; I < 1024; ++I)
    In[I] = float(I) * 0.5f;
  ASSERT_FALSE(bool(D->copyToDevice(*P, In.data(), 4096, *S)));
  ASSERT_FALSE(bool(D->copyToHost(Out.data(), *P, 4096, *S)));
  EXPECT_EQ(Out[5], -1.0f) << "the fake runs a stream's work at sync only";
  ASSERT_FALSE(bool(D->sync(*S)));
  EXPECT_EQ(In, Out);
  EXPECT_EQ(dlcFakeCudaBytes(0), 4096u);
  EXPECT_EQ(dlcFakeCudaBytes(1), 4096u);
  ASSERT_FALSE(bool(D->free(*P)));
  ASSERT_FALSE(bool(D->destroyStream(*S)));
  EXPECT_EQ(dlcFakeCudaLiveAllocations(), 0u);
}

TEST_F(CudaDriverTest, OutOfMemorySaysWhatWasAskedAndWhatIsFree) {
  auto D = load();
  ASSERT_TRUE(D);
  dlcFakeCudaSetMemoryLimit(3 << 20);
  auto A = D->alloc(1 << 20);
  ASSERT_TRUE(bool(A));
  auto B = D->alloc(5 << 20);
  ASSERT_FALSE(bool(B));
  EXPECT_EQ(errText(B.takeError()),
            "out of device memory on Fake GPU: asked for 5.00 MiB, 2.00 MiB "
            "free of 3.00 MiB (cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY (out "
            "of memory)); try a smaller batch");
  ASSERT_FALSE(bool(D->free(*A)));
}

TEST_F(CudaDriverTest, CopyOutsideAnAllocationIsRefused) {
  auto D = load();
  ASSERT_TRUE(D);
  auto P = D->alloc(64);
  ASSERT_TRUE(bool(P));
  char Buf[128] = {0};
  llvm::Error E = D->copyToDevice(*P, Buf, 128, nullptr);
  EXPECT_EQ(errText(std::move(E)),
            "cuMemcpyHtoDAsync_v2 failed (copying 128 bytes to the device): "
            "CUDA_ERROR_INVALID_VALUE (invalid argument)");
  EXPECT_NE(std::string(dlcFakeCudaViolations()).find("is not inside one live"),
            std::string::npos);
  dlcFakeCudaReset(); // the violation was the point
}

static const char *GoodPtx = ".version 8.0\n"
                             ".target sm_90\n"
                             ".address_size 64\n"
                             ".visible .entry k0_add(.param .u64 p)\n"
                             "{\n  ret;\n}\n"
                             ".visible .entry k1_mul(.param .u64 p)\n"
                             "{\n  ret;\n}\n";

TEST_F(CudaDriverTest, RejectedPtxShowsTheLogAndTheKernel) {
  auto D = load();
  ASSERT_TRUE(D);
  std::string Bad = GoodPtx;
  Bad.insert(Bad.find("ret;", Bad.find("k1_mul")), "dlc_fake_invalid ");
  auto M = D->loadModule(Bad);
  ASSERT_FALSE(bool(M));
  EXPECT_EQ(errText(M.takeError()),
            "the CUDA driver on Fake GPU rejected the PTX of kernel 'k1_mul': "
            "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed); driver "
            "log:\nptxas application ptx input, line 10; error   : Unknown "
            "symbol 'dlc_fake_invalid'");
  auto N = D->loadModule("garbage");
  ASSERT_FALSE(bool(N));
  EXPECT_NE(errText(N.takeError()).find("PTX input lacks .version"),
            std::string::npos);
}

TEST_F(CudaDriverTest, EntryAtLine) {
  EXPECT_EQ(ptxEntryAtLine(GoodPtx, 2), "");
  EXPECT_EQ(ptxEntryAtLine(GoodPtx, 4), "k0_add");
  EXPECT_EQ(ptxEntryAtLine(GoodPtx, 7), "k0_add");
  EXPECT_EQ(ptxEntryAtLine(GoodPtx, 9), "k1_mul");
  EXPECT_EQ(ptxEntryAtLine(GoodPtx, 0), "");
}

TEST_F(CudaDriverTest, MissingKernelAndBadLaunch) {
  auto D = load();
  ASSERT_TRUE(D);
  auto M = D->loadModule(GoodPtx);
  ASSERT_TRUE(bool(M)) << errText(M.takeError());
  auto Missing = D->function(*M, "k2_sub");
  ASSERT_FALSE(bool(Missing));
  EXPECT_EQ(errText(Missing.takeError()),
            "the PTX has no kernel 'k2_sub' (cuModuleGetFunction: "
            "CUDA_ERROR_NOT_FOUND (named symbol not found))");
  auto F = D->function(*M, "k1_mul");
  ASSERT_TRUE(bool(F));
  auto Block = D->alloc(256);
  ASSERT_TRUE(bool(Block));
  uint64_t Addr = *Block;
  void *Params[] = {&Addr};
  uint32_t G[3] = {4, 1, 1}, B[3] = {2048, 1, 1};
  llvm::Error E = D->launch(*F, "k1_mul", G, B, 0, nullptr, Params);
  EXPECT_EQ(errText(std::move(E)),
            "launching kernel 'k1_mul' (grid 4x1x1, block 2048x1x1, 0 bytes "
            "of shared memory) failed: CUDA_ERROR_INVALID_VALUE (invalid "
            "argument)");
  dlcFakeCudaReset(); // the fake recorded the bad launch on purpose
}

TEST_F(CudaDriverTest, LargeSharedMemoryNeedsTheAttribute) {
  auto D = load();
  ASSERT_TRUE(D);
  auto M = D->loadModule(GoodPtx);
  ASSERT_TRUE(bool(M));
  auto F = D->function(*M, "k0_add");
  ASSERT_TRUE(bool(F));
  ASSERT_FALSE(bool(D->setMaxDynamicShared(*F, "k0_add", 100 << 10)));
  auto S = D->createStream();
  ASSERT_TRUE(bool(S));
  auto Block = D->alloc(256);
  ASSERT_TRUE(bool(Block));
  uint64_t Addr = *Block;
  void *Params[] = {&Addr};
  uint32_t G[3] = {1, 1, 1}, B[3] = {128, 1, 1};
  ASSERT_FALSE(bool(D->launch(*F, "k0_add", G, B, 100 << 10, *S, Params)));
  ASSERT_FALSE(bool(D->sync(*S)));
  EXPECT_EQ(dlcFakeCudaLaunchCount(), 1u);
  llvm::Error E = D->setMaxDynamicShared(*F, "k0_add", 1 << 20);
  EXPECT_EQ(errText(std::move(E)),
            "cuFuncSetAttribute failed (kernel 'k0_add' asks for 1.00 MiB of "
            "shared memory): CUDA_ERROR_INVALID_VALUE (invalid argument)");
}

TEST_F(CudaDriverTest, KernelFaultIsReportedAtSync) {
  auto D = load();
  ASSERT_TRUE(D);
  auto M = D->loadModule(GoodPtx);
  ASSERT_TRUE(bool(M));
  auto F = D->function(*M, "k0_add");
  ASSERT_TRUE(bool(F));
  auto S = D->createStream();
  ASSERT_TRUE(bool(S));
  dlcFakeCudaFaultKernel("k0_add");
  auto Block = D->alloc(256);
  ASSERT_TRUE(bool(Block));
  uint64_t Addr = *Block;
  void *Params[] = {&Addr};
  uint32_t G[3] = {1, 1, 1}, B[3] = {32, 1, 1};
  ASSERT_FALSE(bool(D->launch(*F, "k0_add", G, B, 0, *S, Params)));
  llvm::Error E = D->sync(*S, "'@main' (kernels k0_add)");
  EXPECT_EQ(errText(std::move(E)),
            "a kernel failed on Fake GPU while running '@main' (kernels "
            "k0_add): CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access "
            "was encountered); the CUDA context cannot be used again in this "
            "process (set DLC_CUDA_SYNC=1 to name the kernel)");
}

TEST_F(CudaDriverTest, InjectedFailureNamesTheCall) {
  auto D = load();
  ASSERT_TRUE(D);
  dlcFakeCudaFailCall("cuStreamCreate", 1, 2);
  auto S = D->createStream();
  ASSERT_FALSE(bool(S));
  EXPECT_EQ(errText(S.takeError()),
            "cuStreamCreate failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
  auto T = D->createStream(); // only the first call fails
  EXPECT_TRUE(bool(T));
  if (T) {
    EXPECT_FALSE(bool(D->destroyStream(*T)));
  }
}

TEST_F(CudaDriverTest, ContextIsMadeCurrentOnEachThread) {
  auto D = load();
  ASSERT_TRUE(D);
  auto S = D->createStream(); // current on this thread now
  ASSERT_TRUE(bool(S));
  uint64_t Before = dlcFakeCudaCalls("cuCtxSetCurrent");
  std::thread T([&] {
    auto P = D->alloc(64);
    EXPECT_TRUE(bool(P));
    if (P) {
      EXPECT_FALSE(bool(D->free(*P)));
    }
  });
  T.join();
  EXPECT_EQ(dlcFakeCudaCalls("cuCtxSetCurrent"), Before + 1);
}

} // namespace
