// The GPU executor.
//
// 0. At creation: the kernels are checked against the steps (one per
//    kernel step, each taking the step's buffers), the program is loaded
//    on the device, parameters and constants are copied there once.
// 1. A run checks its inputs and gets the run plan (shapes, storage roots,
//    arena requests) from the CPU executor's planner: one liveness
//    analysis for both.
// 2. The GPU plan (see GpuPlan.cpp): the device arena, the launches and
//    the layout of their parameter blocks.
// 3. An instance of the plan (its arena and stream) serves one run at a
//    time. The parameter blocks hold device addresses, which depend on the
//    device inputs and kept outputs of the run: an instance keeps the
//    images it wrote, by those addresses, so steady runs write none.
// 4. The run copies host inputs in, launches, copies host outputs out (or
//    hands kept ones over), and waits once at the end. On any failure it
//    still waits for the queued work before anything is freed. A host step
//    (GpuHostStep.cpp) waits for the launches before it and runs on the
//    host between two segments of launches; `str` values live on the host
//    for the whole run.
// 5. Launch overhead: an image's launches are the same in every run (its
//    plan's geometry, its parameter blocks), so from its second run on
//    each segment of launches (GpuPlan.cpp) is recorded once as a CUDA
//    graph and replayed with one call, where the device has graphs. A new
//    shape is a new plan and a new binding a new image: each records its
//    own. A driver that fails to record turns graphs off for the device.
#include "exec/GpuExecutable.h"
#include "exec/GpuPlan.h"

#include "llvm/ADT/StringExtras.h"

#include <cstring>

using namespace dlc;


GpuExecutable::~GpuExecutable() = default;

/// The planner's host kernel: never called (it only plans; the GPU
/// executor runs host steps itself).
static llvm::Expected<std::vector<Tensor>>
plannerRunsNothing(const Operation &Op, llvm::ArrayRef<const Tensor *>) {
  return makeError(Op.L, "internal error: the GPU executor's planner ran '" +
                             Op.mnemonic() + "' on the host");
}

/// The buffers a kernel step passes: inputs, outputs, then the space.
static unsigned numArgs(const LoweredStep &S) {
  return S.Ins.size() + S.Outs.size() + (S.Space ? 1 : 0);
}

llvm::Expected<std::unique_ptr<GpuExecutable>>
GpuExecutable::create(const Function &F, std::vector<LoweredStep> Steps,
                      GpuProgram Prog, std::shared_ptr<GpuMemoryPool> Pool,
                      HostKernelFn Host) {
  size_t KernelSteps = 0;
  // Control flow (if, loop, scan) is a host step too: its regions run on
  // the device once setRegion gave them, else through Host.
  for (const LoweredStep &S : Steps) {
    if (S.K == LoweredStep::Kind::Host && !S.Op->info().has(Collective) &&
        !Host)
      return makeError(S.Op->L, "'" + S.Op->mnemonic().str() +
                                    (S.Op->info().has(DataShape)
                                         ? "' has results sized by the data"
                                     : S.Op->info().has(ControlFlow)
                                         ? "' is control flow with regions"
                                         : "' works on str tensors") +
                                    ": a host step, and this GPU executor "
                                    "has no host kernels: use --device cpu");
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    ++KernelSteps;
    if (size_t(S.Kernel) >= Prog.Kernels.size())
      continue; // reported below
    const GpuKernelEntry &K = Prog.Kernels[S.Kernel];
    if (K.NumArgs != numArgs(S) || !K.Launch)
      return makeError(S.Op->L, "internal error: GPU kernel '" + K.Name +
                                    "' takes " + std::to_string(K.NumArgs) +
                                    " buffers" +
                                    (K.Launch ? "" : " and has no launch "
                                                     "function") +
                                    "; its step passes " +
                                    std::to_string(numArgs(S)));
  }
  if (KernelSteps != Prog.Kernels.size())
    return makeError("internal error: '@" + F.Name + "' has " +
                     std::to_string(KernelSteps) +
                     " kernel steps but its GPU program " +
                     std::to_string(Prog.Kernels.size()) + " kernels");
  std::unique_ptr<GpuExecutable> X(new GpuExecutable());
  auto Planner =
      Executable::createPlanner(F, std::move(Steps), &plannerRunsNothing);
  if (!Planner)
    return Planner.takeError();
  X->Planner = std::move(*Planner);
  X->Host = Host;
  X->Pool = std::move(Pool);
  auto M = X->device().load(Prog);
  if (!M)
    return M.takeError();
  X->Module = std::move(*M);
  X->Kernels = std::move(Prog.Kernels);
  X->ProgramOwner = std::move(Prog.Owner);
  // Parameters and constants: on the device for the executable's life.
  for (size_t I = 0; I < F.Params.size() && I < F.ParamInits.size(); ++I)
    if (F.ParamInits[I] && F.Params[I]->Type.elem() != DType::Str)
      X->HostCopy[F.Params[I].get()] = F.ParamInits[I]->getTensor().get();
  for (const LoweredStep &S : X->Planner->steps())
    if (S.K == LoweredStep::Kind::Constant &&
        S.Op->result()->Type.elem() != DType::Str)
      X->HostCopy[S.Op->result()] = S.Op->attr("value").getTensor().get();
  for (auto [V, T] : X->HostCopy) {
    auto D = X->upload(*T);
    if (!D)
      return D.takeError();
    X->Resident[V] = D->Buf;
  }
  return std::move(X);
}

