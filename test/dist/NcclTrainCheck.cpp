// Data-parallel training on the GPU with NCCL, checked from inside against
// the fake CUDA driver and the fake NCCL (test/cuda/FakeCuda.h,
// FakeNccl.h): run under `mpiexec -n 2` by test/dist/mpi.sh, with
// DLC_CUDA_DRIVER and DLC_NCCL_LIBRARY pointing at the fakes this program
// links and DLC_FAKE_NCCL_DIR at a directory the ranks share.
//   match    keras-cnn, SGD, 2 ranks x 32 on --device cuda: one trainer
//            sums with NCCL, one through the host (MPI), both from the same
//            start, over 6 global batches (one split 8/9, one with rank 0's
//            shard empty). After every step: the NCCL trainer's parameters
//            bit-identical on both ranks and within 1e-6 of the MPI
//            trainer's, the same loss; the NCCL step downloads only the
//            loss and count (no gradient), makes one ncclAllReduce per
//            bucket, and the MPI step does download the gradients.
//   sync-bn  a CNN with two batch norms, synchronized, 2 ranks on cuda with
//            NCCL, on cuda and cuda-emu through the host (MPI), and on the
//            CPU, over 4 global batches (one split 16/17): every GPU
//            trainer within 1e-5 of the CPU's after every step, the NCCL
//            one's parameters bit-identical on both ranks; its batch norm
//            sums go through ncclAllReduce on the device (only the loss
//            and count come to the host), the MPI one's through the host.
//   error    rank 1's third ncclAllReduce fails (ncclSystemError): rank 1
//            ends with an error naming it, and the launcher ends rank 0.
//   async    from rank 0's third ncclAllReduce on, NCCL reports an
//            asynchronous ncclRemoteError: rank 0 ends with an error.
//   hang     rank 1's third ncclAllReduce never finishes; --comm-timeout 2:
//            both ranks end with an error naming ncclAllReduce.
//   init-hang  rank 1 never joins ncclCommInitRank; --comm-timeout 2: both
//            ranks end, the watchdog's message names ncclCommInitRank.
//   missing  DLC_NCCL_LIBRARY names no file: comm "nccl" is an error that
//            says what to install; "auto" falls back to MPI with a note.
//   emu      comm "nccl" on cuda-emu is an error; "auto" uses MPI.
// Prints one line per step or check; exits 1 when a check fails.
#include "DistData.h"
#include "FakeCuda.h"
#include "FakeNccl.h"
#include "JitAsGpu.h"
#include "api/Device.h"
#include "api/Trainer.h"
#include "dist/MpiCommunicator.h"
#include "frontend/builder/TutorialModels.h"
#include "ir/Random.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

using namespace dlc;
using dist_test::data;
using dist_test::rows;

