// The GPU executor's control flow (if, loop, scan): the op's logic runs on
// the host, its regions on the device.
//
// DESIGN. Each region was compiled once for the device as a GpuExecutable
// of its own (compileForGpu, api/Device.cpp: its kernels, fusion groups and
// nested control flow), set with setRegion; this host step runs it per
// branch taken or per iteration. Values stay on the device: a region reads
// the op's operands in place (views of the run's arena, or the buffers of
// device inputs, parameters and constants), the outputs it hands back stay
// on the device in buffers of their own and feed the next iteration, and
// the op's results are copied on the device into the run's buffers. What
// crosses to the host: the condition or trip count (one element each), the
// loop body's condition after each iteration (one element), and the
// iteration number going in (8 bytes). The semantics are the interpreter's
// (interp/ControlFlow.cpp), with its errors and bounds.
//
// 1. Operands: the launches before the step finish (one wait); numeric
//    operands become device tensors (views; operands that only have host
//    bytes, host inputs no kernel reads, are uploaded once); str operands
//    are the run's host tensors.
// 2. if: read the condition, run the taken region with every output kept
//    on the device.
//    loop: iterate while iter < trip and cond (bounded by
//    maxLoopIterations()), the carried values from one region run to the
//    next on the device; each iteration's scan slices are kept.
//    scan: per iteration, each scan input's slice (a view when it is
//    contiguous, else one device copy per leading index), the states fed
//    back on the device.
// 3. Results: copied on the device into their planned buffers (a scan
//    output's slices along its axis, reversed for direction 1), checked
//    against the planned shapes; then one wait, so that the region
//    buffers read by those copies can go.
// Costs against a loop unrolled into one plan: per iteration, one region
// run (its launches, replayed as a CUDA graph from the region's second run
// on where the device has graphs), one wait at its end and the two small
// copies above; the planner evaluates an op whose result shapes depend on
// the data once more on the host (as on the CPU).
#include "exec/GpuPlan.h"

#include "interp/Interpreter.h"
#include "ir/ControlFlow.h"
#include "ir/ShapeInference.h"

#include <algorithm>
#include <climits>

using namespace dlc;

void GpuExecutable::setRegion(const Function &R,
                              std::unique_ptr<GpuExecutable> X) {
  Regions[&R] = std::move(X);
}

bool GpuExecutable::regionsSet(const Operation &Op) const {
  for (auto &R : Op.Regions)
    if (!Regions.count(R.get()))
      return false;
  // Slicing and stacking move bytes: str values (no bytes on the device)
  // in a loop's or scan's operands or results go through the interpreter.
  if (Op.kind() != OpKind::If) {
    for (const Value *V : Op.Operands)
      if (V->Type.elem() == DType::Str)
        return false;
    for (auto &V : Op.Results)
      if (V->Type.elem() == DType::Str)
        return false;
  }
  return !Op.Regions.empty();
}

namespace {

llvm::Error cfError(const Operation &Op, const llvm::Twine &Msg) {
  return makeError(Op.L, "'" + Op.mnemonic() + "': " + Msg);
}

int64_t product(llvm::ArrayRef<int64_t> S) {
  int64_t N = 1;
  for (int64_t D : S)
    N *= D;
  return N;
}

/// Bytes [A, A + Bytes) of device memory owned elsewhere, as a tensor.
DeviceTensor viewOf(DType E, llvm::ArrayRef<int64_t> Shape, DeviceAddr A) {
  DeviceTensor T{E, llvm::SmallVector<int64_t, 4>(Shape), nullptr};
  T.Buf = std::make_shared<GpuBuffer>(nullptr, A, T.byteSize());
  return T;
}

/// One control-flow step's state: the run's stream and buffers, and the
/// device buffers its queued copies read until the final wait.
struct CfStep {
  const Operation &Op;
  GpuDevice &Dev;
  GpuMemoryPool &Pool;
  void *Stream;
  std::string Running;
  std::vector<std::shared_ptr<GpuBuffer>> Hold;
  std::deque<Tensor> HostHold;

  /// The one element of T (the condition or the trip count).
  llvm::Expected<int64_t> scalar(const GpuTensor &T, const char *What) {
    if (T.type().numElements().value_or(0) != 1)
      return cfError(Op, llvm::Twine(What) + " must have one element, got " +
                             T.type().str());
    if (!T.onDevice())
      return T.Host.getI(0);
    Tensor H(T.Dev.Elem, T.Dev.Shape);
    if (auto E = Dev.copyOut(Stream, H.data(), T.Dev.Buf->addr(), H.byteSize()))
      return std::move(E);
    if (auto E = Dev.sync(Stream, Running))
      return std::move(E);
    return H.getI(0);
  }

