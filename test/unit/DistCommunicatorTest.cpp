// The communicator pieces that need no MPI: the single-process
// communicator, what a build without MPI says when MPI is asked for (this
// test compiles dist/MpiCommunicator.cpp without DLC_HAVE_MPI), shards of
// a global batch, and the bucketed, scaled sum of tensors, blocking and
// overlapped (started bucket by bucket as tensors become ready).
#include "TestUtil.h"

#include "dist/MpiCommunicator.h"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace dlc;

namespace {

TEST(Communicator, BuiltWithoutMpiSaysSo) {
  EXPECT_FALSE(builtWithMpi());
  auto C = createMpiCommunicator();
  ASSERT_FALSE(C);
  std::string Msg = errText(C.takeError());
  EXPECT_EQ(Msg, std::string("error: ") + NoMpiMessage);
  EXPECT_NE(Msg.find("dlc was built without MPI"), std::string::npos);
  EXPECT_NE(Msg.find("libopenmpi-dev"), std::string::npos);
}

TEST(Communicator, SingleProcess) {
  LocalCommunicator C;
  EXPECT_EQ(C.rank(), 0);
  EXPECT_EQ(C.size(), 1);
  EXPECT_EQ(C.describe(), "rank 0 of 1");
  float F[3] = {1.5f, -2.0f, 3.25f};
  double D[2] = {7.0, 0.125};
  uint8_t B[2] = {9, 8};
  ASSERT_FALSE(bool(C.allReduceSum(F)));
  ASSERT_FALSE(bool(C.allReduceSum(D)));
  ASSERT_FALSE(bool(C.broadcast(B, 0)));
  ASSERT_FALSE(bool(C.barrier()));
  EXPECT_EQ(F[0], 1.5f);
  EXPECT_EQ(F[2], 3.25f);
  EXPECT_EQ(D[1], 0.125);
  EXPECT_EQ(B[0], 9);
  EXPECT_EQ(errText(C.broadcast(B, 1)),
            "error: broadcast from rank 1 in a single process");
}

TEST(Communicator, LauncherDetection) {
  // Under ctest no launcher is around unless the test itself runs under
  // one; set and clear Open MPI's variable around the check.
  const char *Old = std::getenv("OMPI_COMM_WORLD_SIZE");
  std::string Saved = Old ? Old : "";
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  EXPECT_TRUE(launchedAsRanks());
  setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
  EXPECT_FALSE(launchedAsRanks() && !std::getenv("PMI_SIZE"));
  if (Old)
    setenv("OMPI_COMM_WORLD_SIZE", Saved.c_str(), 1);
  else
    unsetenv("OMPI_COMM_WORLD_SIZE");
}

using Range = std::pair<int64_t, int64_t>;

TEST(Communicator, ShardsCoverTheBatchEvenly) {
  EXPECT_EQ(shardRange(0, 64, 0, 2), Range(0, 32));
  EXPECT_EQ(shardRange(0, 64, 1, 2), Range(32, 64));
  // The last partial global batch: 33 examples over 2 ranks, 1 over 2.
  EXPECT_EQ(shardRange(64, 97, 0, 2), Range(64, 80));
  EXPECT_EQ(shardRange(64, 97, 1, 2), Range(80, 97));
  EXPECT_EQ(shardRange(0, 1, 0, 2), Range(0, 0));
  EXPECT_EQ(shardRange(0, 1, 1, 2), Range(0, 1));
  for (int Size : {1, 3, 7})
    for (int64_t Len : {0, 1, 5, 7, 100}) {
      int64_t Next = 10;
      for (int R = 0; R < Size; ++R) {
        auto [B, E] = shardRange(10, 10 + Len, R, Size);
        EXPECT_EQ(B, Next);
        EXPECT_LE(E - B, Len / Size + 1);
        EXPECT_GE(E - B, Len / Size);
        Next = E;
      }
      EXPECT_EQ(Next, 10 + Len);
    }
}

/// Two ranks holding the same values; records each float sum's length.
class Recorder final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  llvm::Error broadcast(llvm::MutableArrayRef<uint8_t>, int) override {
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> D) override {
    FloatSums.push_back(D.size());
    for (float &V : D)
      V += V;
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> D) override {
    DoubleSums.push_back(D.size());
    for (double &V : D)
      V += V;
    return llvm::Error::success();
  }
  llvm::Error barrier() override { return llvm::Error::success(); }
  void abort(int Code) override { std::exit(Code); }
  llvm::Error startAllReduceSum(llvm::MutableArrayRef<float> D) override {
    Started.push_back(D.size());
    return allReduceSum(D);
  }
  llvm::Error waitAll() override {
    ++Waits;
    return llvm::Error::success();
  }
  std::vector<size_t> FloatSums, DoubleSums, Started;
  int Waits = 0;
};

Tensor filled(DType E, int64_t N, double Base) {
  Tensor T(E, {N});
  for (int64_t I = 0; I < N; ++I)
    T.setF(I, Base + double(I));
  return T;
}

