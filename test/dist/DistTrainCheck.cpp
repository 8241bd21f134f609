// Data-parallel training over MPI, checked from inside: run under
// `mpiexec -n 2` by ctest (see test/CMakeLists.txt).
//   match  the tutorial CNN (keras-cnn, no dropout) with 2 ranks x batch 32
//          against one process at batch 64, SGD, 10 steps including a last
//          partial global batch split 16/17 and one whose rank 0 shard is
//          empty: the loss of every step and every weight within 1e-5
//          relative, and every rank's parameters and optimizer state
//          bit-identical after every step; then a batch-norm model (local
//          statistics) stays bit-identical across ranks.
//   match-adam  the same with Adam, weights compared per tensor.
//   sync-bn  a CNN with two batch norms, 2 ranks x 32 with synchronized
//          batch norm against one process at 64 for 10 steps (SGD; one
//          partial global batch split 16/17): loss and every parameter
//          tensor (running statistics included) within 1e-5 relative, ranks
//          bit-identical; the same with local statistics must differ by
//          more than 1e-3; then a global batch of 1 (rank 0's shard empty)
//          is refused on every rank.
//   kill   rank 1 kills itself (SIGKILL) after 2 steps: the launcher must
//          end rank 0, which is waiting in the gradient sum.
//   hang   rank 1 stops answering after 2 steps: rank 0's watchdog
//          (--comm-timeout, here 2 s) must end it with an error.
// Prints one line per step; exits 1 when a check fails.
#include "DistData.h"
#include "api/Trainer.h"
#include "dist/MpiCommunicator.h"
#include "frontend/builder/TutorialModels.h"
#include "ir/Parser.h"
#include "ir/Random.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <optional>
#include <thread>

using namespace dlc;
using dist_test::data;
using dist_test::rows;

