// dlc::Trainer: compiles the training graphs of passes/TrainingStep.h once
// and keeps the parameters and optimizer state between steps. The step's
// outputs (new parameters and state) replace the old tensors by move, so a
// step copies nothing but the batch. With several ranks the step is the
// split one: gradients, their sum over the ranks, then the update.
#include "api/Trainer.h"

#include "api/Device.h"
#include "api/Profile.h"
#include "api/TrainerImpl.h"

#include "codegen/Executor.h"
#include "passes/Pass.h"

using namespace dlc;

Trainer::Trainer(std::unique_ptr<Impl> I) : P(std::move(I)) {}
Trainer::Trainer(Trainer &&) = default;
Trainer &Trainer::operator=(Trainer &&) = default;
Trainer::~Trainer() = default;

llvm::Expected<Trainer> Trainer::create(const Function &Forward,
                                        const TrainerOptions &Opts) {
  if (Opts.Engine != "jit" && Opts.Engine != "interp")
    return makeError("engine must be \"jit\" or \"interp\", got \"" +
                     Opts.Engine + "\"");
  auto Device = parseDevice(Opts.Device);
  if (!Device)
    return Device.takeError();
  auto Prec = parsePrecision(Opts.Precision);
  if (!Prec)
    return Prec.takeError();
  if (auto E = checkPrecision(*Device, *Prec))
    return std::move(E);
  if (*Device != DeviceKind::Cpu && Opts.Engine != "jit")
    return makeError("engine \"interp\" runs on the CPU only: use device "
                     "\"cpu\" or engine \"jit\"");
  if (Opts.CommBackend != "auto" && Opts.CommBackend != "mpi" &&
      Opts.CommBackend != "nccl")
    return makeError("comm must be \"auto\", \"mpi\" or \"nccl\", got \"" +
                     Opts.CommBackend + "\"");
  if (Opts.CommBackend == "nccl" && *Device != DeviceKind::Cuda)
    return makeError(
        std::string("comm \"nccl\" sums gradients in GPU memory and needs "
                    "device \"cuda\"") +
        (*Device == DeviceKind::CudaEmu
             ? ": the CPU emulation of a GPU (cuda-emu) cannot use NCCL; "
               "use comm \"mpi\" or \"auto\""
             : "; use comm \"mpi\" or \"auto\" on the CPU"));
  bool Parallel = Opts.Comm && Opts.Comm->size() > 1;
  auto G = buildTrainingGraphs(Forward, Opts.Loss, Opts.Optimizer, Opts.Seed,
                               Opts.BatchNormMomentum, Parallel,
                               Parallel && Opts.SyncBatchNorm);
  if (!G)
    return G.takeError();
  if (Opts.OnWarning && (!Opts.Comm || Opts.Comm->rank() == 0))
    for (const std::string &W : G->Warnings)
      Opts.OnWarning(W);
  auto I = std::make_unique<Impl>();
  I->Opts = Opts;
  I->G = std::move(*G);
  // The trained model is in inference form, as evaluate and predict run it.
  I->Forward = Forward.clone(Forward.Name);
  setInferenceMode(*I->Forward);
  I->NumParams = Forward.Params.size();
  if (Parallel)
    I->Comm = Opts.Comm;

  // Optimized copies of the functions that run: the step (or its two
  // halves), evaluate and predict.
  std::vector<std::pair<const Function *, const Function **>> Runs;
  if (Parallel)
    Runs = {{I->G.Gradients, &I->GradF}, {I->G.Apply, &I->ApplyF}};
  else
    Runs = {{I->G.Step, &I->StepF}};
  Runs.push_back({I->G.Eval, &I->EvalF});
  Runs.push_back({I->G.Predict, &I->PredictF});
  I->Exec = std::make_unique<Module>();
  for (auto [F, Dst] : Runs)
    I->Exec->Functions.push_back(F->clone(F->Name));
  PassManager PM;
  if (auto E = PM.addPipeline("optimize"))
    return std::move(E);
  if (auto E = PM.run(*I->Exec))
    return std::move(E);
  for (size_t K = 0; K < Runs.size(); ++K)
    *Runs[K].second = I->Exec->Functions[K].get();
  if (*Device != DeviceKind::Cpu) {
    auto Mem = gpuMemory(*Device);
    if (!Mem)
      return Mem.takeError();
    for (auto [F, G] : {std::pair{I->StepF, &I->StepG}, {I->GradF, &I->GradG},
                        {I->ApplyF, &I->ApplyG}, {I->EvalF, &I->EvalG},
                        {I->PredictF, &I->PredictG}}) {
      if (!F)
        continue;
      auto Compiled = compileForGpu(*F, *Device, Opts.OptLevel, *Mem, *Prec);
      if (!Compiled)
        return Compiled.takeError();
      *G = std::move(*Compiled);
    }
  } else if (Opts.Engine == "jit") {
    for (auto [F, C] : {std::pair{I->StepF, &I->StepC}, {I->GradF, &I->GradC},
                        {I->ApplyF, &I->ApplyC}, {I->EvalF, &I->EvalC},
                        {I->PredictF, &I->PredictC}}) {
      if (!F)
        continue;
      auto Compiled = CompiledFunction::compile(*F, Opts.OptLevel, Opts.Threads);
      if (!Compiled)
        return Compiled.takeError();
      *C = std::move(*Compiled);
    }
  }

  // Slots: batch, labels, parameters (initial values), zero state, step.
  I->Args.resize(2);
  for (auto &Init : Forward.ParamInits)
    I->Args.push_back(*Init->getTensor());
  for (unsigned Owner : I->G.StateOf) {
    Tensor Zero(I->Args[2 + Owner].elem(), I->Args[2 + Owner].shape());
    I->Args.push_back(std::move(Zero));
  }
  I->Args.push_back(Tensor(DType::I64, {}));
  if (I->Comm) // rank 0's values everywhere
    if (auto E = I->syncSlots(
            llvm::MutableArrayRef<Tensor>(I->Args).slice(2, I->Args.size() - 3),
            I->Steps))
      return std::move(E);
  if (I->gpu()) { // parameters and state move to the device
    I->GArgs.resize(I->Args.size());
    for (size_t K = 2; K + 1 < I->Args.size(); ++K) {
      auto D = I->gpu()->upload(I->Args[K]);
      if (!D)
        return D.takeError();
      I->GArgs[K] = std::move(*D);
      I->Args[K] = Tensor();
    }
  }
  if (I->Comm)
    if (auto E = I->setUpSums(*Device))
      return std::move(E);
  return Trainer(std::move(I));
}