llvm::Expected<DeviceTensor> GpuExecutable::upload(const Tensor &T) const {
  if (T.elem() == DType::Str)
    return makeError("a str tensor cannot go to the device: str values "
                     "stay on the host");
  auto B = Pool->acquire(T.byteSize());
  if (!B)
    return B.takeError();
  auto S = device().createStream();
  if (!S)
    return S.takeError();
  llvm::Error E = device().copyIn(*S, (*B)->addr(), T.data(), T.byteSize());
  llvm::Error W = device().sync(*S, "a copy to the device");
  device().destroyStream(*S);
  if (E || W)
    return llvm::joinErrors(std::move(E), std::move(W));
  return DeviceTensor{T.elem(), llvm::SmallVector<int64_t, 4>(T.shape()),
                      std::move(*B)};
}

llvm::Expected<Tensor> GpuExecutable::download(const DeviceTensor &T) const {
  Tensor H(T.Elem, T.Shape);
  auto S = device().createStream();
  if (!S)
    return S.takeError();
  llvm::Error E = device().copyOut(*S, H.data(), T.Buf->addr(), H.byteSize());
  llvm::Error W = device().sync(*S, "a copy from the device");
  device().destroyStream(*S);
  if (E || W)
    return llvm::joinErrors(std::move(E), std::move(W));
  return std::move(H);
}

std::string GpuExecutable::describeRun() const {
  std::string S = "'@" + function().Name + "' (kernels ";
  for (size_t I = 0; I < Kernels.size() && I < 6; ++I)
    S += (I ? ", " : "") + Kernels[I].Name;
  if (Kernels.size() > 6)
    S += " and " + std::to_string(Kernels.size() - 6) + " more";
  return S + ")";
}

llvm::Expected<std::vector<Tensor>>
GpuExecutable::run(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes) const {
  std::vector<RunInput> In;
  for (const Tensor &T : Inputs)
    In.push_back({&T, nullptr});
  auto Out = runImpl(In, {}, PeakBytes);
  if (!Out)
    return Out.takeError();
  std::vector<Tensor> R;
  for (GpuTensor &T : *Out)
    R.push_back(std::move(T.Host));
  return R;
}

