// dlc::Trainer's data-parallel step: this rank's gradients, their sum over
// the ranks (weighted by each rank's share of the global batch, in
// buckets), then the same update on every rank; and the broadcast that
// makes every rank start from rank 0's parameters and state. On a CUDA
// device the gradients are summed there with NCCL (when it loads, or when
// asked), else they go through the host for MPI's sum.
#include "api/TrainerImpl.h"

#include "interp/Collective.h"

#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/ScopeExit.h"

#include <chrono>

using namespace dlc;

namespace {
/// The communicator as the collective ops of a graph see it (synchronized
/// batch norm's all_reduce_sum). With NCCL, the GPU executor's sums of
/// device buffers stay on the device.
class CommunicatorHook final : public CollectiveHook {
public:
  explicit CommunicatorHook(Communicator &C, NcclCommunicator *N = nullptr)
      : C(C), Nccl(N) {}
  llvm::Error allReduceSum(llvm::MutableArrayRef<float> Data) override {
    return C.allReduceSum(Data);
  }
  llvm::Error allReduceSum(llvm::MutableArrayRef<double> Data) override {
    return C.allReduceSum(Data);
  }
  llvm::Expected<bool> allReduceSumOnDevice(uint64_t Addr, size_t Count,
                                            DType Elem) override {
    if (!Nccl)
      return false;
    if (auto E = Nccl->allReduceScaled(Addr, Count, Elem, 1.0))
      return std::move(E);
    if (auto E = Nccl->wait("the sums of synchronized batch norm"))
      return std::move(E);
    return true;
  }

private:
  Communicator &C;
  NcclCommunicator *Nccl;
};
} // namespace

llvm::Error Trainer::Impl::syncSlots(llvm::MutableArrayRef<Tensor> Slots,
                                     int64_t &StepCount) {
  // What every rank must agree on: the slots' types, and the options that
  // decide which collectives a step makes (a blocking and a non-blocking
  // sum never match in MPI; buckets of other sizes do not add up).
  std::string Types;
  for (const Tensor &T : Slots)
    Types += T.type().str() + ";";
  Types += "|" + std::to_string(Opts.BucketBytes) +
           (Opts.OverlapComm ? "|overlap" : "|blocking") +
           (G.SyncBatchNorm ? "|sync-bn" : "|local-bn") + "|comm " +
           Opts.CommBackend;
  int64_t Head[2] = {int64_t(llvm::hash_value(Types)), StepCount};
  int64_t Mine = Head[0];
  if (auto E = Comm->broadcast(
          llvm::MutableArrayRef<uint8_t>(reinterpret_cast<uint8_t *>(Head),
                                         sizeof Head),
          0))
    return E;
  if (Head[0] != Mine)
    return makeError(Comm->describe() +
                     ": the model's parameters, the optimizer state or the "
                     "data-parallel options (sync-bn, overlap, bucket size, "
                     "comm) differ from rank 0's (another model or "
                     "optimizer?)");
  for (Tensor &T : Slots)
    if (auto E = Comm->broadcast(
            llvm::MutableArrayRef<uint8_t>(T.data(), T.byteSize()), 0))
      return E;
  StepCount = Head[1];
  return llvm::Error::success();
}

/// Zeros shaped like every parameter: an empty shard's gradients.
static std::vector<Tensor> zerosLike(llvm::ArrayRef<TensorType> Types) {
  std::vector<Tensor> Z;
  for (const TensorType &T : Types) {
    llvm::SmallVector<int64_t, 4> Shape;
    for (const Dim &D : T.dims())
      Shape.push_back(D.size());
    Z.emplace_back(T.elem(), Shape);
  }
  return Z;
}