/// The labels as the graphs take them: class indices are checked and
/// widened to i64; other targets become floats.
llvm::Expected<Tensor> Trainer::Impl::checkLabels(const Tensor &X,
                                                  const Tensor &Labels) const {
  bool Sparse = Opts.Loss == LossKind::SparseCategoricalCrossEntropy ||
                Opts.Loss == LossKind::NegativeLogLikelihood ||
                Opts.Loss == LossKind::CrossEntropy;
  if (X.rank() == 0 || Labels.rank() == 0 || X.shape()[0] != Labels.shape()[0])
    return makeError("the batch and its labels differ in size");
  if (Sparse) {
    if (isFloat(Labels.elem()) || Labels.rank() != 1)
      return makeError("labels for loss '" + lossName(Opts.Loss) +
                       "' must be a vector of integer class indices");
    Tensor L(DType::I64, Labels.shape());
    for (int64_t I = 0; I < Labels.numElements(); ++I) {
      int64_t V = Labels.getI(I);
      if (V < 0 || V >= G.NumClasses)
        return makeError("label " + std::to_string(V) + " at position " +
                         std::to_string(I) + " is out of range: the model has " +
                         std::to_string(G.NumClasses) + " classes");
      L.setI(I, V);
    }
    return std::move(L);
  }
  if (isFloat(Labels.elem()))
    return Labels;
  // Integer targets for a regression loss: as the graph's label type.
  Tensor L(G.Eval->Inputs[1]->Type.elem(), Labels.shape());
  for (int64_t I = 0; I < Labels.numElements(); ++I)
    L.setF(I, double(Labels.getI(I)));
  return std::move(L);
}

