// The data-parallel step without MPI: a trainer whose communicator stands
// for two ranks holding the same shard ("twins": every sum doubles) must
// follow the single-process trainer on that shard, since the global batch
// is the shard twice and its mean gradient is the shard's. That runs the
// split step (gradients, weighted bucketed sums, update) against the fused
// one, for SGD and Adam (state, bias correction), with batch norm (local
// and synchronized), on the CPU and on the emulated GPU; the gradient sums
// start during the backward pass (overlap) and give the bits of sums
// started after it; and the errors of the path.
#include "TestUtil.h"

#include "api/Trainer.h"
#include "interp/Collective.h"
#include "ir/Parser.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace dlc;

namespace {

/// Rank 0 of two whose partner holds exactly this rank's data.
class TwinCommunicator final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  llvm::Error broadcast(llvm::MutableArrayRef<uint8_t>, int) override {
    ++Broadcasts;
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> D) override {
    ++FloatSums;
    for (float &V : D)
      V += V;
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> D) override {
    for (double &V : D)
      V += V;
    return llvm::Error::success();
  }
  llvm::Error barrier() override { return llvm::Error::success(); }
  void abort(int Code) override { std::exit(Code); }
  /// Started sums, and those started while a graph runs (the trainer
  /// installs its collective hook around the run of @train_gradients).
  llvm::Error startAllReduceSum(llvm::MutableArrayRef<float> D) override {
    ++Starts;
    StartsInRun += currentCollective() != nullptr;
    return allReduceSum(D);
  }
  int Broadcasts = 0, FloatSums = 0, Starts = 0, StartsInRun = 0;
};

/// A conv, a batch norm (running statistics as parameters) and a dense
/// layer; no dropout, whose masks differ per rank by design. The conv has
/// no bias: before a batch norm its gradient is zero up to rounding, which
/// Adam's m / sqrt(v) turns into learning-rate-sized steps of noise that
/// differ with the summation order (the host's vector width).
const char *BnCnn =
    "func @cnn(%x: f32[N,1,8,8]) params(%w1: f32[4,1,3,3], "
    "%g: f32[4], %be: f32[4], %m: f32[4], %v: f32[4], %w2: f32[64,3], "
    "%b2: f32[3]) -> (p: f32[N,3]) {\n"
    "  %c = conv %x, %w1 {pads = [1, 1, 1, 1]}\n"
    "  %n = batch_norm %c, %g, %be, %m, %v {epsilon = 0.001}\n"
    "  %r = relu %n\n"
    "  %q = max_pool %r {kernel = [2, 2], strides = [2, 2]}\n"
    "  %f = flatten %q\n"
    "  %h = matmul %f, %w2\n"
    "  %z = add %h, %b2\n"
    "  %p = softmax %z\n"
    "  return %p\n}\n";

std::unique_ptr<Module> model(const char *Text = BnCnn) {
  auto M = llvm::cantFail(parseModule(Text, "bn-cnn.dlc"));
  Function &F = *M->Functions[0];
  for (size_t I = 0; I < F.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : F.Params[I]->Type.dims())
      Shape.push_back(D.size());
    Tensor T(DType::F32, Shape);
    bool IsVar = F.Params[I]->Name == "v";
    for (int64_t K = 0; K < T.numElements(); ++K)
      T.setF(K, uniformAt(31 + int64_t(I), K) - (IsVar ? -0.5 : 0.5));
    F.ParamInits[I] = Attribute::getTensor(std::make_shared<const Tensor>(T));
  }
  return M;
}

std::pair<Tensor, Tensor> batch(int64_t N, int64_t Seed) {
  Tensor X(DType::F32, {N, 1, 8, 8}), Y(DType::I64, {N});
  for (int64_t I = 0; I < N; ++I) {
    Y.setI(I, int64_t(uniformAt(Seed, I) * 3));
    for (int64_t P = 0; P < 64; ++P)
      X.setF(I * 64 + P, uniformAt(Seed + 1, I * 64 + P) +
                             (P / 8 < 3 * (Y.getI(I) + 1) ? 0.5 : 0));
  }
  return {X, Y};
}

class ParallelStep : public ::testing::TestWithParam<OptimizerKind> {};