/// Runs @train_gradients on this rank's (non-empty) shard: returns a slot
/// per parameter (gradient or new running statistic) on the host and sets
/// Sums to (loss x examples, correct). Slot K with SumIndex[K] >= 0 is
/// handed to Sum as soon as the JIT's run has written it (overlap), or
/// left for Sum.finish.
llvm::Expected<std::vector<Tensor>>
Trainer::Impl::localGradients(const Tensor &X, Tensor Labels, double Sums[2],
                              OverlappedSum &Sum,
                              llvm::ArrayRef<int> SumIndex) {
  int64_t N = X.shape()[0];
  Tensor Seed(DType::I64, {}); // distinct dropout masks per rank and step
  Seed.setI(0, Steps * Comm->size() + Comm->rank());
  std::vector<Tensor> Out;
  if (GradG) {
    std::vector<GpuTensor> In = {X, std::move(Labels)};
    for (size_t K = 0; K < NumParams; ++K)
      In.push_back(GArgs[2 + K]);
    In.push_back(std::move(Seed));
    llvm::SmallVector<bool, 16> Keep(NumParams + 2, false); // all to the host
    // Synchronized batch norm's sums: through the host (MPI).
    CommunicatorHook Hook(*Comm);
    CollectiveScope Scope(&Hook);
    auto R = GradG->run(In, Keep);
    if (!R)
      return R.takeError();
    for (GpuTensor &T : *R)
      Out.push_back(std::move(T.Host));
  } else {
    // The parameters move into the inputs and back: nothing is copied.
    std::vector<Tensor> In;
    In.push_back(X);
    In.push_back(std::move(Labels));
    for (size_t K = 0; K < NumParams; ++K)
      In.push_back(std::move(Args[2 + K]));
    In.push_back(std::move(Seed));
    // Synchronized batch norm's sums run on this thread, inside the run.
    CommunicatorHook Hook(*Comm);
    CollectiveScope Scope(&Hook);
    auto OnOutput = [&](unsigned O, const uint8_t *Data,
                        size_t Bytes) -> llvm::Error {
      if (O < 2 || SumIndex[O - 2] < 0)
        return llvm::Error::success();
      return Sum.ready(unsigned(SumIndex[O - 2]), Data, Bytes);
    };
    auto R = GradC ? GradC->run(In, nullptr, nullptr,
                                Opts.OverlapComm ? OutputReadyFn(OnOutput)
                                                 : OutputReadyFn())
                   : interpret(*GradF, In);
    for (size_t K = 0; K < NumParams; ++K)
      Args[2 + K] = std::move(In[2 + K]);
    if (!R)
      return R.takeError();
    Out = std::move(*R);
  }
  Sums[0] = Out[0].getF(0) * double(N);
  Sums[1] = double(Out[1].getI(0));
  Out.erase(Out.begin(), Out.begin() + 2);
  return std::move(Out);
}

/// Runs @apply_update on the summed slots: the new parameters and state
/// replace the old ones (on the device, on a GPU).
llvm::Error Trainer::Impl::applySummed(std::vector<Tensor> Slots) {
  size_t NumState = Args.size() - 3; // parameters and optimizer state
  Tensor StepT(DType::I64, {});
  StepT.setI(0, Steps);
  if (ApplyG) { // the sums go up to the device, and the update runs there
    std::vector<GpuTensor> OnDevice;
    for (Tensor &T : Slots)
      OnDevice.push_back(std::move(T));
    return applySummedOnDevice(std::move(OnDevice));
  }
  std::vector<Tensor> In;
  for (size_t K = 0; K < NumState; ++K)
    In.push_back(std::move(Args[2 + K]));
  for (Tensor &T : Slots)
    In.push_back(std::move(T));
  In.push_back(std::move(StepT));
  auto Out = run(*ApplyF, ApplyC.get(), In);
  if (!Out) {
    for (size_t K = 0; K < NumState; ++K)
      Args[2 + K] = std::move(In[K]);
    return Out.takeError();
  }
  for (size_t K = 0; K < NumState; ++K)
    Args[2 + K] = std::move((*Out)[K]);
  return llvm::Error::success();
}

