// `dlc train`: checks every argument, the model and the data, then trains
// with dlc::Trainer epoch by epoch (live progress on a terminal, plain lines
// otherwise), evaluates on the test split after each epoch, and writes the
// trained model and an SVG plot on request. Under mpirun every rank runs
// this: each takes its shard of every global batch (N x --batch) and of the
// test set, and only rank 0 prints and writes files.
#include "Commands.h"
#include "Checkpoint.h"
#include "TrainReport.h"
#include "TrainSetup.h"

#include "api/Model.h"
#include "api/Trainer.h"
#include "ir/Printer.h"
#include "runtime/ThreadPool.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <optional>
#include <chrono>
#include <thread>

using namespace dlc;

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point T) {
  return std::chrono::duration<double>(Clock::now() - T).count();
}

/// Everything checked and loaded, ready to train.
struct Setup {
  TrainModel Model;
  std::string LossLabel;
  TrainerOptions Opts;
  int64_t Epochs = 1, Batch = 32;
  Dataset Train, Test;
  std::optional<Dataset> Val; // --validation-split
  DataFit Fit;
};

llvm::Expected<Setup> prepare(const TrainOptions &O,
                              const std::shared_ptr<Communicator> &Comm) {
  Setup S;
  // Plain values first: they need nothing loaded.
  auto Epochs = parsePositiveInt("--epochs", O.Epochs);
  if (!Epochs)
    return Epochs.takeError();
  auto Batch = parsePositiveInt("--batch", O.Batch);
  if (!Batch)
    return Batch.takeError();
  auto Seed = parseInt("--seed", O.Seed);
  if (!Seed)
    return Seed.takeError();
  auto Threads = parseNonNegativeInt("--threads", O.Threads);
  if (!Threads)
    return Threads.takeError();
  int64_t Limit = -1, TestLimit = -1;
  if (!O.Limit.empty()) {
    auto L = parsePositiveInt("--limit", O.Limit);
    if (!L)
      return L.takeError();
    Limit = *L;
  }
  if (!O.TestLimit.empty()) {
    auto L = parsePositiveInt("--test-limit", O.TestLimit);
    if (!L)
      return L.takeError();
    TestLimit = *L;
  }
  auto Opt = parseOptimizer(O.Optimizer);
  if (!Opt)
    return Opt.takeError();
  S.Opts.Optimizer.Kind = *Opt;
  if (!O.LearningRate.empty()) {
    auto LR = parsePositiveNumber("--lr", O.LearningRate);
    if (!LR)
      return LR.takeError();
    S.Opts.Optimizer.LearningRate = *LR;
  }
  if (!O.Momentum.empty()) {
    auto Mu = parsePositiveNumber("--momentum", O.Momentum);
    if (!Mu)
      return Mu.takeError();
    if (*Mu >= 1)
      return makeError("--momentum must be below 1, got " + O.Momentum);
    S.Opts.Optimizer.Momentum = *Mu;
  }
  if (!O.BatchNormMomentum.empty()) {
    double Mu;
    if (llvm::StringRef(O.BatchNormMomentum).getAsDouble(Mu) ||
        !(Mu >= 0 && Mu < 1))
      return makeError("--bn-momentum must be a number in [0, 1) (the weight "
                       "of the old running statistics; PyTorch's momentum "
                       "0.1 is 0.9), got '" + O.BatchNormMomentum + "'");
    S.Opts.BatchNormMomentum = Mu;
  }
  if (!O.WeightDecay.empty()) {
    auto WD = parsePositiveNumber("--weight-decay", O.WeightDecay);
    if (!WD)
      return WD.takeError();
    S.Opts.Optimizer.WeightDecay = *WD;
  }
  if (O.Engine != "jit" && O.Engine != "interp")
    return makeError("--engine must be jit or interp, got '" + O.Engine + "'");
  if (O.Device != "cpu" && O.Device != "cuda" && O.Device != "cuda-emu")
    return makeError("--device must be cpu, cuda or cuda-emu, got '" +
                     O.Device + "'");
  if (O.Precision != "fp32" && O.Precision != "tf32" && O.Precision != "bf16")
    return makeError("--precision must be fp32, tf32 or bf16, got '" +
                     O.Precision + "'");
  if (O.Precision != "fp32" && O.Device == "cpu")
    return makeError("--precision " + O.Precision + " is for GPU tensor cores: "
                     "use --device cuda or cuda-emu, or --precision fp32");
  // Only rank 0 writes files, so only its directories must exist (the
  // other ranks may run on machines without them).
  bool Writes = Comm->rank() == 0;
  if (!O.Output.empty() && Writes)
    if (auto E = checkOutputPath(O.Output))
      return std::move(E);
  if (O.KeepBest && O.Output.empty())
    return makeError("--keep-best keeps the best epoch's model in -o FILE: "
                     "give -o");
  if (!O.Plot.empty()) {
    if (!llvm::StringRef(O.Plot).ends_with(".svg"))
      return makeError("--plot '" + O.Plot + "': the plot is an SVG file "
                       "(name it .svg)");
    llvm::StringRef Dir = llvm::sys::path::parent_path(O.Plot);
    if (!Dir.empty() && Writes && !llvm::sys::fs::is_directory(Dir))
      return makeError("--plot '" + O.Plot + "': directory '" + Dir +
                       "' does not exist");
  }

  auto M = loadTrainModel(O.ModelFile, O.ModelName, *Seed);
  if (!M)
    return M.takeError();
  S.Model = std::move(*M);
  S.LossLabel = O.Loss.empty() ? defaultLossName(*S.Model.F).str() : O.Loss;
  auto Loss = parseLoss(S.LossLabel);
  if (!Loss)
    return Loss.takeError();
  S.Opts.Loss = *Loss;

  auto Src = parseDataSpec(O.Data);
  if (!Src)
    return Src.takeError();
  Normalization Norm;
  if (!O.Normalize.empty()) {
    auto [MeanText, StdText] = llvm::StringRef(O.Normalize).split(',');
    if (MeanText.getAsDouble(Norm.Mean) || StdText.getAsDouble(Norm.Std) ||
        !(Norm.Std > 0) || !std::isfinite(Norm.Mean) || !std::isfinite(Norm.Std))
      return makeError("--normalize takes MEAN,STD with STD > 0 (for example "
                       "0.1307,0.3081), got '" + O.Normalize + "'");
  }
  auto Train = loadSplit(*Src, Split::Train, Norm, Limit);
  if (!Train)
    return Train.takeError();
  auto Test = loadSplit(*Src, Split::Test, Norm, TestLimit);
  if (!Test)
    return Test.takeError();
  S.Train = std::move(*Train);
  S.Test = std::move(*Test);
  if (!O.ValidationSplit.empty()) {
    double F;
    if (llvm::StringRef(O.ValidationSplit).getAsDouble(F))
      return makeError("--validation-split must be a number, got '" +
                       O.ValidationSplit + "'");
    auto Val = splitOffValidation(S.Train, F);
    if (!Val)
      return Val.takeError();
    S.Val = std::move(*Val);
  }
  auto Fit = checkModelFits(*S.Model.F, S.Train, S.Opts.Loss, S.LossLabel);
  if (!Fit)
    return Fit.takeError();
  S.Fit = *Fit;
  if (S.Fit.StaticBatch > 0 && S.Fit.StaticBatch != *Batch)
    return makeError("--batch " + llvm::Twine(*Batch) + " does not match the "
                     "model's fixed batch size " +
                     llvm::Twine(S.Fit.StaticBatch) + " (input " +
                     S.Model.F->Inputs[0]->Type.str() + ")");
  if (S.Fit.StaticBatch > 0 && (S.Train.size() < S.Fit.StaticBatch ||
                                S.Test.size() < S.Fit.StaticBatch))
    return makeError("the model's fixed batch size " +
                     llvm::Twine(S.Fit.StaticBatch) +
                     " is larger than the training or test data");
  S.Epochs = *Epochs;
  S.Batch = *Batch;
  S.Opts.Engine = O.Engine;
  S.Opts.Device = O.Device;
  S.Opts.Precision = O.Precision;
  S.Opts.OptLevel = O.OptLevel;
  S.Opts.Threads = unsigned(*Threads);
  S.Opts.Seed = *Seed;
  S.Opts.OnWarning = [](const std::string &W) { llvm::errs() << W << "\n"; };
  S.Opts.CommBackend = O.Comm;
  double Timeout = 600;
  if (!llvm::StringRef(O.CommTimeout).getAsDouble(Timeout)) // checked before
    S.Opts.CommTimeoutSeconds = Timeout;
  if (Comm->size() > 1) {
    S.Opts.Comm = Comm;
    S.Opts.SyncBatchNorm = O.SyncBN;
    S.Opts.OverlapComm = O.CommOverlap;
    // The ranks on this machine share its cores.
    if (S.Opts.Threads == 0)
      S.Opts.Threads = std::max(1u, std::thread::hardware_concurrency() /
                                        unsigned(localRanks()));
  }
  return std::move(S);
}