/// Steps a single-process trainer and a twin-rank one on the same batches
/// and checks that they agree.
void twinsFollowOneProcess(OptimizerKind Kind, llvm::StringRef Device,
                           bool SyncBN = false) {
  // The single process runs on the CPU: one GPU trainer to compile is
  // enough, and the emulated GPU follows the CPU's arithmetic closely.
  auto M = model();
  TrainerOptions Opts;
  Opts.Optimizer.Kind = Kind;
  Opts.Optimizer.LearningRate = 0.01;
  Opts.Optimizer.WeightDecay = 1e-3;
  Opts.Threads = 1;
  auto Twin = std::make_shared<TwinCommunicator>();
  TrainerOptions ParOpts = Opts;
  ParOpts.Device = Device.str();
  ParOpts.Comm = Twin;
  ParOpts.BucketBytes = 64; // several buckets for these small tensors
  ParOpts.SyncBatchNorm = SyncBN;
  Trainer One = llvm::cantFail(Trainer::create(*M->Functions[0], Opts));
  Trainer Two = llvm::cantFail(Trainer::create(*M->Functions[0], ParOpts));
  // Parameters, then optimizer state, came from "rank 0" (this one), after
  // the check that every rank holds the same kinds of tensors.
  size_t Slots = llvm::cantFail(Two.trainingState()).size();
  EXPECT_EQ(Twin->Broadcasts, int(Slots) + 1);
  for (int Step = 0; Step < 4; ++Step) {
    auto [X, Y] = batch(6 + Step, 100 + Step);
    StepResult A = llvm::cantFail(One.step(X, Y));
    StepResult B = llvm::cantFail(Two.step(X, Y));
    // The global batch is the shard twice.
    EXPECT_EQ(B.Count, 2 * A.Count);
    EXPECT_EQ(B.Correct, 2 * A.Correct);
    EXPECT_NEAR(B.Loss, A.Loss, 1e-6 * std::fabs(A.Loss));
  }
  EXPECT_GT(Twin->FloatSums, 2 * 4); // more than one bucket per step
  std::vector<Tensor> SA = llvm::cantFail(One.trainingState());
  std::vector<Tensor> SB = llvm::cantFail(Two.trainingState());
  ASSERT_EQ(SA.size(), SB.size());
  for (size_t K = 0; K < SA.size(); ++K)
    for (int64_t I = 0; I < SA[K].numElements(); ++I)
      ASSERT_NEAR(SB[K].getF(I), SA[K].getF(I),
                  1e-5 * (1e-2 + std::fabs(SA[K].getF(I))))
          << "slot " << K << " element " << I;
  EXPECT_EQ(Two.stepsDone(), 4);
}

TEST_P(ParallelStep, TwinsFollowOneProcess) {
  twinsFollowOneProcess(GetParam(), "cpu");
}

// Synchronized batch norm over twins: the global batch's statistics are
// the shard's, and the gradients (of each rank's share of the global mean
// loss, summed) are the shard's too.
TEST_P(ParallelStep, TwinsWithSyncBatchNormFollowOneProcess) {
  twinsFollowOneProcess(GetParam(), "cpu", /*SyncBN=*/true);
}

TEST(ParallelStep, SyncBatchNormSumsStatisticsInTheGraph) {
  auto M = model();
  auto Twin = std::make_shared<TwinCommunicator>();
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Comm = Twin;
  Opts.SyncBatchNorm = true;
  Trainer T = llvm::cantFail(Trainer::create(*M->Functions[0], Opts));
  auto [X, Y] = batch(5, 7);
  int Before = Twin->FloatSums;
  llvm::cantFail(T.step(X, Y));
  // Forward: the global batch size (one sum, shared by the batch norm's
  // count and the loss's share), the sum and the sum of squares; backward:
  // the sums of the two statistics' gradients. The gradient buckets are
  // the trainer's own.
  int InGraph = Twin->FloatSums - Before - Twin->Starts;
  EXPECT_EQ(InGraph, 5);
  // Synchronized batch norm on the (emulated) GPU: the GPU executor runs
  // the same in-graph sums as host steps through the communicator.
  TrainerOptions Gpu = Opts;
  Gpu.Device = "cuda-emu";
  auto G = Trainer::create(*M->Functions[0], Gpu);
  ASSERT_TRUE(bool(G)) << errText(G.takeError());
  int GpuBefore = Twin->FloatSums;
  llvm::cantFail(G->step(X, Y));
  EXPECT_GE(Twin->FloatSums - GpuBefore, 5);
  // 16-bit activations would overflow the element count: refused.
  std::string Half = BnCnn;
  for (size_t P = Half.find("f32"); P != std::string::npos;
       P = Half.find("f32", P))
    Half.replace(P, 3, "f16");
  auto HM = llvm::cantFail(parseModule(Half, "bn-cnn-f16.dlc"));
  Function &HF = *HM->Functions[0];
  for (size_t I = 0; I < HF.Params.size(); ++I) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : HF.Params[I]->Type.dims())
      Shape.push_back(D.size());
    HF.ParamInits[I] = Attribute::getTensor(
        std::make_shared<const Tensor>(Tensor(DType::F16, Shape)));
  }
  auto H = Trainer::create(HF, Opts);
  ASSERT_FALSE(bool(H));
  EXPECT_EQ(errText(H.takeError()),
            "bn-cnn-f16.dlc:3:8: error: synchronized batch norm needs f32 or "
            "f64 activations; this batch_norm's input is f16[N,4,8,8]");
}