llvm::Error Trainer::Impl::setUpSums(DeviceKind Device) {
  if (Device == DeviceKind::Cpu) {
    CommNote = "gradient sums: MPI";
    return llvm::Error::success();
  }
  if (Device == DeviceKind::CudaEmu || Opts.CommBackend == "mpi") {
    // (comm "nccl" with cuda-emu was refused before: no collective here.)
    CommNote = "gradient sums: MPI through the host";
    return llvm::Error::success();
  }
  NcclOptions NO;
  NO.TimeoutSeconds = Opts.CommTimeoutSeconds;
  auto N = NcclCommunicator::create(*Comm, gpu()->pool()->deviceRef(), NO);
  if (!N) {
    if (Opts.CommBackend == "nccl")
      return N.takeError();
    llvm::StringRef Why = "";
    std::string Text = llvm::toString(N.takeError());
    Why = Text;
    Why.consume_front("error: ");
    CommNote = "gradient sums: MPI through the host (NCCL: " + Why.str() + ")";
    return llvm::Error::success();
  }
  Nccl = std::move(*N);
  CommNote = "gradient sums: " + Nccl->describe() + " on the GPU";
  return llvm::Error::success();
}

/// Runs @train_gradients on this rank's (non-empty) shard with every slot
/// kept on the device; sets Sums to (loss x examples, correct).
llvm::Expected<std::vector<GpuTensor>>
Trainer::Impl::deviceGradients(const Tensor &X, Tensor Labels,
                               double Sums[2]) {
  int64_t N = X.shape()[0];
  Tensor Seed(DType::I64, {}); // distinct dropout masks per rank and step
  Seed.setI(0, Steps * Comm->size() + Comm->rank());
  std::vector<GpuTensor> In = {X, std::move(Labels)};
  for (size_t K = 0; K < NumParams; ++K)
    In.push_back(GArgs[2 + K]);
  In.push_back(std::move(Seed));
  llvm::SmallVector<bool, 16> Keep(NumParams + 2, true);
  Keep[0] = Keep[1] = false; // the loss and count come to the host
  // Synchronized batch norm's sums: with NCCL, on the device.
  CommunicatorHook Hook(*Comm, Nccl.get());
  CollectiveScope Scope(&Hook);
  auto R = GradG->run(In, Keep);
  if (!R)
    return R.takeError();
  Sums[0] = (*R)[0].Host.getF(0) * double(N);
  Sums[1] = double((*R)[1].Host.getI(0));
  R->erase(R->begin(), R->begin() + 2);
  return std::move(*R);
}

llvm::Error Trainer::Impl::applySummedOnDevice(std::vector<GpuTensor> Slots) {
  size_t NumState = Args.size() - 3; // parameters and optimizer state
  Tensor StepT(DType::I64, {});
  StepT.setI(0, Steps);
  std::vector<GpuTensor> In(GArgs.begin() + 2, GArgs.begin() + 2 + NumState);
  for (GpuTensor &T : Slots)
    In.push_back(std::move(T));
  In.push_back(std::move(StepT));
  llvm::SmallVector<bool, 16> Keep(NumState, true);
  auto Out = ApplyG->run(In, Keep);
  if (!Out)
    return Out.takeError();
  for (size_t K = 0; K < NumState; ++K)
    GArgs[2 + K] = std::move((*Out)[K]);
  return llvm::Error::success();
}

/// The NCCL step: the gradients stay on the device, summed there in the
/// host path's buckets with its scaling (x * Scale, then the sum).
static llvm::Error sumOnDevice(NcclCommunicator &C,
                               std::vector<GpuTensor> &Slots,
                               llvm::ArrayRef<int> SumIndex, double Scale,
                               size_t BucketBytes, GpuMemoryPool &Pool) {
  std::vector<DeviceTensor *> Ptrs;
  for (size_t K = 0; K < Slots.size(); ++K)
    if (SumIndex[K] >= 0)
      Ptrs.push_back(&Slots[K].Dev);
  return allReduceDeviceTensors(C, Ptrs, Scale, BucketBytes, Pool);
}

