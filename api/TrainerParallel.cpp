// dlc::Trainer's data-parallel step: this rank's gradients, their sum over
// the ranks (weighted by each rank's share of the global batch, in
// buckets), then the same update on every rank; and the broadcast that
// makes every rank start from rank 0's parameters and state. On a GPU the
// gradients go through the host for the sum (NCCL would keep them on the
// device; not built).
#include "api/TrainerImpl.h"

#include "llvm/ADT/Hashing.h"

using namespace dlc;

llvm::Error Trainer::Impl::syncSlots(llvm::MutableArrayRef<Tensor> Slots,
                                     int64_t &StepCount) {
  std::string Types;
  for (const Tensor &T : Slots)
    Types += T.type().str() + ";";
  int64_t Head[2] = {int64_t(llvm::hash_value(Types)), StepCount};
  int64_t Mine = Head[0];
  if (auto E = Comm->broadcast(
          llvm::MutableArrayRef<uint8_t>(reinterpret_cast<uint8_t *>(Head),
                                         sizeof Head),
          0))
    return E;
  if (Head[0] != Mine)
    return makeError(Comm->describe() +
                     ": the model's parameters or the optimizer state "
                     "differ from rank 0's (another model or optimizer?)");
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
/// Sums to (loss x examples, correct).
llvm::Expected<std::vector<Tensor>>
Trainer::Impl::localGradients(const Tensor &X, Tensor Labels, double Sums[2]) {
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
    auto R = run(*GradF, GradC.get(), In);
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
  if (ApplyG) {
    std::vector<GpuTensor> In(GArgs.begin() + 2, GArgs.begin() + 2 + NumState);
    for (Tensor &T : Slots)
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

llvm::Expected<StepResult> Trainer::Impl::parallelStep(const Tensor &X,
                                                       Tensor Labels) {
  int64_t N = X.shape()[0];
  double Sums[3] = {0, 0, double(N)}; // loss x examples, correct, examples
  std::vector<Tensor> Slots;
  if (N > 0) {
    auto G = localGradients(X, std::move(Labels), Sums);
    if (!G)
      return G.takeError();
    Slots = std::move(*G);
  } else { // an empty shard adds nothing
    std::vector<TensorType> Types;
    for (size_t K = 0; K < NumParams; ++K)
      Types.push_back(GradG ? GArgs[2 + K].type() : Args[2 + K].type());
    Slots = zerosLike(Types);
  }
  if (auto E = Comm->allReduceSum(Sums))
    return std::move(E);
  if (Sums[2] < 1)
    return makeError("a training step with no examples on any rank");
  std::vector<Tensor *> Ptrs;
  for (Tensor &T : Slots)
    Ptrs.push_back(&T);
  if (auto E = allReduceTensors(*Comm, Ptrs, double(N) / Sums[2],
                                Opts.BucketBytes))
    return std::move(E);
  if (auto E = applySummed(std::move(Slots)))
    return std::move(E);
  ++Steps;
  return StepResult{Sums[0] / Sums[2], int64_t(Sums[1]), int64_t(Sums[2])};
}