llvm::Expected<StepResult> Trainer::step(const Tensor &X, const Tensor &Labels) {
  auto L = P->checkLabels(X, Labels);
  if (!L)
    return L.takeError();
  if (P->Comm)
    return P->parallelStep(X, std::move(*L));
  P->Args[0] = X;
  P->Args[1] = std::move(*L);
  P->Args.back().setI(0, P->Steps);
  if (P->StepG) {
    std::vector<GpuTensor> In = P->GArgs;
    In[0] = std::move(P->Args[0]);
    In[1] = std::move(P->Args[1]);
    In.back() = P->Args.back();
    // Outputs: loss and count to the host, the new state stays.
    llvm::SmallVector<bool, 16> Keep(P->GArgs.size() - 1, true);
    Keep[0] = Keep[1] = false;
    auto Out = P->StepG->run(In, Keep);
    if (!Out)
      return Out.takeError();
    for (size_t I = 2; I < Out->size(); ++I)
      P->GArgs[I] = std::move((*Out)[I]);
    ++P->Steps;
    return StepResult{(*Out)[0].Host.getF(0), (*Out)[1].Host.getI(0),
                      X.shape()[0]};
  }
  auto Out = P->run(*P->StepF, P->StepC.get(), P->Args);
  if (!Out)
    return Out.takeError();
  // Outputs: loss, correct, new params..., new state... in slot order.
  for (size_t I = 2; I < Out->size(); ++I)
    P->Args[I] = std::move((*Out)[I]);
  ++P->Steps;
  return StepResult{(*Out)[0].getF(0), (*Out)[1].getI(0), X.shape()[0]};
}

llvm::Expected<RunProfile> Trainer::profileStep(const Tensor &X,
                                                const Tensor &Labels,
                                                unsigned Runs) const {
  if (P->Comm || P->StepG || !P->StepC)
    return makeError("a step profile needs the JIT on the CPU in one process "
                     "(not the interpreter, a GPU or several ranks)");
  auto L = P->checkLabels(X, Labels);
  if (!L)
    return L.takeError();
  std::vector<Tensor> Args = P->Args;
  Args[0] = X;
  Args[1] = std::move(*L);
  return profileFunction(*P->StepC, Args, Runs);
}

llvm::Expected<StepResult> Trainer::evaluate(const Tensor &X,
                                             const Tensor &Labels) const {
  auto L = P->checkLabels(X, Labels);
  if (!L)
    return L.takeError();
  if (P->EvalG) {
    std::vector<GpuTensor> In = {X, std::move(*L)};
    for (size_t I = 0; I < P->NumParams; ++I)
      In.push_back(P->GArgs[2 + I]);
    auto Out = P->EvalG->run(In, {});
    if (!Out)
      return Out.takeError();
    return StepResult{(*Out)[0].Host.getF(0), (*Out)[1].Host.getI(0),
                      X.shape()[0]};
  }
  std::vector<Tensor> In = {X, std::move(*L)};
  for (size_t I = 0; I < P->NumParams; ++I)
    In.push_back(P->Args[2 + I]);
  auto Out = P->run(*P->EvalF, P->EvalC.get(), In);
  if (!Out)
    return Out.takeError();
  return StepResult{(*Out)[0].getF(0), (*Out)[1].getI(0), X.shape()[0]};
}