llvm::Expected<StepResult> Trainer::Impl::parallelStep(const Tensor &X,
                                                       Tensor Labels) {
  int64_t N = X.shape()[0];
  // The global batch first (the weights of the gradients): examples, and
  // ranks without any.
  double Counts[2] = {double(N), N > 0 ? 0.0 : 1.0};
  if (auto E = Comm->allReduceSum(Counts))
    return std::move(E);
  double Global = Counts[0];
  if (Global < 1)
    return makeError("a training step with no examples on any rank");
  if (G.SyncBatchNorm && Counts[1] > 0) // every rank says the same
    return makeError("synchronized batch norm needs at least one example on "
                     "every rank in every step; this global batch has " +
                     std::to_string(int64_t(Global)) + " examples for " +
                     std::to_string(Comm->size()) + " ranks");
  // The slots summed over the ranks: every gradient, and the running
  // statistics unless batch norm is synchronized (then they are the same
  // on every rank already). Synchronized, the gradients come weighted.
  std::vector<TensorType> Types, Summed;
  std::vector<int> SumIndex;
  for (size_t K = 0; K < NumParams; ++K) {
    Types.push_back(GradG ? GArgs[2 + K].type() : Args[2 + K].type());
    bool Skip = G.SyncBatchNorm && G.RunningSlot[K];
    SumIndex.push_back(Skip ? -1 : int(Summed.size()));
    if (!Skip)
      Summed.push_back(Types.back());
  }
  double Scale = G.SyncBatchNorm ? 1.0 : double(N) / Global;
  if (Nccl) {
    double Sums[2] = {0, 0}; // loss x examples, correct
    std::vector<GpuTensor> Slots;
    if (N > 0) {
      auto R = deviceGradients(X, std::move(Labels), Sums);
      if (!R)
        return R.takeError();
      Slots = std::move(*R);
    } else { // an empty shard adds zeros
      for (Tensor &Z : zerosLike(Types)) {
        auto D = gpu()->upload(Z);
        if (!D)
          return D.takeError();
        Slots.push_back(std::move(*D));
      }
    }
    auto T0 = std::chrono::steady_clock::now();
    if (auto E = sumOnDevice(*Nccl, Slots, SumIndex, Scale, Opts.BucketBytes,
                             *gpu()->pool()))
      return std::move(E);
    if (auto E = Comm->allReduceSum(Sums))
      return std::move(E);
    CommWait +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - T0)
            .count();
    if (auto E = applySummedOnDevice(std::move(Slots)))
      return std::move(E);
    ++Steps;
    return StepResult{Sums[0] / Global, int64_t(Sums[1]), int64_t(Global)};
  }
  OverlappedSum Sum(*Comm, Summed, Scale, Opts.BucketBytes);
  double Sums[2] = {0, 0}; // loss x examples, correct
  std::vector<Tensor> Slots;
  if (N > 0) {
    auto R = localGradients(X, std::move(Labels), Sums, Sum, SumIndex);
    if (!R)
      return R.takeError();
    Slots = std::move(*R);
  } else { // an empty shard adds nothing
    Slots = zerosLike(Types);
  }
  std::vector<Tensor *> Ptrs;
  for (size_t K = 0; K < NumParams; ++K)
    if (SumIndex[K] >= 0)
      Ptrs.push_back(&Slots[K]);
  // Without overlap: the blocking sums after the whole pass (the same
  // buckets and bits).
  auto T0 = std::chrono::steady_clock::now();
  auto Waited = llvm::make_scope_exit([&] {
    CommWait +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - T0)
            .count();
  });
  if (auto E = Opts.OverlapComm
                   ? Sum.finish(Ptrs)
                   : allReduceTensors(*Comm, Ptrs, Scale, Opts.BucketBytes))
    return std::move(E);
  if (auto E = Comm->allReduceSum(Sums))
    return std::move(E);
  if (auto E = applySummed(std::move(Slots)))
    return std::move(E);
  ++Steps;
  return StepResult{Sums[0] / Global, int64_t(Sums[1]), int64_t(Global)};
}