TEST(ParallelStep, TwinsWithSyncBatchNormAndAFixedBatch) {
  // A model with a fixed batch size: the batch norm's element count is not
  // the model input's symbolic batch times a constant, so it comes from
  // x's run-time shape (the general path), summed over the ranks.
  std::string Fixed = BnCnn;
  for (size_t P = Fixed.find("[N,"); P != std::string::npos;
       P = Fixed.find("[N,", P))
    Fixed.replace(P, 3, "[6,");
  auto M = model(Fixed.c_str());
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Optimizer.Kind = OptimizerKind::SGD;
  Opts.Optimizer.LearningRate = 0.05;
  TrainerOptions ParOpts = Opts;
  auto Twin = std::make_shared<TwinCommunicator>();
  ParOpts.Comm = Twin;
  ParOpts.SyncBatchNorm = true;
  Trainer One = llvm::cantFail(Trainer::create(*M->Functions[0], Opts));
  Trainer Two = llvm::cantFail(Trainer::create(*M->Functions[0], ParOpts));
  for (int Step = 0; Step < 4; ++Step) {
    auto [X, Y] = batch(6, 300 + Step);
    StepResult A = llvm::cantFail(One.step(X, Y));
    int Sums0 = Twin->FloatSums, Starts0 = Twin->Starts;
    StepResult B = llvm::cantFail(Two.step(X, Y));
    EXPECT_NEAR(B.Loss, A.Loss, 1e-6 * std::fabs(A.Loss)) << "step " << Step;
    // In the graph: count, sum, sum of squares, the loss's share; two
    // backward sums (the buckets are the trainer's).
    EXPECT_EQ((Twin->FloatSums - Sums0) - (Twin->Starts - Starts0), 6);
  }
  std::vector<Tensor> SA = llvm::cantFail(One.trainingState());
  std::vector<Tensor> SB = llvm::cantFail(Two.trainingState());
  for (size_t K = 0; K < SA.size(); ++K)
    for (int64_t I = 0; I < SA[K].numElements(); ++I)
      ASSERT_NEAR(SB[K].getF(I), SA[K].getF(I),
                  1e-5 * (1e-2 + std::fabs(SA[K].getF(I))))
          << "slot " << K << " element " << I;
}

TEST(ParallelStep, OverlappedSumsStartDuringTheRunWithTheSameBits) {
  auto M = model();
  std::vector<Tensor> States[2];
  for (bool Overlap : {false, true}) {
    auto Twin = std::make_shared<TwinCommunicator>();
    TrainerOptions Opts;
    Opts.Threads = 1;
    Opts.Comm = Twin;
    Opts.BucketBytes = 64;
    Opts.OverlapComm = Overlap;
    Opts.Optimizer.Kind = OptimizerKind::Adam;
    Trainer T = llvm::cantFail(Trainer::create(*M->Functions[0], Opts));
    for (int Step = 0; Step < 3; ++Step) {
      auto [X, Y] = batch(6, 200 + Step);
      llvm::cantFail(T.step(X, Y));
    }
    EXPECT_GT(Twin->FloatSums, 3 * 2) << "several buckets per step";
    EXPECT_GE(T.commWaitSeconds(), 0.0);
    if (Overlap) {
      EXPECT_GT(Twin->Starts, 3 * 2);
      EXPECT_EQ(Twin->StartsInRun, Twin->Starts)
          << "every bucket starts before the backward pass ends";
    } else {
      EXPECT_EQ(Twin->Starts, 0) << "blocking sums after the pass";
    }
    States[Overlap] = llvm::cantFail(T.trainingState());
  }
  ASSERT_EQ(States[0].size(), States[1].size());
  for (size_t K = 0; K < States[0].size(); ++K)
    EXPECT_EQ(States[0][K].bytes(), States[1][K].bytes()) << "slot " << K;
}

// On a GPU the gradients come to the host, are summed there and go back:
// the emulated GPU runs the same host code as a real one.
TEST(ParallelStep, TwinsFollowOneProcessOnTheEmulatedGpu) {
  // SGD: Adam's update divides by the gradient's size, so the few weights
  // whose gradient nearly cancels would show the GPU's other summation
  // order as a 1e-4 difference.
  twinsFollowOneProcess(OptimizerKind::SGD, "cuda-emu");
}

INSTANTIATE_TEST_SUITE_P(Optimizers, ParallelStep,
                         ::testing::Values(OptimizerKind::SGD,
                                           OptimizerKind::Adam),
                         [](const auto &Info) {
                           return optimizerName(Info.param).str();
                         });