llvm::Expected<Tensor> Trainer::predict(const Tensor &X) const {
  if (P->PredictG) {
    std::vector<GpuTensor> In = {X};
    for (size_t I = 0; I < P->NumParams; ++I)
      In.push_back(P->GArgs[2 + I]);
    auto Out = P->PredictG->run(In, {});
    if (!Out)
      return Out.takeError();
    return std::move((*Out)[0].Host);
  }
  std::vector<Tensor> In = {X};
  for (size_t I = 0; I < P->NumParams; ++I)
    In.push_back(P->Args[2 + I]);
  auto Out = P->run(*P->PredictF, P->PredictC.get(), In);
  if (!Out)
    return Out.takeError();
  return std::move((*Out)[0]);
}

llvm::Expected<std::unique_ptr<Module>> Trainer::trainedModel() const {
  auto M = std::make_unique<Module>();
  M->Functions.push_back(P->Forward->clone(P->Forward->Name));
  Function &F = *M->Functions.back();
  for (size_t I = 0; I < P->NumParams; ++I) {
    auto T = std::make_shared<Tensor>(P->Args[2 + I]);
    if (P->gpu()) {
      auto D = P->gpu()->download(P->GArgs[2 + I].Dev);
      if (!D)
        return D.takeError();
      *T = std::move(*D);
    }
    F.ParamInits[I] = Attribute::getTensor(std::move(T));
  }
  return std::move(M);
}

std::unique_ptr<Module> Trainer::currentModel() const {
  auto M = trainedModel();
  if (!M) {
    llvm::consumeError(M.takeError());
    return nullptr;
  }
  return std::move(*M);
}

const Function &Trainer::trainStepFunction() const { return *P->G.Step; }
int64_t Trainer::stepsDone() const { return P->Steps; }
double Trainer::commWaitSeconds() const { return P->CommWait; }
const std::string &Trainer::commNote() const { return P->CommNote; }

llvm::Expected<std::vector<Tensor>> Trainer::trainingState() const {
  // Args: batch, labels, parameters..., state..., step.
  if (!P->gpu())
    return std::vector<Tensor>(P->Args.begin() + 2, P->Args.end() - 1);
  std::vector<Tensor> State;
  for (size_t I = 2; I + 1 < P->GArgs.size(); ++I) { // from the device
    auto T = P->gpu()->download(P->GArgs[I].Dev);
    if (!T)
      return T.takeError();
    State.push_back(std::move(*T));
  }
  return std::move(State);
}

llvm::Error Trainer::restoreTrainingState(std::vector<Tensor> State,
                                          int64_t Steps) {
  size_t Want = P->Args.size() - 3;
  if (State.size() != Want)
    return makeError("the training state holds " +
                     std::to_string(State.size()) + " tensors, this model "
                     "and optimizer need " + std::to_string(Want));
  if (Steps < 0)
    return makeError("the training state's step count is negative");
  for (size_t I = 0; I < Want; ++I) {
    TensorType Have = P->gpu() ? P->GArgs[2 + I].type() : P->Args[2 + I].type();
    if (State[I].type() != Have)
      return makeError("training state tensor " + std::to_string(I) + " is " +
                       State[I].type().str() + " but " + Have.str() +
                       " was expected (another model or optimizer?)");
  }
  if (P->Comm) // rank 0's state and step count everywhere
    if (auto E = P->syncSlots(State, Steps))
      return E;
  if (P->gpu()) { // to the device; nothing changes unless every copy works
    std::vector<DeviceTensor> Dev;
    for (size_t I = 0; I < Want; ++I) {
      auto D = P->gpu()->upload(State[I]);
      if (!D)
        return D.takeError();
      Dev.push_back(std::move(*D));
    }
    for (size_t I = 0; I < Want; ++I)
      P->GArgs[2 + I] = std::move(Dev[I]);
  } else {
    for (size_t I = 0; I < Want; ++I)
      P->Args[2 + I] = std::move(State[I]);
  }
  P->Steps = Steps;
  return llvm::Error::success();
}
int64_t Trainer::numClasses() const { return P->G.NumClasses; }