TEST(Communicator, BucketsFromTheLastTensor) {
  // 8-float buckets: [2] alone (1000 does not fit after it), [1000] alone
  // (larger than a bucket), then [5] and [3] together; the f64 tensor on
  // its own. Every value is scaled by 0.25, then summed over two ranks.
  std::vector<Tensor> Ts = {filled(DType::F32, 3, 1), filled(DType::F32, 5, 10),
                            filled(DType::F64, 4, 100),
                            filled(DType::F32, 1000, 0),
                            filled(DType::F32, 2, -4)};
  std::vector<Tensor> Before = Ts;
  std::vector<Tensor *> Ptrs;
  for (Tensor &T : Ts)
    Ptrs.push_back(&T);
  Recorder C;
  ASSERT_FALSE(bool(allReduceTensors(C, Ptrs, 0.25, 8 * sizeof(float))));
  EXPECT_EQ(C.FloatSums, (std::vector<size_t>{2, 1000, 8}));
  EXPECT_EQ(C.DoubleSums, (std::vector<size_t>{4}));
  for (size_t K = 0; K < Ts.size(); ++K)
    for (int64_t I = 0; I < Ts[K].numElements(); ++I)
      ASSERT_EQ(Ts[K].getF(I), Before[K].getF(I) * 0.5) << K << " " << I;
  Tensor Ints(DType::I64, {3});
  Tensor *IP = &Ints;
  EXPECT_EQ(errText(allReduceTensors(C, IP, 1, 64)),
            "error: data-parallel training sums f32 and f64 tensors; got "
            "i64[3]");
}

/// The tensors of BucketsFromTheLastTensor.
std::vector<Tensor> fiveTensors() {
  return {filled(DType::F32, 3, 1), filled(DType::F32, 5, 10),
          filled(DType::F64, 4, 100), filled(DType::F32, 1000, 0),
          filled(DType::F32, 2, -4)};
}

std::vector<TensorType> typesOf(const std::vector<Tensor> &Ts) {
  std::vector<TensorType> R;
  for (const Tensor &T : Ts)
    R.push_back(T.type());
  return R;
}

TEST(Communicator, OverlappedSumStartsBucketsInOrderAsTheyFill) {
  std::vector<Tensor> Ts = fiveTensors(), Before = Ts;
  Recorder C;
  OverlappedSum S(C, typesOf(Ts), 0.25, 8 * sizeof(float));
  // The layout of allReduceTensors: [4] [3] [1, 0].
  EXPECT_EQ(S.buckets(), (std::vector<std::vector<unsigned>>{{4}, {3}, {1, 0}}));
  // Ready out of order: tensor 1 completes nothing; tensor 3 fills bucket
  // 1, which waits for bucket 0; tensor 4 then starts buckets 0 and 1.
  auto Ready = [&](unsigned K) {
    return S.ready(K, Ts[K].data(), Ts[K].byteSize());
  };
  ASSERT_FALSE(bool(Ready(1)));
  ASSERT_FALSE(bool(Ready(3)));
  EXPECT_TRUE(C.Started.empty());
  ASSERT_FALSE(bool(Ready(4)));
  EXPECT_EQ(C.Started, (std::vector<size_t>{2, 1000}));
  // Reported twice: refused.
  EXPECT_EQ(errText(Ready(4)),
            "error: data-parallel sum: tensor 4 reported twice or out of range");
  // Sizes must match the type.
  EXPECT_EQ(errText(S.ready(0, Ts[0].data(), 4)),
            "error: data-parallel training sums f32 and f64 tensors; got 4 "
            "bytes for f32[3]");
  // The rest (tensors 0 and 2) come from finish, then every sum is waited
  // for and written back: scaled by 0.25, summed over two ranks.
  std::vector<Tensor *> Ptrs;
  for (Tensor &T : Ts)
    Ptrs.push_back(&T);
  ASSERT_FALSE(bool(S.finish(Ptrs)));
  EXPECT_EQ(C.Started, (std::vector<size_t>{2, 1000, 8}));
  EXPECT_EQ(C.DoubleSums, (std::vector<size_t>{4}));
  EXPECT_EQ(C.Waits, 1);
  for (size_t K = 0; K < Ts.size(); ++K)
    for (int64_t I = 0; I < Ts[K].numElements(); ++I)
      ASSERT_EQ(Ts[K].getF(I), Before[K].getF(I) * 0.5) << K << " " << I;
}

TEST(Communicator, OverlappedSumMatchesTheBlockingSum) {
  std::vector<Tensor> A = fiveTensors(), B = A;
  for (Tensor &T : A) // values that round differently when scaled
    for (int64_t I = 0; I < T.numElements(); ++I)
      T.setF(I, T.getF(I) * 1.37 + 0.011);
  B = A;
  std::vector<Tensor *> PA, PB;
  for (size_t K = 0; K < A.size(); ++K) {
    PA.push_back(&A[K]);
    PB.push_back(&B[K]);
  }
  Recorder C1, C2;
  ASSERT_FALSE(bool(allReduceTensors(C1, PA, 1.0 / 3, 16)));
  OverlappedSum S(C2, typesOf(B), 1.0 / 3, 16);
  for (unsigned K = 0; K < B.size(); ++K) // in the order a backward pass would
    ASSERT_FALSE(bool(S.ready(4 - K, B[4 - K].data(), B[4 - K].byteSize())));
  ASSERT_FALSE(bool(S.finish(PB)));
  EXPECT_EQ(C1.FloatSums, C2.Started);
  for (size_t K = 0; K < A.size(); ++K)
    EXPECT_EQ(A[K].bytes(), B[K].bytes()) << K;
  // finish checks the tensors it is given against the types.
  OverlappedSum S3(C2, typesOf(B), 1, 16);
  PB.pop_back();
  EXPECT_EQ(errText(S3.finish(PB)),
            "error: data-parallel sum: 4 tensors for 5 slots");
}

} // namespace