  /// Runs region R (X) on In; errors carry the op's location, the region
  /// and the iteration (Iter >= 0), as the interpreter's do.
  llvm::Expected<std::vector<GpuTensor>>
  run(const GpuExecutable &X, const Function &R, llvm::ArrayRef<GpuTensor> In,
      llvm::ArrayRef<bool> Keep, int64_t Iter = -1) {
    auto Out = X.run(In, Keep);
    if (!Out)
      return cfError(Op, (Iter >= 0 ? "iteration " + std::to_string(Iter) +
                                          " of region '"
                                    : std::string("region '")) +
                             R.Name + "': " + llvm::toString(Out.takeError()));
    if (Out->size() != R.Outputs.size())
      return cfError(Op, "region '" + R.Name + "' returned " +
                             llvm::Twine(Out->size()) + " values, expected " +
                             llvm::Twine(R.Outputs.size()));
    return Out;
  }

  /// Queues a copy of T into the device bytes at Dst (T's bytes must stay
  /// until the final wait: held here).
  llvm::Error copyTo(DeviceAddr Dst, const GpuTensor &T, uint64_t SrcOffset,
                     uint64_t Bytes) {
    if (!Bytes)
      return llvm::Error::success();
    if (T.onDevice()) {
      Hold.push_back(T.Dev.Buf);
      return Dev.copyOnDevice(Stream, Dst, T.Dev.Buf->addr() + SrcOffset,
                              Bytes);
    }
    const Tensor &H = HostHold.emplace_back(T.Host);
    return Dev.copyIn(Stream, Dst, H.data() + SrcOffset, Bytes);
  }

  /// X[..., Idx, ...] along Axis, without that axis, on the device: a view
  /// when the slice is contiguous, else a buffer filled by one device copy
  /// per leading index. Copied reports whether copies were queued.
  llvm::Expected<GpuTensor> slice(const GpuTensor &X, unsigned Axis,
                                  int64_t Idx, bool &Copied) {
    const DeviceTensor &D = X.Dev;
    llvm::SmallVector<int64_t, 4> S(D.Shape.begin(), D.Shape.end());
    int64_t Len = S[Axis];
    S.erase(S.begin() + Axis);
    int64_t Outer = product(llvm::ArrayRef<int64_t>(D.Shape).take_front(Axis));
    uint64_t Inner =
        uint64_t(product(llvm::ArrayRef<int64_t>(D.Shape).drop_front(Axis + 1))) *
        dtypeSize(D.Elem);
    if (Outer == 1 || !Inner)
      return GpuTensor(viewOf(D.Elem, S, D.Buf->addr() + Idx * Inner));
    auto B = Pool.acquire(uint64_t(Outer) * Inner);
    if (!B)
      return B.takeError();
    for (int64_t O = 0; O < Outer; ++O)
      if (auto E = Dev.copyOnDevice(Stream, (*B)->addr() + O * Inner,
                                    D.Buf->addr() + (O * Len + Idx) * Inner,
                                    Inner))
        return std::move(E);
    Copied = true;
    DeviceTensor T{D.Elem, S, std::move(*B)};
    return GpuTensor(std::move(T));
  }

  /// Queues Parts (one shape) stacked along a new axis Axis into the
  /// planned result at Dst of shape Planned.
  llvm::Error stack(llvm::ArrayRef<GpuTensor> Parts, unsigned Axis,
                    llvm::ArrayRef<int64_t> Planned, DeviceAddr Dst,
                    unsigned Which) {
    if (Parts.empty())
      return llvm::Error::success();
    TensorType First = Parts[0].type();
    for (const GpuTensor &P : Parts)
      if (P.type() != First)
        return cfError(Op, "scan output " + llvm::Twine(Which) +
                               " changes from " + First.str() + " to " +
                               P.type().str() + " between iterations; its "
                               "slices must have one shape");
    llvm::SmallVector<int64_t, 4> S(First.staticSizes());
    S.insert(S.begin() + Axis, int64_t(Parts.size()));
    if (llvm::ArrayRef<int64_t>(S) != Planned)
      return cfError(Op, "scan output " + llvm::Twine(Which) + " is " +
                             TensorType::get(First.elem(), S).str() +
                             "; the run was planned with another shape");
    auto FS = First.staticSizes();
    int64_t Outer = product(llvm::ArrayRef<int64_t>(FS).take_front(Axis));
    uint64_t Inner =
        uint64_t(product(llvm::ArrayRef<int64_t>(FS).drop_front(Axis))) *
        dtypeSize(First.elem());
    int64_t N = Parts.size();
    for (int64_t T = 0; T < N; ++T)
      for (int64_t O = 0; O < Outer; ++O)
        if (auto E = copyTo(Dst + (O * N + T) * Inner, Parts[T], O * Inner,
                            Inner))
          return E;
    return llvm::Error::success();
  }
};

} // namespace