namespace {

int Failures = 0;
llvm::ExitOnError Check("DistTrainCheck: ");

void expect(bool OK, const llvm::Twine &What) {
  if (!OK) {
    llvm::errs() << "FAILED: " << What << "\n";
    ++Failures;
  }
}

/// Whether every rank's training state has rank 0's bits.
bool sameOnEveryRank(Communicator &C, const Trainer &T) {
  std::vector<Tensor> State = Check(T.trainingState());
  std::vector<Tensor> Root = State;
  double Differ = 0;
  for (size_t K = 0; K < State.size(); ++K) {
    Check(C.broadcast(
        llvm::MutableArrayRef<uint8_t>(Root[K].data(), Root[K].byteSize())));
    if (Root[K].bytes() != State[K].bytes())
      Differ = 1;
  }
  Check(C.allReduceSum(llvm::MutableArrayRef<double>(&Differ, 1)));
  return Differ == 0;
}

/// How far A's parameters (the first Count tensors of the training state)
/// are from B's: the largest elementwise |a - b| / (1e-3 + |b|), and the
/// largest per-tensor ||a - b|| / ||b||.
std::pair<double, double> relDiff(const Trainer &A, const Trainer &B,
                                  size_t Count) {
  std::vector<Tensor> SA = Check(A.trainingState());
  std::vector<Tensor> SB = Check(B.trainingState());
  double Elem = 0, Norm = 0;
  for (size_t K = 0; K < Count; ++K) {
    double D2 = 0, B2 = 0;
    for (int64_t I = 0; I < SA[K].numElements(); ++I) {
      double D = SA[K].getF(I) - SB[K].getF(I), V = SB[K].getF(I);
      Elem = std::max(Elem, std::fabs(D) / (1e-3 + std::fabs(V)));
      D2 += D * D;
      B2 += V * V;
    }
    Norm = std::max(Norm, std::sqrt(D2 / std::max(B2, 1e-30)));
  }
  return {Elem, Norm};
}

/// keras-cnn, 2 ranks x 32 against 1 process x 64 (see the file comment);
/// rank RefRank runs the one process alongside and checks.
/// SGD is checked element by element. Adam divides each update by the
/// gradient's magnitude, so a weight whose gradient is nearly zero (its
/// sum cancels) moves by lr * sign: a rounding difference in the sum shows
/// as a 1e-5 difference in such a weight; Adam is checked per tensor.
void matchOneProcess(Communicator &C, std::shared_ptr<Communicator> Shared,
                     OptimizerKind Kind, double Lr, int RefRank) {
  auto M = Check(makeTutorialModel("keras-cnn", 7));
  const Function *FP = M->lookup("main");
  const Function &F = FP ? *FP : *M->Functions.front();
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Seed = 3;
  Opts.Optimizer.Kind = Kind;
  Opts.Optimizer.LearningRate = Lr;
  TrainerOptions DistOpts = Opts;
  DistOpts.Comm = Shared;
  DistOpts.BucketBytes = 64 << 10; // a few buckets for these 93k weights
  Trainer Dist = Check(Trainer::create(F, DistOpts));
  std::optional<Trainer> One;
  if (C.rank() == RefRank)
    One.emplace(Check(Trainer::create(F, Opts)));
  // 8 global batches of 64, then 33 (shards 16 and 17), then 1 (rank 0's
  // shard empty): 546 examples.
  const int64_t Sizes[] = {64, 64, 64, 64, 64, 64, 64, 64, 33, 1};
  auto [X, Y] = data(546, 28, 11);
  bool Elementwise = Kind == OptimizerKind::SGD;
  int64_t Begin = 0;
  for (int64_t Step = 0; Step < 10; ++Step) {
    int64_t End = Begin + Sizes[Step];
    auto [B, E] = shardRange(Begin, End, C.rank(), C.size());
    StepResult RD = Check(Dist.step(rows(X, B, E), rows(Y, B, E)));
    bool Same = sameOnEveryRank(C, Dist);
    expect(Same, "step " + llvm::Twine(Step) + ": ranks differ");
    expect(RD.Count == Sizes[Step], "global count");
    if (One) {
      StepResult R1 =
          Check(One->step(rows(X, Begin, End), rows(Y, Begin, End)));
      double LossRel = std::fabs(RD.Loss - R1.Loss) / std::fabs(R1.Loss);
      auto [Elem, Norm] = relDiff(Dist, *One, F.Params.size());
      llvm::outs() << llvm::format(
          "%s step %lld: global batch %2lld, loss 2 ranks %.7f, 1 process "
          "%.7f (rel %.1e); weights rel diff %.1e elementwise, %.1e per "
          "tensor; ranks %s\n",
          optimizerName(Kind).str().c_str(), (long long)Step,
          (long long)Sizes[Step], RD.Loss, R1.Loss, LossRel, Elem, Norm,
          Same ? "bit-identical" : "DIFFER");
      llvm::outs().flush(); // one write per line
      expect(LossRel <= 1e-5, "loss within 1e-5");
      expect((Elementwise ? Elem : Norm) <= 1e-5, "weights within 1e-5");
      expect(RD.Correct == R1.Correct, "correct count");
    }
    Begin = End;
  }
}

/// Batch norm with local statistics: the running averages are summed like
/// gradients, so they stay identical on every rank too.
void batchNormStaysIdentical(Communicator &C,
                             std::shared_ptr<Communicator> Shared) {
  TrainerOptions DistOpts;
  DistOpts.Threads = 1;
  DistOpts.Comm = Shared;
  const char *Bn =
      "func @bn(%x: f32[N,1,8,8]) params(%w: f32[4,1,3,3] = "
      "dense<f32[4,1,3,3]>[0.2], "
      "%g: f32[4] = dense<f32[4]>[1.0], %b: f32[4] = dense<f32[4]>[0.0], "
      "%m: f32[4] = dense<f32[4]>[0.0], %v: f32[4] = dense<f32[4]>[1.0], "
      "%w2: f32[256,10] = dense<f32[256,10]>[0.01]) -> (p: f32[N,10]) {\n"
      "  %c = conv %x, %w {pads = [1, 1, 1, 1]}\n"
      "  %n = batch_norm %c, %g, %b, %m, %v\n"
      "  %r = relu %n\n"
      "  %f = flatten %r\n"
      "  %h = matmul %f, %w2\n"
      "  %p = softmax %h\n"
      "  return %p\n}\n";
  auto BM = Check(parseModule(Bn, "bn.dlc"));
  Trainer T = Check(Trainer::create(*BM->Functions[0], DistOpts));
  auto [BX, BY] = data(100, 8, 5);
  int64_t Mismatch = 0;
  for (int64_t Step = 0; Step < 5; ++Step) {
    auto [B, E] = shardRange(Step * 20, Step * 20 + 20, C.rank(), C.size());
    Check(T.step(rows(BX, B, E), rows(BY, B, E)).takeError());
    Mismatch += !sameOnEveryRank(C, T);
  }
  std::vector<Tensor> S = Check(T.trainingState());
  if (C.rank() == 0)
    llvm::outs() << llvm::format("batch norm model: 5 steps, running mean[0] "
                                 "%.6f, ranks %s\n",
                                 S[3].getF(0),
                                 Mismatch ? "DIFFER" : "bit-identical");
  expect(Mismatch == 0, "batch norm model: ranks differ");
  expect(S[3].getF(0) != 0, "running mean moved");
}

/// Synchronized batch norm: see the file comment.
void syncBatchNormMatches(Communicator &C, std::shared_ptr<Communicator> Shared) {
  auto M = Check(dist_test::bnCnn());
  const Function &F = *M->Functions[0];
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Optimizer.Kind = OptimizerKind::SGD;
  Opts.Optimizer.LearningRate = 0.05;
  TrainerOptions SyncOpts = Opts, LocalOpts = Opts;
  SyncOpts.Comm = LocalOpts.Comm = Shared;
  SyncOpts.SyncBatchNorm = true;
  SyncOpts.BucketBytes = LocalOpts.BucketBytes = 4 << 10;
  Trainer Sync = Check(Trainer::create(F, SyncOpts));
  Trainer Local = Check(Trainer::create(F, LocalOpts));
  std::optional<Trainer> One;
  if (C.rank() == 0)
    One.emplace(Check(Trainer::create(F, Opts)));
  const int64_t Sizes[] = {64, 64, 64, 64, 64, 64, 64, 64, 33, 64};
  auto [X, Y] = data(609, 12, 21);
  double LocalMax = 0;
  int64_t Begin = 0;
  for (int64_t Step = 0; Step < 10; ++Step) {
    int64_t End = Begin + Sizes[Step];
    auto [B, E] = shardRange(Begin, End, C.rank(), C.size());
    StepResult RS = Check(Sync.step(rows(X, B, E), rows(Y, B, E)));
    Check(Local.step(rows(X, B, E), rows(Y, B, E)).takeError());
    bool Same = sameOnEveryRank(C, Sync);
    expect(Same, "sync-bn step " + llvm::Twine(Step) + ": ranks differ");
    expect(RS.Count == Sizes[Step], "global count");
    if (One) {
      StepResult R1 =
          Check(One->step(rows(X, Begin, End), rows(Y, Begin, End)));
      double LossRel = std::fabs(RS.Loss - R1.Loss) / std::fabs(R1.Loss);
      auto [Elem, Norm] = relDiff(Sync, *One, F.Params.size());
      auto [LElem, LNorm] = relDiff(Local, *One, F.Params.size());
      LocalMax = std::max(LocalMax, LNorm);
      llvm::outs() << llvm::format(
          "sync-bn step %lld: global batch %2lld, loss 2 ranks %.7f, 1 "
          "process %.7f (rel %.1e); parameters rel diff %.1e per tensor "
          "(%.1e elementwise); local statistics: %.1e per tensor; ranks %s\n",
          (long long)Step, (long long)Sizes[Step], RS.Loss, R1.Loss, LossRel,
          Norm, Elem, LNorm, Same ? "bit-identical" : "DIFFER");
      llvm::outs().flush();
      // Per tensor: the elementwise measure's floor (1e-3) is not small
      // enough for the weights that sit near 0, where rounding of the BN
      // backward pass's cancelling sums shows as 1e-8 absolute (1e-5 rel).
      expect(LossRel <= 1e-5, "sync-bn loss within 1e-5");
      expect(Norm <= 1e-5, "sync-bn parameters within 1e-5 per tensor");
      expect(RS.Correct == R1.Correct, "correct count");
    }
    Begin = End;
  }
  if (One) {
    llvm::outs() << llvm::format("local statistics differ from one process "
                                 "by up to %.1e\n", LocalMax);
    expect(LocalMax > 1e-3, "local batch norm statistics should differ");
  }
  // A global batch of 1: rank 0's shard is empty; every rank refuses.
  auto [B, E] = shardRange(0, 1, C.rank(), C.size());
  auto R = Sync.step(rows(X, B, E), rows(Y, B, E));
  std::string Msg = R ? "no error" : llvm::toString(R.takeError());
  expect(llvm::StringRef(Msg).contains(
             "synchronized batch norm needs at least one example on every "
             "rank in every step; this global batch has 1 examples for 2 "
             "ranks"),
         "empty shard with sync-bn: got '" + Msg + "'");
  if (C.rank() == 0)
    llvm::outs() << "sync-bn: a global batch of 1 is refused on every rank\n";
}

/// Steps until rank 1 fails the way Mode says; rank 0 keeps stepping.
void failInTheMiddle(std::shared_ptr<Communicator> C, llvm::StringRef Mode) {
  auto M = Check(makeTutorialModel("mlp", 1));
  TrainerOptions Opts;
  Opts.Threads = 1;
  Opts.Comm = C;
  Trainer T = Check(Trainer::create(*M->Functions.front(), Opts));
  auto [X, Y] = data(16, 28, 2);
  for (int Step = 0; Step < 1000; ++Step) {
    if (Step == 2 && C->rank() == 1) {
      llvm::errs() << "rank 1: " << Mode << " after 2 steps\n";
      llvm::errs().flush();
      if (Mode == "kill")
        std::raise(SIGKILL);
      std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    Check(T.step(X, Y).takeError());
  }
  llvm::errs() << "rank " << C->rank() << ": not stopped after 1000 steps\n";
}

} // namespace

int main(int Argc, char **Argv) {
  llvm::StringRef Mode = Argc > 1 ? Argv[1] : "match";
  MpiOptions MO;
  MO.TimeoutSeconds = Mode == "hang" ? 2 : 120;
  std::shared_ptr<Communicator> C = Check(createMpiCommunicator(MO));
  if (C->size() != 2) {
    llvm::errs() << "DistTrainCheck: run me with mpiexec -n 2\n";
    return 1;
  }
  if (Mode == "match") {
    matchOneProcess(*C, C, OptimizerKind::SGD, 0.05, 0);
    batchNormStaysIdentical(*C, C);
  } else if (Mode == "match-adam") {
    matchOneProcess(*C, C, OptimizerKind::Adam, 1e-3, 0);
  } else if (Mode == "sync-bn") {
    syncBatchNormMatches(*C, C);
  } else {
    failInTheMiddle(C, Mode);
  }
  if (Failures)
    llvm::errs() << C->describe() << ": " << Failures << " check(s) failed\n";
  // Rank 0 alone reports on both (mpirun may interleave the ranks' output).
  double All = Failures;
  Check(C->allReduceSum(llvm::MutableArrayRef<double>(&All, 1)));
  if (C->rank() == 0 && All == 0)
    llvm::outs() << "all checks passed on " << C->size() << " ranks\n";
  return Failures ? 1 : 0;
}