llvm::Expected<std::vector<GpuTensor>>
GpuExecutable::run(llvm::ArrayRef<GpuTensor> Inputs,
                   llvm::ArrayRef<bool> KeepOnDevice,
                   uint64_t *PeakBytes) const {
  std::vector<RunInput> In;
  for (const GpuTensor &T : Inputs)
    In.push_back(T.onDevice() ? RunInput{nullptr, &T.Dev}
                              : RunInput{&T.Host, nullptr});
  return runImpl(In, KeepOnDevice, PeakBytes);
}

llvm::Error GpuExecutable::checkGather(const GpuPlan &G,
                                       llvm::ArrayRef<RunInput> In,
                                       const LoweredStep &S, Instance &I,
                                       DeviceAddr IndexAddr) const {
  const Executable::RunPlan &P = *G.P;
  const Value *Idx = S.Ins[1];
  Tensor T(Idx->Type.elem(), P.Shapes.find(Idx)->second);
  // The indices' bytes: from the host when they are a host input, a
  // parameter or a constant (or a view of one), else from the device.
  const Value *R = P.Storage.lookup(Idx);
  const Tensor *Host = HostCopy.lookup(R);
  const auto &Ins = function().Inputs;
  for (size_t K = 0; K < Ins.size(); ++K)
    if (Ins[K].get() == R && In[K].Host)
      Host = In[K].Host;
  if (Host) {
    std::memcpy(T.data(), Host->data(), T.byteSize());
  } else {
    if (auto E = device().sync(I.Stream, describeRun()))
      return E;
    if (auto E = device().copyOut(I.Stream, T.data(), IndexAddr, T.byteSize()))
      return E;
    if (auto E = device().sync(I.Stream, describeRun()))
      return E;
  }
  const auto &DShape = P.Shapes.find(S.Ins[0])->second;
  int64_t Axis = S.Op->getInt("axis");
  if (Axis < 0)
    Axis += DShape.size();
  return checkGatherIndices(*S.Op, DShape[Axis], T);
}

llvm::Error GpuExecutable::launchSegment(const GpuPlan &G, Instance &I,
                                         Image &Img, size_t Seg,
                                         unsigned Kernels) const {
  auto direct = [&]() -> llvm::Error {
    for (unsigned A = G.Segments[Seg].first; A < G.Segments[Seg].second; ++A) {
      const GpuPlan::Launch &Ln = G.Launches[A];
      if (Ln.Skip || Ln.Host)
        continue;
      if (auto E = Module->launch(I.Stream, Planner->steps()[Ln.Step].Kernel,
                                  Ln.L, Img.Blocks->addr() + Ln.BlockOffset))
        return E;
    }
    return llvm::Error::success();
  };
  GpuDevice &D = device();
  void *Graph = Img.Graphs ? Img.Graphs->G[Seg] : nullptr;
  // From the image's second run on (a one-off run is not worth recording),
  // segments of two or more kernels are recorded once and replayed.
  if (!Graph && Kernels >= 2 && Img.Runs >= 2 && D.graphs()) {
    if (!Img.Graphs)
      Img.Graphs = std::make_unique<GpuGraphs>(Pool->deviceRef(),
                                               G.Segments.size());
    if (auto E = D.beginCapture(I.Stream)) {
      // The driver cannot: plain launches from now on, on this device.
      llvm::consumeError(std::move(E));
      D.disableGraphs();
      return direct();
    }
    llvm::Error Recorded = direct(); // queued into the graph, not run
    auto X = D.endCapture(I.Stream);
    if (Recorded) {
      if (X)
        D.destroyGraph(*X);
      else
        llvm::consumeError(X.takeError());
      return Recorded;
    }
    if (!X) {
      llvm::consumeError(X.takeError());
      D.disableGraphs();
      return direct();
    }
    Graph = Img.Graphs->G[Seg] = *X;
    ++GraphsCaptured;
  }
  if (Graph)
    return D.launchGraph(I.Stream, Graph, describeRun());
  return direct();
}

