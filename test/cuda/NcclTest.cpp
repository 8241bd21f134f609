// runtime/Nccl (the loader) and dist/NcclCommunicator (sums of device
// buffers) in one process, against the fake CUDA driver and the fake NCCL
// (FakeNccl.h). The sums across two ranks are test/dist's mpi-nccl-* cases.
#include "runtime/Nccl.h"
#include "FakeCuda.h"
#include "FakeNccl.h"
#include "dist/NcclCommunicator.h"
#include "runtime/CudaDriver.h"

#include "gtest/gtest.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

using namespace dlc;

namespace {

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

TEST(NcclLoader, SaysWhatToInstall) {
  auto N = rt::Nccl::load("/nonexistent/libnccl.so.2");
  ASSERT_FALSE(bool(N));
  std::string E = errText(N.takeError());
  EXPECT_EQ(E.rfind("NCCL not found (/nonexistent/libnccl.so.2: ", 0), 0u) << E;
  EXPECT_NE(E.find("`pip install nvidia-nccl-cu12` and put its lib directory "
                   "(site-packages/nvidia/nccl/lib) on LD_LIBRARY_PATH, or "
                   "the distribution's package (libnccl2)"),
            std::string::npos)
      << E;
  EXPECT_NE(E.find("or use --comm mpi"), std::string::npos) << E;
}

TEST(NcclLoader, ALibraryWithoutTheEntryPointsIsTooOld) {
  auto N = rt::Nccl::load(DLC_FAKE_CUDA);
  ASSERT_FALSE(bool(N));
  std::string E = errText(N.takeError());
  EXPECT_NE(E.find("lacks ncclGetVersion, ncclGetUniqueId, ncclCommInitRank"),
            std::string::npos)
      << E;
  EXPECT_NE(E.find("NCCL 2.11 or newer is needed"), std::string::npos) << E;
}

TEST(NcclLoader, LoadsAndNamesResults) {
  auto N = rt::Nccl::load(DLC_FAKE_NCCL);
  ASSERT_TRUE(bool(N)) << errText(N.takeError());
  EXPECT_EQ((*N)->version(), "2.99.0");
  EXPECT_EQ((*N)->errorText(6),
            "ncclRemoteError (remote process exited or there was a network "
            "error)");
  EXPECT_EQ((*N)->errorText(42), "NCCL error 42 (unknown result code)");
  EXPECT_EQ(errText((*N)->check(2, "ncclAllReduce", "rank 1 of 2")),
            "ncclAllReduce failed (rank 1 of 2): ncclSystemError (unhandled "
            "system error (run with NCCL_DEBUG=INFO for details))");
}

TEST(CudaDriverOrdinal, OneGpuPerLocalRank) {
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "5", 1);
  EXPECT_EQ(rt::CudaDriver::localRankOrdinal(4), 1);
  EXPECT_EQ(rt::CudaDriver::localRankOrdinal(8), 5);
  unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
  EXPECT_EQ(rt::CudaDriver::localRankOrdinal(4), 0);
}

TEST(GradientBuckets, AreThoseOfTheHostSums) {
  std::vector<TensorType> T = {
      TensorType::get(DType::F32, {100}), TensorType::get(DType::F64, {3}),
      TensorType::get(DType::F32, {10}),  TensorType::get(DType::F32, {300}),
      TensorType::get(DType::F32, {0}),   TensorType::get(DType::F32, {20})};
  auto B = gradientBuckets(T, 1024); // 256 floats
  // From the last: 20 + 0 floats, then 300 would pass 256 (alone), then
  // 10 + 100.
  std::vector<std::vector<unsigned>> Want = {{5, 4}, {3}, {2, 0}};
  EXPECT_EQ(B, Want);
  LocalCommunicator C;
  OverlappedSum S(C, T, 1.0, 1024);
  EXPECT_EQ(S.buckets(), Want);
}