llvm::Error GpuExecutable::runRegions(
    const LoweredStep &S, const Executable::RunPlan &P, Instance &I,
    llvm::function_ref<DeviceAddr(const Value *)> Addr,
    llvm::function_ref<const Tensor *(const Value *)> OnHost,
    HostValues &V) const {
  const Operation &Op = *S.Op;
  CfStep C{Op, device(), *Pool, I.Stream, describeRun(), {}, {}};
  // Step 1. The launches before the step wrote what the regions read.
  if (auto E = device().sync(I.Stream, C.Running))
    return E;
  std::vector<GpuTensor> Args;
  bool Uploaded = false;
  for (const Value *X : S.Ins) {
    if (X->Type.elem() == DType::Str) {
      const Tensor *H = V.Strs.lookup(X);
      if (!H)
        return makeError(Op.L, "internal error: a str operand of '" +
                                   Op.mnemonic() + "' has no value");
      Args.emplace_back(*H);
      continue;
    }
    TensorType T = TensorType::get(X->Type.elem(), P.Shapes.find(X)->second);
    const Value *R = P.Storage.lookup(X);
    const Tensor *H = OnHost(X);
    if (H && !Resident.count(R)) { // host bytes only: upload them once
      auto B = Pool->acquire(H->byteSize());
      if (!B)
        return B.takeError();
      if (H->byteSize())
        if (auto E = device().copyIn(I.Stream, (*B)->addr(), H->data(),
                                     H->byteSize()))
          return E;
      Uploaded = true;
      Args.emplace_back(DeviceTensor{T.elem(), T.staticSizes(), std::move(*B)});
      continue;
    }
    Args.emplace_back(viewOf(T.elem(), T.staticSizes(), Addr(X)));
  }
  if (Uploaded)
    if (auto E = device().sync(I.Stream, C.Running))
      return E;

  // Step 2.
  std::vector<GpuTensor> Results;
  std::vector<std::vector<GpuTensor>> Slices; // loop and scan outputs
  std::vector<unsigned> SliceAxes;
  std::vector<bool> Reverse;
  auto region = [&](unsigned K) -> const GpuExecutable & {
    return *Regions.find(Op.Regions[K].get())->second;
  };
  if (Op.kind() == OpKind::If) {
    auto Cond = C.scalar(Args[0], "the condition");
    if (!Cond)
      return Cond.takeError();
    const Function &R = *Op.Regions[*Cond ? 0 : 1];
    std::vector<GpuTensor> In(Args.begin() + 1, Args.end());
    auto Out = C.run(region(*Cond ? 0 : 1), R, In,
                     llvm::SmallVector<bool, 8>(R.Outputs.size(), true));
    if (!Out)
      return Out.takeError();
    Results = std::move(*Out);
  } else if (Op.kind() == OpKind::Loop) {
    auto Trip = C.scalar(Args[0], "the trip count");
    if (!Trip)
      return Trip.takeError();
    auto Cond0 = C.scalar(Args[1], "the condition");
    if (!Cond0)
      return Cond0.takeError();
    const Function &Body = *Op.Regions[0];
    unsigned NC = Op.getInt("num_carried");
    unsigned NScan = Body.Outputs.size() - 1 - NC;
    std::vector<GpuTensor> In;
    In.emplace_back(Tensor(DType::I64, {}));
    In.emplace_back(Tensor(DType::Bool, {}));
    In.insert(In.end(), Args.begin() + 2, Args.end());
    llvm::SmallVector<bool, 8> Keep(Body.Outputs.size(), true);
    Keep[0] = false; // the condition comes to the host
    Slices.resize(NScan);
    SliceAxes.assign(NScan, 0);
    Reverse.assign(NScan, false);
    bool Cond = *Cond0 != 0;
    int64_t Max = maxLoopIterations();
    uint64_t ScanBytes = 0;
    for (int64_t It = 0; It < *Trip && Cond; ++It) {
      if (It >= Max) {
        std::string TripText = *Trip == INT64_MAX
                                   ? std::string("no trip count")
                                   : "trip count " + std::to_string(*Trip);
        return cfError(Op, "the loop ran " + llvm::Twine(Max) +
                               " iterations and its condition still holds (" +
                               TripText + "); loops are bounded by "
                               "DLC_MAX_LOOP_ITERATIONS (default 2^20): set "
                               "it higher if this loop is meant to run longer");
      }
      In[0].Host.setI(0, It);
      In[1].Host.setI(0, 1);
      auto Out = C.run(region(0), Body, In, Keep, It);
      if (!Out)
        return Out.takeError();
      auto Next = C.scalar((*Out)[0], "the body's condition result");
      if (!Next)
        return Next.takeError();
      Cond = *Next != 0;
      for (unsigned K = 0; K < NC; ++K)
        In[2 + K] = std::move((*Out)[1 + K]);
      for (unsigned K = 0; K < NScan; ++K) {
        GpuTensor &T = (*Out)[1 + NC + K];
        ScanBytes += T.onDevice() ? T.Dev.byteSize() : T.Host.byteSize();
        Slices[K].push_back(std::move(T));
      }
      if (ScanBytes > InterpreterTensorLimit)
        return cfError(Op, "the scan outputs grow past 4 GiB after " +
                               llvm::Twine(It + 1) + " iterations");
    }
    for (unsigned K = 0; K < NC; ++K)
      Results.push_back(std::move(In[2 + K]));
  } else { // scan
    const Function &Body = *Op.Regions[0];
    unsigned NS = Op.getInt("num_states"), M = Op.getInt("num_scan_inputs");
    unsigned NOut = Body.Outputs.size() - NS;
    auto [InAxes, InDirs, OutAxes, OutDirs] = scanLayout(Op);
    int64_t Len = -1;
    for (unsigned J = 0; J < M; ++J) {
      const GpuTensor &X = Args[NS + J];
      auto A = normalizeAxis(InAxes[J], X.type().rank(), Op.L);
      if (!A)
        return A.takeError();
      InAxes[J] = *A;
      int64_t L = X.Dev.Shape[*A];
      if (Len >= 0 && L != Len)
        return cfError(Op, "scan inputs have different lengths (" +
                               llvm::Twine(Len) + " and " + llvm::Twine(L) +
                               ")");
      Len = L;
    }
    std::vector<GpuTensor> In(Args.begin(), Args.end());
    Slices.resize(NOut);
    for (unsigned K = 0; K < NOut; ++K) {
      auto A = normalizeAxis(OutAxes[K],
                             P.Shapes.find(S.Outs[NS + K])->second.size(),
                             Op.L);
      if (!A)
        return A.takeError();
      SliceAxes.push_back(*A);
      Reverse.push_back(OutDirs[K] != 0);
    }
    for (int64_t T = 0; T < Len; ++T) {
      bool Copied = false;
      for (unsigned J = 0; J < M; ++J) {
        auto X = C.slice(Args[NS + J], InAxes[J],
                         InDirs[J] ? Len - 1 - T : T, Copied);
        if (!X)
          return X.takeError();
        In[NS + J] = std::move(*X);
      }
      if (Copied) // the slices' copies are on the run's stream
        if (auto E = device().sync(I.Stream, C.Running))
          return E;
      auto Out = C.run(region(0), Body, In,
                       llvm::SmallVector<bool, 8>(Body.Outputs.size(), true),
                       T);
      if (!Out)
        return Out.takeError();
      for (unsigned K = 0; K < NS; ++K)
        In[K] = std::move((*Out)[K]);
      for (unsigned K = 0; K < NOut; ++K)
        Slices[K].push_back(std::move((*Out)[NS + K]));
    }
    for (unsigned K = 0; K < NS; ++K)
      Results.push_back(std::move(In[K]));
  }

  // Step 3.
  if (Results.size() + Slices.size() != S.Outs.size())
    return makeError(Op.L, "internal error: '" + Op.mnemonic() + "' made " +
                               std::to_string(Results.size() + Slices.size()) +
                               " results, not " +
                               std::to_string(S.Outs.size()));
  llvm::Error Err = llvm::Error::success();
  auto body = [&]() -> llvm::Error {
    for (size_t K = 0; K < Results.size(); ++K) {
      const Value *X = S.Outs[K];
      GpuTensor &T = Results[K];
      if (X->Type.elem() == DType::Str) { // an if's str result
        V.Strs[X] = &V.Owned.emplace_back(std::move(T.Host));
        continue;
      }
      llvm::ArrayRef<int64_t> Planned = P.Shapes.find(X)->second;
      if (T.type() != TensorType::get(X->Type.elem(), Planned))
        return makeError(Op.L, "internal error: '" + Op.mnemonic() +
                                   "' computed " + T.type().str() +
                                   ", the plan has another shape");
      if (auto E = C.copyTo(Addr(X), T, 0,
                            valueBytes(X->Type.elem(), Planned)))
        return E;
    }
    for (size_t K = 0; K < Slices.size(); ++K) {
      const Value *X = S.Outs[Results.size() + K];
      if (Reverse[K])
        std::reverse(Slices[K].begin(), Slices[K].end());
      if (auto E = C.stack(Slices[K], SliceAxes[K], P.Shapes.find(X)->second,
                           Addr(X), K))
        return E;
    }
    return llvm::Error::success();
  };
  Err = body();
  // The copies read the regions' buffers: they finish before those go.
  llvm::Error Done = device().sync(I.Stream, C.Running);
  return llvm::joinErrors(std::move(Err), std::move(Done));
}