namespace {

int Failures = 0;
llvm::ExitOnError Check("NcclTrainCheck: ");

void expect(bool OK, const llvm::Twine &What) {
  if (!OK) {
    llvm::errs() << "FAILED: " << What << "\n";
    ++Failures;
  }
}

bool sameOnEveryRank(Communicator &C, const std::vector<Tensor> &State) {
  double Differ = 0;
  for (const Tensor &T : State) {
    Tensor Root = T;
    Check(C.broadcast(
        llvm::MutableArrayRef<uint8_t>(Root.data(), Root.byteSize())));
    if (Root.bytes() != T.bytes())
      Differ = 1;
  }
  Check(C.allReduceSum(llvm::MutableArrayRef<double>(&Differ, 1)));
  return Differ == 0;
}

const Function &kerasCnn(std::unique_ptr<Module> &M) {
  M = Check(makeTutorialModel("keras-cnn", 7));
  const Function *FP = M->lookup("main");
  return FP ? *FP : *M->Functions.front();
}

TrainerOptions options(std::shared_ptr<Communicator> Comm, const char *Device,
                       const char *Backend) {
  TrainerOptions O;
  O.Threads = 1;
  O.Seed = 3;
  O.Optimizer.Kind = OptimizerKind::SGD;
  O.Optimizer.LearningRate = 0.05;
  O.Device = Device;
  O.Comm = std::move(Comm);
  O.CommBackend = Backend;
  O.BucketBytes = 64 << 10; // several buckets, some of several tensors
  return O;
}

std::string errText(llvm::Error E) { return llvm::toString(std::move(E)); }

void match(std::shared_ptr<Communicator> C) {
  std::unique_ptr<Module> M;
  const Function &F = kerasCnn(M);
  Trainer Nccl = Check(Trainer::create(F, options(C, "cuda", "nccl")));
  Trainer Mpi = Check(Trainer::create(F, options(C, "cuda", "mpi")));
  if (C->rank() == 0) {
    llvm::outs() << "nccl trainer: " << Nccl.commNote() << "\n"
                 << "mpi trainer: " << Mpi.commNote() << "\n";
  }
  expect(Nccl.commNote().find("NCCL 2.99.0") != std::string::npos,
         "the NCCL trainer's note: " + Nccl.commNote());
  expect(Mpi.commNote() == "gradient sums: MPI through the host",
         "the MPI trainer's note: " + Mpi.commNote());
  // The gradient slots and their buckets (as allReduceTensors makes them).
  std::vector<TensorType> Types;
  uint64_t GradBytes = 0;
  for (const auto &P : F.Params) {
    Types.push_back(P->Type);
    GradBytes += uint64_t(P->Type.numElements().value_or(0)) * 4;
  }
  size_t Buckets = gradientBuckets(Types, 64 << 10).size();
  size_t Multi = 0;
  for (auto &B : gradientBuckets(Types, 64 << 10))
    Multi += B.size() > 1;
  expect(Buckets >= 2 && Multi >= 1, "expected several buckets, one of "
                                     "several tensors");
  const int64_t Sizes[] = {64, 64, 17, 64, 1, 64};
  auto [X, Y] = data(274, 28, 11);
  int64_t Begin = 0;
  int Step = 0;
  for (int64_t G : Sizes) {
    auto [B, E] = shardRange(Begin, Begin + G, C->rank(), C->size());
    Tensor XS = rows(X, B, E), YS = rows(Y, B, E);
    Begin += G;
    uint64_t Calls0 = dlcFakeNcclCalls("ncclAllReduce"),
             Down0 = dlcFakeCudaBytes(1),
             DownCalls0 = dlcFakeCudaCalls("cuMemcpyDtoHAsync_v2");
    StepResult RN = Check(Nccl.step(XS, YS));
    uint64_t Calls = dlcFakeNcclCalls("ncclAllReduce") - Calls0,
             Down = dlcFakeCudaBytes(1) - Down0,
             DownCalls = dlcFakeCudaCalls("cuMemcpyDtoHAsync_v2") - DownCalls0;
    uint64_t MDown0 = dlcFakeCudaBytes(1);
    StepResult RM = Check(Mpi.step(XS, YS));
    uint64_t MDown = dlcFakeCudaBytes(1) - MDown0;
    ++Step;
    expect(Calls == Buckets, "step " + llvm::Twine(Step) + ": " +
                                 llvm::Twine(Calls) + " ncclAllReduce for " +
                                 llvm::Twine(Buckets) + " buckets");
    // The loss (f32) and count (i64) only; an empty shard downloads nothing.
    expect(Down <= 16 && DownCalls <= 2,
           "step " + llvm::Twine(Step) + ": the NCCL step downloaded " +
               llvm::Twine(Down) + " bytes in " + llvm::Twine(DownCalls) +
               " copies");
    expect(E == B || MDown >= GradBytes, "step " + llvm::Twine(Step) +
                                             ": the MPI step downloaded only " +
                                             llvm::Twine(MDown) + " bytes");
    std::vector<Tensor> SN = Check(Nccl.trainingState());
    std::vector<Tensor> SM = Check(Mpi.trainingState());
    double Diff = 0;
    for (size_t K = 0; K < F.Params.size(); ++K) {
      double DK = 0;
      for (int64_t I = 0; I < SN[K].numElements(); ++I)
        DK = std::max(DK, std::fabs(SN[K].getF(I) - SM[K].getF(I)));
      Diff = std::max(Diff, DK);
    }
    bool Same = sameOnEveryRank(*C, SN);
    expect(Same, "step " + llvm::Twine(Step) + ": ranks differ");
    expect(Diff <= 1e-6, "step " + llvm::Twine(Step) + ": NCCL vs MPI " +
                             std::to_string(Diff));
    expect(std::fabs(RN.Loss - RM.Loss) <= 1e-6 * std::fabs(RM.Loss),
           "step " + llvm::Twine(Step) + ": loss");
    expect(RN.Count == G && RM.Count == G, "count");
    if (C->rank() == 0)
      llvm::outs() << "nccl step " << Step << ": global batch " << G
                   << ", loss " << llvm::format("%.6f", RN.Loss) << " (mpi "
                   << llvm::format("%.6f", RM.Loss) << "), max |nccl - mpi| "
                   << llvm::format("%.3g", Diff) << ", " << Calls
                   << " ncclAllReduce, " << Down << " bytes down (mpi " << MDown
                   << ")" << (Same ? ", ranks bit-identical" : ", RANKS DIFFER")
                   << "\n";
  }
  expect(std::string(dlcFakeCudaViolations()).empty(),
         "fake CUDA violations: " + llvm::Twine(dlcFakeCudaViolations()));
  expect(std::string(dlcFakeNcclViolations()).empty(),
         "fake NCCL violations: " + llvm::Twine(dlcFakeNcclViolations()));
}

/// Synchronized batch norm on the GPU: see the file comment.
void syncBatchNorm(std::shared_ptr<Communicator> C) {
  auto M = Check(dist_test::bnCnn());
  const Function &F = *M->Functions[0];
  auto opts = [&](const char *Device, const char *Backend) {
    TrainerOptions O = options(C, Device, Backend);
    O.SyncBatchNorm = true;
    O.BucketBytes = 4 << 10;
    return O;
  };
  Trainer Nccl = Check(Trainer::create(F, opts("cuda", "nccl")));
  Trainer Host = Check(Trainer::create(F, opts("cuda", "mpi")));
  Trainer Emu = Check(Trainer::create(F, opts("cuda-emu", "mpi")));
  Trainer Cpu = Check(Trainer::create(F, opts("cpu", "mpi")));
  std::vector<TensorType> Types;
  for (const auto &P : F.Params)
    Types.push_back(P->Type);
  // Running statistics are not summed under sync-bn: only the gradients.
  std::vector<TensorType> Grads;
  for (const auto &P : F.Params)
    if (!llvm::StringRef(P->Name).starts_with("m") &&
        !llvm::StringRef(P->Name).starts_with("v"))
      Grads.push_back(P->Type);
  size_t Buckets = gradientBuckets(Grads, 4 << 10).size();
  const int64_t Sizes[] = {64, 33, 64, 64};
  auto [X, Y] = data(225, 12, 21);
  int64_t Begin = 0;
  for (int Step = 1; Step <= 4; ++Step) {
    auto [B, E] = shardRange(Begin, Begin + Sizes[Step - 1], C->rank(),
                             C->size());
    Tensor XS = rows(X, B, E), YS = rows(Y, B, E);
    Begin += Sizes[Step - 1];
    uint64_t Calls0 = dlcFakeNcclCalls("ncclAllReduce"),
             Down0 = dlcFakeCudaBytes(1);
    StepResult RN = Check(Nccl.step(XS, YS));
    uint64_t Calls = dlcFakeNcclCalls("ncclAllReduce") - Calls0,
             Down = dlcFakeCudaBytes(1) - Down0;
    uint64_t HDown0 = dlcFakeCudaBytes(1);
    StepResult RH = Check(Host.step(XS, YS));
    uint64_t HDown = dlcFakeCudaBytes(1) - HDown0;
    StepResult RE = Check(Emu.step(XS, YS));
    StepResult RC = Check(Cpu.step(XS, YS));
    std::vector<Tensor> SC = Check(Cpu.trainingState());
    double Diff[3] = {0, 0, 0};
    const Trainer *Ts[3] = {&Nccl, &Host, &Emu};
    for (int T = 0; T < 3; ++T) {
      std::vector<Tensor> S = Check(Ts[T]->trainingState());
      for (size_t K = 0; K < F.Params.size(); ++K)
        for (int64_t I = 0; I < S[K].numElements(); ++I)
          Diff[T] = std::max(Diff[T], std::fabs(S[K].getF(I) - SC[K].getF(I)));
    }
    bool Same = sameOnEveryRank(*C, Check(Nccl.trainingState()));
    expect(Same, "sync-bn step " + llvm::Twine(Step) + ": ranks differ");
    for (int T = 0; T < 3; ++T)
      expect(Diff[T] <= 1e-5, "sync-bn step " + llvm::Twine(Step) +
                                  ": trainer " + llvm::Twine(T) +
                                  " differs from the CPU by " +
                                  std::to_string(Diff[T]));
    for (const StepResult *R : {&RN, &RH, &RE})
      expect(std::fabs(R->Loss - RC.Loss) <= 1e-5 * std::fabs(RC.Loss),
             "sync-bn step " + llvm::Twine(Step) + ": loss");
    // The batch norms' sums went through NCCL too, on the device: more
    // sums than gradient buckets, and only the loss and count came down.
    expect(Calls > Buckets, "sync-bn step " + llvm::Twine(Step) + ": " +
                                llvm::Twine(Calls) + " ncclAllReduce for " +
                                llvm::Twine(Buckets) + " buckets");
    expect(Down <= 16, "sync-bn step " + llvm::Twine(Step) +
                           ": the NCCL step downloaded " + llvm::Twine(Down) +
                           " bytes");
    expect(HDown > Down, "the MPI step brings the sums to the host");
    if (C->rank() == 0)
      llvm::outs() << "sync-bn step " << Step << ": global batch "
                   << Sizes[Step - 1] << ", loss "
                   << llvm::format("%.6f", RN.Loss) << " (cpu "
                   << llvm::format("%.6f", RC.Loss)
                   << "), max |gpu - cpu| nccl "
                   << llvm::format("%.3g", Diff[0]) << ", mpi "
                   << llvm::format("%.3g", Diff[1]) << ", emu "
                   << llvm::format("%.3g", Diff[2]) << ", " << Calls
                   << " ncclAllReduce, " << Down << " bytes down"
                   << (Same ? ", ranks bit-identical" : ", RANKS DIFFER")
                   << "\n";
  }
  expect(std::string(dlcFakeCudaViolations()).empty(),
         "fake CUDA violations: " + llvm::Twine(dlcFakeCudaViolations()));
  expect(std::string(dlcFakeNcclViolations()).empty(),
         "fake NCCL violations: " + llvm::Twine(dlcFakeNcclViolations()));
}

/// Trains with NCCL until a step fails: prints the error and ends every
/// rank, as dlc train does.
void failing(std::shared_ptr<Communicator> C, const char *Case) {
  std::unique_ptr<Module> M;
  const Function &F = kerasCnn(M);
  TrainerOptions O = options(C, "cuda", "nccl");
  O.CommTimeoutSeconds = 2;
  std::string What = Case;
  if (What == "error" && C->rank() == 1)
    dlcFakeNcclFailCall("ncclAllReduce", 3, 2);
  if (What == "async" && C->rank() == 0)
    dlcFakeNcclAsyncErrorAt(3, 6);
  if (What == "hang" && C->rank() == 1)
    dlcFakeNcclHangCall(3);
  if (What == "init-hang" && C->rank() == 1)
    dlcFakeNcclHangInit();
  Trainer T = Check(Trainer::create(F, O));
  auto [X, Y] = data(64, 28, 5);
  for (int Step = 1; Step <= 10; ++Step) {
    auto [B, E] = shardRange(0, 64, C->rank(), C->size());
    auto R = T.step(rows(X, B, E), rows(Y, B, E));
    if (!R) {
      // One write: the other rank prints at the same time.
      llvm::errs() << ("NcclTrainCheck: " + C->describe() + ": " +
                       errText(R.takeError()) + "\n");
      llvm::errs().flush();
      C->abort(1);
    }
    llvm::outs() << C->describe() << ": step " << Step << " done\n";
    llvm::outs().flush();
  }
  llvm::outs() << "FAILED: no step failed\n";
  ++Failures;
}

void missing(std::shared_ptr<Communicator> C) {
  std::unique_ptr<Module> M;
  const Function &F = kerasCnn(M);
  auto T = Trainer::create(F, options(C, "cuda", "nccl"));
  expect(!T, "comm nccl without NCCL should fail");
  if (!T) {
    std::string E = errText(T.takeError());
    if (C->rank() == 0)
      llvm::outs() << "missing: " << E << "\n";
    expect(E.find("error: NCCL not found (DLC_NCCL_LIBRARY=/nonexistent/"
                  "libnccl.so.2: ") == 0 &&
               E.find("pip install nvidia-nccl-cu12") != std::string::npos,
           "the error: " + E);
  }
  Trainer A = Check(Trainer::create(F, options(C, "cuda", "auto")));
  if (C->rank() == 0)
    llvm::outs() << "auto: " << A.commNote() << "\n";
  expect(A.commNote().find("gradient sums: MPI through the host (NCCL: NCCL "
                           "not found") == 0,
         "the note: " + A.commNote());
  auto [X, Y] = data(16, 28, 5);
  auto [B, E] = shardRange(0, 16, C->rank(), C->size());
  StepResult R = Check(A.step(rows(X, B, E), rows(Y, B, E)));
  expect(R.Count == 16, "auto step count");
}

void emulated(std::shared_ptr<Communicator> C) {
  std::unique_ptr<Module> M;
  const Function &F = kerasCnn(M);
  auto T = Trainer::create(F, options(C, "cuda-emu", "nccl"));
  expect(!T, "comm nccl on cuda-emu should fail");
  if (!T) {
    std::string E = errText(T.takeError());
    if (C->rank() == 0)
      llvm::outs() << "emu: " << E << "\n";
    expect(E == "error: comm \"nccl\" sums gradients in GPU memory and needs "
                "device \"cuda\": the CPU emulation of a GPU (cuda-emu) "
                "cannot use NCCL; use comm \"mpi\" or \"auto\"",
           "the error: " + E);
  }
  Trainer A = Check(Trainer::create(F, options(C, "cuda-emu", "auto")));
  expect(A.commNote() == "gradient sums: MPI through the host",
         "the note: " + A.commNote());
  auto [X, Y] = data(16, 28, 5);
  auto [B, E] = shardRange(0, 16, C->rank(), C->size());
  StepResult R = Check(A.step(rows(X, B, E), rows(Y, B, E)));
  expect(R.Count == 16, "emu step count");
}

} // namespace

int main(int Argc, char **Argv) {
  if (Argc != 2) {
    llvm::errs() << "usage: NcclTrainCheck match|error|async|hang|init-hang|"
                    "missing|emu\n";
    return 2;
  }
  std::string Case = Argv[1];
  setGpuCodegen(jitgpu::codegen);
  MpiOptions MO;
  MO.TimeoutSeconds = 60;
  std::shared_ptr<Communicator> C = Check(createMpiCommunicator(MO));
  if (Case == "match")
    match(C);
  else if (Case == "sync-bn")
    syncBatchNorm(C);
  else if (Case == "error" || Case == "async" || Case == "hang" ||
           Case == "init-hang")
    failing(C, Case.c_str());
  else if (Case == "missing")
    missing(C);
  else if (Case == "emu")
    emulated(C);
  else {
    llvm::errs() << "unknown case " << Case << "\n";
    return 2;
  }
  double Bad = Failures;
  Check(C->allReduceSum(llvm::MutableArrayRef<double>(&Bad, 1)));
  if (C->rank() == 0 && Bad == 0)
    llvm::outs() << "all checks passed on " << C->size() << " ranks\n";
  return Bad == 0 ? 0 : 1;
}