/// Loss (weighted by batch size) and accuracy over a data set, in batches
/// of Batch (a model with a fixed batch size skips the last partial one).
/// With several ranks each evaluates every Size-th batch and the sums are
/// reduced.
llvm::Expected<StepResult> evaluateAll(const Trainer &T, const Dataset &D,
                                       const Setup &S, Communicator &C) {
  int64_t Size = S.Fit.StaticBatch > 0 ? S.Fit.StaticBatch
                                       : std::max<int64_t>(S.Batch, 500);
  std::vector<int64_t> Order = epochOrder(D.size(), 0, 0, /*Shuffle=*/false);
  double Sums[3] = {0, 0, 0}; // loss * count, correct, count
  for (int64_t K = C.rank(); K < numBatches(D.size(), Size); K += C.size()) {
    Batch B = makeBatch(D, Order, K, Size);
    if (S.Fit.StaticBatch > 0 && B.Labels.numElements() != S.Fit.StaticBatch)
      break;
    auto R = T.evaluate(imagesForModel(B.Images, S.Model.F->Inputs[0]->Type),
                        targetsForLoss(B.Labels, S.Opts.Loss, D.NumClasses));
    if (!R)
      return R.takeError();
    Sums[0] += R->Loss * double(R->Count);
    Sums[1] += double(R->Correct);
    Sums[2] += double(R->Count);
  }
  if (auto E = C.allReduceSum(Sums))
    return std::move(E);
  StepResult Sum;
  Sum.Correct = int64_t(Sums[1]);
  Sum.Count = int64_t(Sums[2]);
  Sum.Loss = Sum.Count ? Sums[0] / Sums[2] : 0;
  return Sum;
}