class NcclComm : public ::testing::Test {
protected:
  void SetUp() override {
    dlcFakeCudaReset();
    dlcFakeNcclReset();
    setenv("DLC_NCCL_LIBRARY", DLC_FAKE_NCCL, 1);
    char Tmpl[] = "/tmp/dlc-nccl-test-XXXXXX";
    ASSERT_NE(mkdtemp(Tmpl), nullptr);
    Dir = Tmpl;
    setenv("DLC_FAKE_NCCL_DIR", Dir.c_str(), 1);
    auto D = rt::CudaDriver::load(DLC_FAKE_CUDA);
    ASSERT_TRUE(bool(D)) << errText(D.takeError());
    Dev = GpuDevice::cuda(std::shared_ptr<rt::CudaDriver>(std::move(*D)));
    Pool = GpuMemoryPool::create(Dev);
  }
  void TearDown() override {
    EXPECT_STREQ(dlcFakeCudaViolations(), "");
    std::string Cmd = "rm -rf '" + Dir + "'";
    (void)!std::system(Cmd.c_str());
  }
  std::unique_ptr<NcclCommunicator> make(double Timeout = 600) {
    NcclOptions O;
    O.TimeoutSeconds = Timeout;
    auto N = NcclCommunicator::create(Host, Dev, O);
    EXPECT_TRUE(bool(N)) << errText(N.takeError());
    return N ? std::move(*N) : nullptr;
  }
  /// A device tensor holding V.
  DeviceTensor upload(const Tensor &V) {
    DeviceTensor T;
    T.Elem = V.elem();
    T.Shape.assign(V.shape().begin(), V.shape().end());
    T.Buf = llvm::cantFail(Pool->acquire(V.byteSize()));
    llvm::cantFail(Dev->copyIn(nullptr, T.Buf->addr(), V.data(), V.byteSize()));
    return T;
  }
  Tensor download(const DeviceTensor &T) {
    Tensor V(T.Elem, T.Shape);
    llvm::cantFail(
        Dev->copyOut(nullptr, V.data(), T.Buf->addr(), V.byteSize()));
    return V;
  }
  std::string Dir;
  LocalCommunicator Host;
  std::shared_ptr<GpuDevice> Dev;
  std::shared_ptr<GpuMemoryPool> Pool;
};

TEST_F(NcclComm, TheEmulatedGpuIsRefused) {
  auto N = NcclCommunicator::create(Host, GpuDevice::emulator());
  ASSERT_FALSE(bool(N));
  EXPECT_EQ(
      errText(N.takeError()),
      "error: NCCL needs a CUDA device (--device cuda); the CPU emulation of "
      "a GPU sums gradients through the host (--comm mpi)");
}

TEST_F(NcclComm, PremultipliedSumsOnTheStream) {
  auto N = make();
  ASSERT_TRUE(N);
  EXPECT_EQ(N->describe().rfind("NCCL 2.99.0 (", 0), 0u) << N->describe();
  Tensor F(DType::F32, {5}), D(DType::F64, {3});
  for (int I = 0; I < 5; ++I)
    F.setF(I, 0.1 * (I + 1));
  for (int I = 0; I < 3; ++I)
    D.setF(I, 1.0 / 3 + I);
  DeviceTensor DF = upload(F), DD = upload(D);
  uint64_t Calls = dlcFakeNcclCalls("ncclAllReduce");
  ASSERT_FALSE(bool(N->allReduceScaled(DF.Buf->addr(), 5, DType::F32, 0.3)));
  ASSERT_FALSE(bool(N->allReduceScaled(DD.Buf->addr(), 3, DType::F64, 0.3)));
  EXPECT_EQ(dlcFakeNcclCalls("ncclAllReduce") - Calls, 2u);
  ASSERT_FALSE(bool(N->wait("the test's sums")));
  Tensor RF = download(DF), RD = download(DD);
  for (int I = 0; I < 5; ++I) // x * float(scale), as the host path
    EXPECT_EQ(RF.as<float>()[I], F.as<float>()[I] * 0.3f) << I;
  for (int I = 0; I < 3; ++I)
    EXPECT_EQ(RD.as<double>()[I], D.as<double>()[I] * 0.3) << I;
  EXPECT_STREQ(dlcFakeNcclViolations(), "");
}

TEST_F(NcclComm, AHostPointerIsAnErrorThatAbortsTheCommunicator) {
  auto N = make();
  ASSERT_TRUE(N);
  float OnHost[4] = {1, 2, 3, 4};
  uint64_t Aborts = dlcFakeNcclCalls("ncclCommAbort");
  auto E = N->allReduceScaled(reinterpret_cast<uintptr_t>(OnHost), 4,
                              DType::F32, 1.0);
  EXPECT_EQ(errText(std::move(E)),
            "error: ncclAllReduce failed (rank 0 of 1, 4 elements): "
            "ncclInvalidArgument (invalid argument (run with NCCL_DEBUG=WARN "
            "for details))");
  EXPECT_EQ(dlcFakeNcclCalls("ncclCommAbort") - Aborts, 1u);
  EXPECT_NE(std::string(dlcFakeNcclViolations()).find("not device memory"),
            std::string::npos);
  EXPECT_EQ(
      errText(N->wait("more")),
      "error: rank 0 of 1: the NCCL communicator was aborted after an earlier "
      "error");
}