/// Rank 1 of two: its broadcasts receive what rank 0 sent (recorded from
/// another trainer), in order.
class ReplayCommunicator final : public Communicator {
public:
  int rank() const override { return Record ? 0 : 1; }
  int size() const override { return 2; }
  llvm::Error broadcast(llvm::MutableArrayRef<uint8_t> B, int) override {
    if (Record) {
      Sent.emplace_back(B.begin(), B.end());
    } else if (Next < Sent.size() && Sent[Next].size() == B.size()) {
      std::copy(Sent[Next].begin(), Sent[Next].end(), B.begin());
      ++Next;
    }
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<float>) override {
    return llvm::Error::success();
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double>) override {
    return llvm::Error::success();
  }
  llvm::Error barrier() override { return llvm::Error::success(); }
  void abort(int Code) override { std::exit(Code); }
  bool Record = true;
  std::vector<std::vector<uint8_t>> Sent;
  size_t Next = 0;
};

TEST(ParallelStep, RanksWithOtherDataParallelOptionsAreRefused) {
  // Ranks that would make different collectives (overlapped or blocking
  // sums, synchronized batch norm or not, other buckets, NCCL or MPI) would
  // hang in
  // them: create() compares with rank 0's options first.
  auto M = model();
  auto Comm = std::make_shared<ReplayCommunicator>();
  TrainerOptions Opts;
  Opts.Engine = "interp"; // nothing to compile: only create() is tested
  Opts.Comm = Comm;
  llvm::cantFail(Trainer::create(*M->Functions[0], Opts)); // rank 0
  Comm->Record = false;
  for (int Case = 0; Case < 5; ++Case) {
    TrainerOptions Other = Opts;
    Other.OverlapComm = Case != 0;
    Other.SyncBatchNorm = Case == 1;
    Other.BucketBytes = Case == 2 ? 1024 : Opts.BucketBytes;
    Other.CommBackend = Case == 3 ? "mpi" : "auto";
    Comm->Next = 0;
    auto T = Trainer::create(*M->Functions[0], Other);
    if (Case == 4) { // the same options: accepted
      EXPECT_TRUE(bool(T)) << errText(T.takeError());
      continue;
    }
    ASSERT_FALSE(bool(T)) << "case " << Case;
    EXPECT_EQ(errText(T.takeError()),
              "error: rank 1 of 2: the model's parameters, the optimizer "
              "state or the data-parallel options (sync-bn, overlap, bucket "
              "size, comm) differ from rank 0's (another model or "
              "optimizer?)")
        << "case " << Case;
  }
}

TEST(ParallelStep, EmptyShardsAndErrors) {
  auto M = model();
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Comm = std::make_shared<TwinCommunicator>();
  Trainer T = llvm::cantFail(Trainer::create(*M->Functions[0], Opts));
  // An empty shard is fine for a rank, but here every "rank" has none.
  Tensor X(DType::F32, {0, 1, 8, 8}), Y(DType::I64, {0});
  auto R = T.step(X, Y);
  ASSERT_FALSE(R);
  EXPECT_EQ(errText(R.takeError()),
            "error: a training step with no examples on any rank");
  EXPECT_EQ(T.stepsDone(), 0);
  // Restoring a state of the wrong kind is refused before any broadcast.
  std::vector<Tensor> State = llvm::cantFail(T.trainingState());
  State.pop_back();
  EXPECT_NE(errText(T.restoreTrainingState(State, 3))
                .find("this model and optimizer need"),
            std::string::npos);
  EXPECT_EQ(T.stepsDone(), 0);
}

} // namespace

// How gradients are summed on a GPU: NCCL only on "cuda"; the CPU and the
// emulated GPU refuse "nccl" whatever the ranks (see test/dist's
// mpi-nccl-* for NCCL itself).
TEST(ParallelStep, CommBackendChoices) {
  auto M = model();
  TrainerOptions Opts;
  Opts.Engine = "interp";
  Opts.CommBackend = "gloo";
  auto T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_FALSE(bool(T));
  EXPECT_EQ(errText(T.takeError()),
            "error: comm must be \"auto\", \"mpi\" or \"nccl\", got \"gloo\"");
  Opts.CommBackend = "nccl";
  T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_FALSE(bool(T));
  EXPECT_EQ(errText(T.takeError()),
            "error: comm \"nccl\" sums gradients in GPU memory and needs "
            "device \"cuda\"; use comm \"mpi\" or \"auto\" on the CPU");
  // Twins on the CPU: the note says MPI; in one process there is none.
  Opts.CommBackend = "mpi";
  Opts.Comm = std::make_shared<TwinCommunicator>();
  T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  EXPECT_EQ(T->commNote(), "gradient sums: MPI");
  Opts.Comm = nullptr;
  T = Trainer::create(*M->Functions[0], Opts);
  ASSERT_TRUE(bool(T)) << errText(T.takeError());
  EXPECT_EQ(T->commNote(), "");
}