double ratio(int64_t A, int64_t B) { return B ? double(A) / double(B) : 0; }

/// What a checkpoint must share with the run that resumes it.
std::string recipe(const Setup &S, const TrainOptions &O) {
  const OptimizerConfig &C = S.Opts.Optimizer;
  return S.Model.Label + " | data " + O.Data + " limit " +
         (O.Limit.empty() ? "all" : O.Limit) + " normalize " +
         (O.Normalize.empty() ? "none" : O.Normalize) + " validation " +
         (O.ValidationSplit.empty() ? "none" : O.ValidationSplit) +
         " | loss " +
         S.LossLabel + " | " + optimizerName(C.Kind).str() + " lr " +
         formatDouble(C.LearningRate) + " momentum " +
         formatDouble(C.Momentum) + " weight-decay " +
         formatDouble(C.WeightDecay) + " | batch " + std::to_string(S.Batch) +
         " seed " + std::to_string(S.Opts.Seed) +
         (S.Opts.Comm ? " ranks " + std::to_string(S.Opts.Comm->size()) : "") +
         (S.Opts.SyncBatchNorm ? " sync-bn" : "");
}

} // namespace

int dlc::trainCommand(const TrainOptions &O) {
  double Timeout = 0;
  if (llvm::StringRef(O.CommTimeout).getAsDouble(Timeout) || !(Timeout >= 0))
    llvm::ExitOnError()(makeError("--comm-timeout must be a number of seconds "
                                  ">= 0, got '" + O.CommTimeout + "'"));
  // Every rank first joins the others, so that any error after this point
  // ends every rank (RankCheck) instead of leaving them waiting.
  std::shared_ptr<Communicator> Comm =
      llvm::ExitOnError()(trainCommunicator(O.Distributed, Timeout));
  RankCheck Check(*Comm);
  int Rank = Comm->rank(), Ranks = Comm->size();
  Setup S = Check(prepare(O, Comm));
  std::string Recipe = recipe(S, O);
  // A checkpoint to resume is checked before anything is compiled: the same
  // model, data and recipe make the run go on bit for bit.
  std::optional<Checkpoint> Resumed;
  if (!O.Resume.empty()) {
    Resumed = Check(loadCheckpoint(O.Resume));
    if (Resumed->Recipe != Recipe)
      Check(makeError("--resume " + O.Resume +
                      ": the checkpoint was trained with\n  " +
                      Resumed->Recipe + "\nbut this run asks for\n  " +
                      Recipe));
    if (Resumed->Epoch >= S.Epochs)
      Check(makeError("--resume " + O.Resume + ": the checkpoint has " +
                      std::to_string(Resumed->Epoch) +
                      " epoch(s) done; ask for more with --epochs"));
  }
  Trainer T = Check(Trainer::create(*S.Model.F, S.Opts));
  if (Rank == 0 && Ranks > 1 && S.Opts.Device != "cpu")
    llvm::errs() << "dlc train: " << T.commNote() << "\n";
  // Only rank 0 prints and writes files.
  llvm::raw_ostream &OS = Rank == 0 ? llvm::outs() : llvm::nulls();
  if (O.PrintIR) {
    PrintOptions PO;
    PO.ElideTensorsAbove = WeightsInlineLimit;
    OS << ElidedWeightsNote;
    printFunction(T.trainStepFunction(), OS, PO);
  }

  // mpirun hands each rank a pseudo-terminal whatever its own output is:
  // with several ranks, plain progress lines.
  bool Live = Ranks == 1 && OS.is_displayed();
  OS << "training " << S.Model.Label << " on " << O.Data << ": "
     << S.Train.size() << " training"
     << (S.Val ? ", " + std::to_string(S.Val->size()) + " validation" : "")
     << " and " << S.Test.size() << " test images, loss " << S.LossLabel << ", optimizer "
     << optimizerName(S.Opts.Optimizer.Kind) << " (lr "
     << formatDouble(S.Opts.Optimizer.LearningRate) << "), batch " << S.Batch;
  if (Ranks > 1)
    OS << " per rank x " << Ranks << " ranks (global batch "
       << S.Batch * Ranks << ", " << S.Opts.Threads
       << (S.Opts.Threads == 1 ? " thread" : " threads") << " per rank"
       << (S.Opts.SyncBatchNorm ? ", synchronized batch norm" : "") << ")";
  OS << ", " << S.Epochs << (S.Epochs == 1 ? " epoch" : " epochs") << "\n";
  OS.flush();

  std::vector<EpochStats> History;
  int64_t FirstEpoch = 1;
  if (Resumed) {
    Check(T.restoreTrainingState(std::move(Resumed->State), Resumed->Steps));
    History = std::move(Resumed->History);
    FirstEpoch = Resumed->Epoch + 1;
    OS << "resumed from " << O.Resume << " after epoch " << Resumed->Epoch
       << "\n";
    for (const EpochStats &E : History)
      OS << epochLine(E, S.Epochs) << "\n";
  }
  int64_t BestEpoch = 0; // with --keep-best: the epoch -o holds
  const TensorType &InType = S.Model.F->Inputs[0]->Type;
  for (int64_t Epoch = FirstEpoch; Epoch <= S.Epochs; ++Epoch) {
    // One shuffle shared by every rank; global batch K is
    // Order[K * Global, ...), and each rank takes its shard of it.
    std::vector<int64_t> Order = epochOrder(S.Train.size(), S.Opts.Seed, Epoch);
    int64_t Global = S.Batch * Ranks;
    int64_t NB = numBatches(S.Train.size(), Global);
    int64_t Total = S.Train.size();
    if (S.Fit.StaticBatch > 0) { // no partial batch for a fixed size
      NB = S.Train.size() / Global;
      Total = NB * Global;
    }
    double LossSum = 0;
    std::vector<double> StepLosses;
    int64_t Correct = 0, Done = 0;
    Clock::time_point Start = Clock::now(), LastShown = Start;
    for (int64_t K = 0; K < NB; ++K) {
      auto [Begin, End] = shardRange(K * Global,
                                     std::min((K + 1) * Global, Total), Rank,
                                     Ranks);
      Batch B = shardBatch(S.Train, Order, Begin, End);
      StepResult R = Check(
          T.step(imagesForModel(B.Images, InType),
                 targetsForLoss(B.Labels, S.Opts.Loss, S.Train.NumClasses)));
      LossSum += R.Loss * double(R.Count);
      StepLosses.push_back(R.Loss);
      Correct += R.Correct;
      Done += R.Count;
      double Since = std::chrono::duration<double>(Clock::now() - LastShown).count();
      if ((Live && Since > 0.1) || (!Live && Since > 10) || (Live && K + 1 == NB)) {
        LastShown = Clock::now();
        std::string Line = progressLine(Epoch, S.Epochs, Done, Total,
                                        LossSum / double(Done),
                                        ratio(Correct, Done),
                                        double(Done) / secondsSince(Start),
                                        Live ? 30 : 0);
        OS << (Live ? "\r" + Line + "\x1b[K" : Line + "\n");
        OS.flush();
      }
    }
    EpochStats E;
    E.Epoch = Epoch;
    E.Seconds = secondsSince(Start);
    E.TrainLoss = Done ? LossSum / double(Done) : 0;
    E.TrainAccuracy = ratio(Correct, Done);
    E.ImagesPerSecond = E.Seconds > 0 ? double(Done) / E.Seconds : 0;
    E.StepLosses = std::move(StepLosses);
    StepResult TestR = Check(evaluateAll(T, S.Test, S, *Comm));
    E.TestLoss = TestR.Loss;
    E.TestAccuracy = ratio(TestR.Correct, TestR.Count);
    if (S.Val) {
      StepResult ValR = Check(evaluateAll(T, *S.Val, S, *Comm));
      E.ValLoss = ValR.Loss;
      E.ValAccuracy = ratio(ValR.Correct, ValR.Count);
    }
    History.push_back(E);
    OS << (Live ? "\r\x1b[K" : "") << epochLine(E, S.Epochs) << "\n";
    OS.flush();
    if (O.KeepBest) {
      // The validation accuracy when there is a split, else the test one.
      auto Monitored = [&](const EpochStats &X) {
        return S.Val ? X.ValAccuracy : X.TestAccuracy;
      };
      bool Best = llvm::all_of(llvm::ArrayRef(History).drop_back(),
                               [&](const EpochStats &X) {
                                 return Monitored(X) < Monitored(E);
                               });
      if (Best && Rank == 0) {
        std::unique_ptr<Module> Now = Check(T.trainedModel());
        Check(saveTrainedModel(*Now, O.Output));
      }
      if (Best)
        BestEpoch = Epoch;
    }
    if (!O.CheckpointDir.empty() && Rank == 0) {
      Checkpoint C;
      C.Recipe = Recipe;
      C.Epoch = Epoch;
      C.Steps = T.stepsDone();
      C.History = History;
      C.State = Check(T.trainingState());
      std::unique_ptr<Module> Now = Check(T.trainedModel());
      Check(saveCheckpoint(O.CheckpointDir, C, *Now));
    }
  }
  OS << llvm::format("test accuracy: %.4f\n", History.back().TestAccuracy);
  if (Ranks > 1)
    OS << llvm::format("gradient sums: rank 0 waited %.2f s for them after "
                       "its backward passes (%s)\n",
                       T.commWaitSeconds(),
                       llvm::StringRef(T.commNote())
                               .starts_with("gradient sums: NCCL")
                           ? "NCCL in GPU memory, started after the passes"
                       : S.Opts.Device != "cpu"
                           ? "through the host, started after the passes"
                       : O.CommOverlap ? "started during the passes"
                                       : "--comm-overlap=false: started after");
  if (O.Profile && Rank == 0) {
    // The first training batch, in the order of the last epoch.
    std::vector<int64_t> Order = epochOrder(S.Train.size(), S.Opts.Seed, S.Epochs);
    Batch B = shardBatch(S.Train, Order, 0, std::min<int64_t>(S.Batch, S.Train.size()));
    RunProfile P = Check(T.profileStep(
        imagesForModel(B.Images, InType),
        targetsForLoss(B.Labels, S.Opts.Loss, S.Train.NumClasses), 20));
    OS << "\ntraining step, batch " << B.Labels.shape()[0];
    printKernelProfile(P, S.Opts.Threads ? S.Opts.Threads
                                         : rt::ThreadPool::hardwareThreads());
  }

  if (!O.Output.empty() && O.KeepBest) {
    if (BestEpoch)
      OS << "wrote " << O.Output << " (the best epoch, " << BestEpoch << ", by "
         << (S.Val ? "validation" : "test") << " accuracy)\n";
    else // resumed past the best epoch: it was written by the first run
      OS << "kept " << O.Output << ": no epoch of this run beat the best "
         << "before it\n";
  } else if (!O.Output.empty() && Rank == 0) {
    std::unique_ptr<Module> Trained = Check(T.trainedModel());
    Check(saveTrainedModel(*Trained, O.Output));
    OS << "wrote " << O.Output;
    if (!Trained->WeightsFile.empty())
      OS << " (weights in " << Trained->WeightsFile << ")";
    OS << "\n";
  }
  if (!O.Plot.empty() && Rank == 0) {
    std::error_code EC;
    llvm::raw_fd_ostream P(O.Plot, EC);
    if (EC)
      Check(makeError("cannot write '" + O.Plot + "': " + EC.message()));
    P << renderTrainingPlot(
        History, S.Model.Label + " on " + O.Data + ": " + S.LossLabel + ", " +
                     optimizerName(S.Opts.Optimizer.Kind).str() + " lr " +
                     formatDouble(S.Opts.Optimizer.LearningRate) + ", batch " +
                     (Ranks > 1 ? std::to_string(Ranks) + "x" : "") +
                     std::to_string(S.Batch) + ", seed " +
                     std::to_string(S.Opts.Seed));
    P.close();
    if (P.has_error())
      Check(makeError("error writing '" + O.Plot + "'"));
    OS << "wrote " << O.Plot << "\n";
  }
  return 0;
}