TEST_F(NcclComm, AHungSumEndsAtTheTimeout) {
  auto N = make(0.2);
  ASSERT_TRUE(N);
  DeviceTensor T = upload(Tensor(DType::F32, {8}));
  dlcFakeNcclHangCall(int(dlcFakeNcclCalls("ncclAllReduce")) + 1);
  ASSERT_FALSE(bool(N->allReduceScaled(T.Buf->addr(), 8, DType::F32, 1.0)));
  auto Start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      errText(N->wait("the gradient sums")),
      "error: rank 0 of 1: ncclAllReduce (the gradient sums) has not finished "
      "after 0.2 s: another rank is stuck, far behind or gone "
      "(--comm-timeout sets the limit); the NCCL communicator was "
      "aborted");
  double S =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - Start)
          .count();
  EXPECT_GE(S, 0.2);
  EXPECT_LT(S, 2.0);
  dlcFakeNcclHangCall(0);
}

TEST_F(NcclComm, AnAsyncErrorEndsTheWait) {
  auto N = make();
  ASSERT_TRUE(N);
  DeviceTensor T = upload(Tensor(DType::F32, {8}));
  dlcFakeNcclAsyncErrorAt(int(dlcFakeNcclCalls("ncclAllReduce")) + 1, 6);
  ASSERT_FALSE(bool(N->allReduceScaled(T.Buf->addr(), 8, DType::F32, 1.0)));
  EXPECT_EQ(errText(N->wait("the gradient sums")),
            "error: rank 0 of 1: ncclAllReduce (the gradient sums) failed: "
            "ncclRemoteError (remote process exited or there was a network "
            "error); the NCCL communicator was aborted (another rank failed "
            "or is gone?)");
  dlcFakeNcclAsyncErrorAt(0, 0);
}

TEST_F(NcclComm, DeviceTensorsInTheHostPathsBuckets) {
  auto N = make();
  ASSERT_TRUE(N);
  // Buckets of 64 floats: {3: 40 floats, 2: 0, 1: 20}, {0: 50}; the f64
  // tensor alone.
  std::vector<std::vector<int64_t>> Shapes = {{5, 10}, {4, 5}, {0}, {40}};
  std::vector<Tensor> Want;
  std::vector<DeviceTensor> Ts;
  for (size_t K = 0; K < Shapes.size(); ++K) {
    Tensor T(DType::F32, Shapes[K]);
    for (int64_t I = 0; I < T.numElements(); ++I)
      T.setF(I, 0.01 * double(K * 100 + I) - 0.5);
    Want.push_back(T);
    Ts.push_back(upload(T));
  }
  Tensor W(DType::F64, {3});
  for (int I = 0; I < 3; ++I)
    W.setF(I, 2.5 + I);
  Want.push_back(W);
  Ts.push_back(upload(W));
  std::vector<DeviceTensor *> Ptrs;
  for (DeviceTensor &T : Ts)
    Ptrs.push_back(&T);
  uint64_t Calls = dlcFakeNcclCalls("ncclAllReduce"),
           Down = dlcFakeCudaBytes(1), OnDev = dlcFakeCudaBytes(2);
  ASSERT_FALSE(bool(allReduceDeviceTensors(*N, Ptrs, 0.75, 256, *Pool)));
  EXPECT_EQ(dlcFakeNcclCalls("ncclAllReduce") - Calls, 3u);
  EXPECT_EQ(dlcFakeCudaBytes(1) - Down, 0u); // nothing through the host
  // The bucket of tensors 3 and 1 is gathered and scattered back.
  EXPECT_EQ(dlcFakeCudaBytes(2) - OnDev, 2u * (40 + 20) * 4);
  for (size_t K = 0; K < Want.size(); ++K) {
    Tensor R = download(Ts[K]);
    for (int64_t I = 0; I < R.numElements(); ++I) {
      if (R.elem() == DType::F32)
        EXPECT_EQ(R.as<float>()[I], Want[K].as<float>()[I] * 0.75f) << K;
      else
        EXPECT_EQ(R.as<double>()[I], Want[K].as<double>()[I] * 0.75) << K;
    }
  }
  EXPECT_STREQ(dlcFakeNcclViolations(), "");
}

} // namespace

TEST_F(NcclComm, TensorsSharingBytesAreSummedOnce) {
  auto N = make();
  ASSERT_TRUE(N);
  Tensor V(DType::F32, {6});
  for (int I = 0; I < 6; ++I)
    V.setF(I, 1.5 + I);
  DeviceTensor A = upload(V), B = A; // one value returned twice
  std::vector<DeviceTensor *> Ptrs = {&A, &B};
  // Each alone in its bucket (in place): without a copy B would be scaled
  // twice.
  ASSERT_FALSE(bool(allReduceDeviceTensors(*N, Ptrs, 0.5, 4, *Pool)));
  EXPECT_NE(A.Buf, B.Buf);
  Tensor RA = download(A), RB = download(B);
  for (int I = 0; I < 6; ++I) {
    EXPECT_EQ(RA.as<float>()[I], V.as<float>()[I] * 0.5f) << I;
    EXPECT_EQ(RB.as<float>()[I], V.as<float>()[I] * 0.5f) << I;
  }
}