llvm::Expected<std::vector<GpuTensor>>
GpuExecutable::runImpl(llvm::ArrayRef<RunInput> In, llvm::ArrayRef<bool> Keep,
                       uint64_t *PeakBytes) const {
  const Function &F = function();
  std::vector<TensorType> Types;
  std::vector<const Tensor *> Contents(In.size(), nullptr);
  std::deque<Tensor> Downloaded;
  for (const RunInput &R : In)
    Types.push_back(R.Host ? R.Host->type() : R.Dev->type());
  if (auto E = Planner->checkInputTypes(Types))
    return std::move(E);
  for (size_t I = 0; I < In.size(); ++I) {
    if (In[I].Host) {
      Contents[I] = In[I].Host;
    } else if (In[I].Dev->Buf->size() < In[I].Dev->byteSize()) {
      return makeError("device input '" + F.Inputs[I]->Name + "' holds " +
                       std::to_string(In[I].Dev->Buf->size()) +
                       " bytes; its type " + Types[I].str() + " needs " +
                       std::to_string(In[I].Dev->byteSize()));
    }
  }
  for (unsigned I : Planner->dataInputs()) // shape computations read them
    if (!Contents[I]) {
      auto T = download(*In[I].Dev);
      if (!T)
        return T.takeError();
      Contents[I] = &Downloaded.emplace_back(std::move(*T));
    }
  if (Keep.size() > F.Outputs.size())
    return makeError("'@" + F.Name + "' has " +
                     std::to_string(F.Outputs.size()) + " outputs; " +
                     std::to_string(Keep.size()) + " were asked to stay on "
                     "the device");
  auto PlanOr = Planner->planFor(Types, Contents);
  if (!PlanOr)
    return PlanOr.takeError();
  std::vector<bool> DeviceIn, KeepAll(F.Outputs.size(), false);
  for (const RunInput &R : In)
    DeviceIn.push_back(R.Dev != nullptr);
  std::copy(Keep.begin(), Keep.end(), KeepAll.begin());
  auto GOr = gpuPlanFor(*PlanOr, DeviceIn, KeepAll);
  if (!GOr)
    return GOr.takeError();
  GpuPlan &G = **GOr;
  const Executable::RunPlan &P = *G.P;

  // An instance of the plan, and a buffer per kept output root.
  std::unique_ptr<Instance> I;
  {
    std::lock_guard<std::mutex> Lock(G.M);
    if (!G.Free.empty()) {
      I = std::move(G.Free.back());
      G.Free.pop_back();
    }
  }
  if (!I) {
    I = std::make_unique<Instance>();
    I->Dev = Pool->deviceRef();
    auto A = Pool->acquire(G.ArenaBytes);
    if (!A)
      return A.takeError();
    I->Arena = std::move(*A);
    auto S = device().createStream();
    if (!S)
      return S.takeError();
    I->Stream = *S;
  }
  std::vector<std::shared_ptr<GpuBuffer>> PinBufs;
  uint64_t Peak = G.ArenaBytes;
  for (const Value *R : G.Pinned) {
    auto B = Pool->acquire(valueBytes(R->Type.elem(), P.Shapes.find(R)->second));
    if (!B)
      return B.takeError(); // nothing queued yet: I is simply dropped
    Peak += (*B)->size();
    PinBufs.push_back(std::move(*B));
  }
  llvm::DenseMap<const Value *, unsigned> InputIndex;
  for (unsigned K = 0; K < F.Inputs.size(); ++K)
    InputIndex[F.Inputs[K].get()] = K;
  auto addr = [&](const Value *V) -> DeviceAddr {
    const Value *R = P.Storage.lookup(V);
    if (auto It = G.Offset.find(R); It != G.Offset.end())
      return I->Arena->addr() + It->second;
    if (auto It = G.PinnedIndex.find(R); It != G.PinnedIndex.end())
      return PinBufs[It->second]->addr();
    if (auto It = InputIndex.find(R); It != InputIndex.end() && In[It->second].Dev)
      return In[It->second].Dev->Buf->addr();
    if (auto B = Resident.lookup(R))
      return B->addr();
    return 0; // an input that nothing reads
  };
  // The host bytes of V's storage, when it is a host input, a parameter or
  // a constant (or a view of one); else null.
  auto onHost = [&](const Value *V) -> const Tensor * {
    const Value *R = P.Storage.lookup(V);
    if (auto It = InputIndex.find(R); It != InputIndex.end())
      return In[It->second].Host;
    return HostCopy.lookup(R);
  };
  // The run's str values (inputs, parameters and constants borrowed) and
  // the host steps' results, alive until the run has waited for its copies.
  HostValues HV;
  for (size_t K = 0; K < In.size(); ++K)
    if (F.Inputs[K]->Type.elem() == DType::Str)
      HV.Strs[F.Inputs[K].get()] = In[K].Host;
  for (size_t K = 0; K < F.Params.size() && K < F.ParamInits.size(); ++K)
    if (F.Params[K]->Type.elem() == DType::Str && F.ParamInits[K])
      HV.Strs[F.Params[K].get()] = F.ParamInits[K]->getTensor().get();
  for (const LoweredStep &S : Planner->steps())
    if (S.K == LoweredStep::Kind::Constant &&
        S.Op->result()->Type.elem() == DType::Str)
      HV.Strs[S.Op->result()] = S.Op->attr("value").getTensor().get();

  // The parameter blocks for these device addresses: written before, or now.
  std::vector<DeviceAddr> Binding;
  for (const RunInput &R : In)
    Binding.push_back(R.Dev ? R.Dev->Buf->addr() : 0);
  for (auto &B : PinBufs)
    Binding.push_back(B->addr());
  Image *Img = nullptr;
  for (auto &Im : I->Images)
    if (Im.Binding == Binding)
      Img = &Im;
  // Copies out are queued into these tensors' bytes: they must not move
  // (a reallocating vector would copy them) until the stream is done.
  std::vector<GpuTensor> Outs;
  Outs.reserve(F.Outputs.size());
  llvm::Error Err = llvm::Error::success();
  auto body = [&]() -> llvm::Error {
    if (!Img) {
      auto B = Pool->acquire(G.BlockBytes);
      if (!B)
        return B.takeError();
      if (I->Images.size() >= 4) // keep the four used last
        I->Images.erase(llvm::min_element(I->Images, [](auto &A, auto &B) {
          return A.Used < B.Used;
        }));
      DeviceAddr Base = (*B)->addr();
      std::vector<uint8_t> Image(G.BlockBytes);
      for (const GpuPlan::Launch &Ln : G.Launches) {
        if (Ln.Skip || Ln.Host)
          continue;
        const LoweredStep &S = Planner->steps()[Ln.Step];
        llvm::SmallVector<const Value *, 8> Vals(S.Ins.begin(), S.Ins.end());
        Vals.append(S.Outs.begin(), S.Outs.end());
        if (S.Space)
          Vals.push_back(S.Space);
        uint64_t Arg = Ln.BlockOffset, Sizes = Arg + Vals.size() * sizeof(BufferArg);
        for (size_t K = 0; K < Vals.size(); ++K) {
          const Value *V = Vals[K];
          const auto &Sh = P.Shapes.find(V)->second;
          // The space (last, when there is one) passes only its sizes; its
          // value may also be a real buffer of the group.
          bool SpaceArg = S.Space && K + 1 == Vals.size();
          BufferArg A;
          A.Data = SpaceArg ? nullptr : reinterpret_cast<void *>(addr(V));
          A.Sizes = reinterpret_cast<const int64_t *>(Base + Sizes);
          std::memcpy(&Image[Arg], &A, sizeof(A));
          if (!Sh.empty())
            std::memcpy(&Image[Sizes], Sh.data(), Sh.size() * 8);
          Arg += sizeof(BufferArg);
          Sizes += Sh.size() * 8;
        }
      }
      if (auto E = device().copyIn(I->Stream, Base, Image.data(), Image.size()))
        return E;
      I->Images.push_back({Binding, std::move(*B), 0});
      Img = &I->Images.back();
      ++ImagesWritten;
    }
    Img->Used = ++I->Clock;
    ++Img->Runs;
    for (size_t K = 0; K < In.size(); ++K) // host inputs that are read
      if (In[K].Host && G.Offset.count(F.Inputs[K].get()))
        if (auto E = device().copyIn(I->Stream, addr(F.Inputs[K].get()),
                                     In[K].Host->data(), In[K].Host->byteSize()))
          return E;
    for (size_t Seg = 0; Seg < G.Segments.size(); ++Seg) {
      unsigned Kernels = 0;
      // The host's part first: a segment's collective or device-checked
      // gather is its first entry (after the earlier segments' launches);
      // other gathers check host data.
      for (unsigned A = G.Segments[Seg].first; A < G.Segments[Seg].second;
           ++A) {
        const GpuPlan::Launch &Ln = G.Launches[A];
        const LoweredStep &S = Planner->steps()[Ln.Step];
        if (Ln.Host) {
          if (Ln.Skip)
            continue;
          if (auto E = S.Op->info().has(Collective)
                           ? runCollective(S, P, *I, addr(S.Ins[0]),
                                           addr(S.Outs[0]))
                           : runHostStep(S, P, *I, addr, onHost, HV))
            return E;
          continue;
        }
        if (!S.Plan && S.Op->kind() == OpKind::Gather)
          if (auto E = checkGather(G, In, S, *I, addr(S.Ins[1])))
            return E;
        Kernels += !Ln.Skip;
      }
      if (auto E = launchSegment(G, *I, *Img, Seg, Kernels))
        return E;
    }
    for (size_t K = 0; K < F.Outputs.size(); ++K) {
      const Value *V = F.Outputs[K];
      if (V->Type.elem() == DType::Str) { // on the host, whatever Keep says
        const Tensor *T = HV.Strs.lookup(V);
        if (!T)
          return makeError(F.L, "internal error: output '" + V->Name +
                                    "' (str) was not computed");
        Outs.emplace_back(*T);
        continue;
      }
      const auto &Sh = P.Shapes.find(V)->second;
      if (!KeepAll[K]) {
        Tensor T(V->Type.elem(), Sh);
        if (auto E = device().copyOut(I->Stream, T.data(), addr(V), T.byteSize()))
          return E;
        Outs.emplace_back(std::move(T));
        continue;
      }
      DeviceTensor D{V->Type.elem(), Sh, nullptr};
      const Value *R = P.Storage.lookup(V);
      if (auto It = G.PinnedIndex.find(R); It != G.PinnedIndex.end()) {
        D.Buf = PinBufs[It->second];
      } else { // an input, parameter or constant: a copy of its own
        auto B = Pool->acquire(D.byteSize());
        if (!B)
          return B.takeError();
        Peak += (*B)->size();
        D.Buf = std::move(*B);
        if (auto E = device().copyOnDevice(I->Stream, D.Buf->addr(), addr(V),
                                           D.byteSize()))
          return E;
      }
      Outs.emplace_back(std::move(D));
    }
    return llvm::Error::success();
  };
  Err = body();
  // Whatever happened, the queued work finishes before buffers go back.
  llvm::Error Done = device().sync(I->Stream, describeRun());
  if (Err || Done) {
    // A failed sync may leave the stream unusable: drop the instance.
    if (!Done) {
      std::lock_guard<std::mutex> Lock(G.M);
      G.Free.push_back(std::move(I));
    }
    return llvm::joinErrors(std::move(Err), std::move(Done));
  }
  {
    std::lock_guard<std::mutex> Lock(G.M);
    G.Free.push_back(std::move(I));
  }
  if (PeakBytes)
    *PeakBytes = Peak;
  return std::move(Outs);
}
