// The GPU plan of a run plan, for one choice of device inputs and kept
// outputs:
//
// 1. The arena holds the kernels' roots (from the CPU planner's requests)
//    and the host inputs that kernels or collectives read (host steps read
//    them on the host), alive from the start to their last read. Roots
//    of outputs kept on the device are left out: each gets a buffer of its
//    own per run, which the caller then owns.
// 2. Launch geometry comes from each kernel's launch function over the
//    sizes; a grid with a zero dimension means no work (the launch is
//    skipped), an impossible block is an internal error naming the kernel.
// 3. A host step (a collective, an op on strings or one whose results the
//    device does not size) is an entry among the launches, with no kernel:
//    the run sums its buffers there, or runs the op on the host.
// 4. The launches are cut into segments where the host must look at the
//    device's results (a host step, a gather whose indices the device
//    computed): each may be replayed as one CUDA graph.
// 5. Each launch gets a slot in one buffer of parameter blocks: its
//    BufferArgs, then their sizes arrays (GpuAbi.h), 16-byte aligned.
#include "exec/GpuPlan.h"

using namespace dlc;

/// Runs a generated launch function: the kernel's grid and block for the
/// shapes in Args.
DLC_CALLS_GENERATED_CODE
static void computeLaunch(GpuLaunchFn Fn, const BufferArg *Args,
                          GpuLaunch *Out) {
  Fn(Args, Out);
}

llvm::Expected<std::shared_ptr<GpuExecutable::GpuPlan>>
GpuExecutable::gpuPlanFor(std::shared_ptr<const Executable::RunPlan> P,
                          std::vector<bool> DeviceIn,
                          std::vector<bool> Keep) const {
  std::vector<uintptr_t> Key = {reinterpret_cast<uintptr_t>(P.get())};
  Key.insert(Key.end(), DeviceIn.begin(), DeviceIn.end());
  Key.insert(Key.end(), Keep.begin(), Keep.end());
  {
    std::lock_guard<std::mutex> Lock(PlanMutex);
    auto It = Plans.find(Key);
    if (It != Plans.end())
      return It->second;
  }
  const Function &F = function();
  const auto &Steps = Planner->steps();
  auto G = std::make_shared<GpuPlan>();
  G->P = P;
  // Host inputs live in the arena from the start to their last read.
  llvm::DenseMap<const Value *, unsigned> InputLast;
  llvm::DenseMap<const Value *, unsigned> InputIndex;
  for (unsigned I = 0; I < F.Inputs.size(); ++I)
    InputIndex[F.Inputs[I].get()] = I;
  auto readAt = [&](const Value *V, unsigned At) {
    const Value *R = P->Storage.lookup(V);
    if (InputIndex.count(R) && !DeviceIn[InputIndex.lookup(R)])
      InputLast[R] = std::max(InputLast.lookup(R), At);
  };
  // (Host steps other than collectives read host inputs on the host.)
  for (unsigned I = 0; I < Steps.size(); ++I)
    if (Steps[I].K == LoweredStep::Kind::Kernel ||
        (Steps[I].K == LoweredStep::Kind::Host &&
         Steps[I].Op->info().has(Collective)))
      for (const Value *V : Steps[I].Ins)
        readAt(V, I);
  for (size_t K = 0; K < F.Outputs.size(); ++K) {
    readAt(F.Outputs[K], Steps.size());
    const Value *R = P->Storage.lookup(F.Outputs[K]);
    if (Keep[K] && P->Offset.count(R) && !G->PinnedIndex.count(R)) {
      G->PinnedIndex[R] = G->Pinned.size();
      G->Pinned.push_back(R);
    }
  }
  std::vector<const Value *> Roots;
  std::vector<rt::ArenaRequest> Requests;
  for (size_t I = 0; I < P->Roots.size(); ++I)
    if (!G->PinnedIndex.count(P->Roots[I])) {
      Roots.push_back(P->Roots[I]);
      Requests.push_back(P->Requests[I]);
    }
  for (auto &In : F.Inputs)
    if (InputLast.count(In.get()) && In->Type.elem() != DType::Str) {
      Roots.push_back(In.get());
      Requests.push_back({valueBytes(In->Type.elem(), P->Shapes.lookup(In.get())),
                          0, InputLast.lookup(In.get())});
    }
  rt::ArenaLayout Layout = rt::planArena(Requests);
  for (size_t I = 0; I < Roots.size(); ++I)
    G->Offset[Roots[I]] = Layout.Offsets[I];
  G->ArenaBytes = Layout.Size;
  // Launch geometry from the sizes, and the parameter blocks' layout.
  for (unsigned I = 0; I < Steps.size(); ++I) {
    const LoweredStep &S = Steps[I];
    if (S.K == LoweredStep::Kind::Host) {
      GpuPlan::Launch Ln;
      Ln.Step = I;
      Ln.Host = true;
      // A collective of nothing has nothing to sum; other host steps run
      // (a str result may be sized by its data).
      Ln.Skip = S.Op->info().has(Collective) &&
                valueBytes(S.Outs[0]->Type.elem(),
                           P->Shapes.find(S.Outs[0])->second) == 0;
      G->Launches.push_back(Ln);
      continue;
    }
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    const GpuKernelEntry &K = Kernels[S.Kernel];
    llvm::SmallVector<BufferArg, 8> Args;
    uint64_t SizeWords = 0;
    auto add = [&](const Value *V) {
      const auto &Sh = P->Shapes.find(V)->second;
      Args.push_back({nullptr, Sh.data()});
      SizeWords += Sh.size();
    };
    for (const Value *V : S.Ins)
      add(V);
    for (const Value *V : S.Outs)
      add(V);
    if (S.Space)
      add(S.Space);
    GpuPlan::Launch Ln;
    Ln.Step = I;
    computeLaunch(K.Launch, Args.data(), &Ln.L);
    const uint32_t *B = Ln.L.Block, *Gr = Ln.L.Grid;
    Ln.Skip = !Gr[0] || !Gr[1] || !Gr[2];
    if (!Ln.Skip && (!B[0] || !B[1] || !B[2] ||
                     uint64_t(B[0]) * B[1] * B[2] > 1024 || B[2] > 64 ||
                     Gr[1] > 65535 || Gr[2] > 65535 || Gr[0] > 0x7fffffffu))
      return makeError(S.Op->L, "internal error: GPU kernel '" + K.Name +
                                    "' computed an impossible launch: grid " +
                                    std::to_string(Gr[0]) + "x" +
                                    std::to_string(Gr[1]) + "x" +
                                    std::to_string(Gr[2]) + ", block " +
                                    std::to_string(B[0]) + "x" +
                                    std::to_string(B[1]) + "x" +
                                    std::to_string(B[2]));
    if (!Ln.Skip) {
      Ln.BlockOffset = G->BlockBytes;
      G->BlockBytes += (Args.size() * sizeof(BufferArg) + SizeWords * 8 + 15) /
                       16 * 16;
    }
    G->Launches.push_back(Ln);
  }
  // Segments: cut before host steps and device-checked gathers.
  unsigned Begin = 0;
  for (unsigned A = 0; A < G->Launches.size(); ++A) {
    const LoweredStep &S = Steps[G->Launches[A].Step];
    bool Cut = G->Launches[A].Host;
    if (!S.Plan && S.Op->kind() == OpKind::Gather) {
      const Value *R = P->Storage.lookup(S.Ins[1]);
      bool OnHost = HostCopy.count(R) ||
                    (InputIndex.count(R) && !DeviceIn[InputIndex.lookup(R)]);
      Cut |= !OnHost;
    }
    if (Cut && A > Begin) {
      G->Segments.push_back({Begin, A});
      Begin = A;
    }
  }
  if (Begin < G->Launches.size())
    G->Segments.push_back({Begin, unsigned(G->Launches.size())});
  std::lock_guard<std::mutex> Lock(PlanMutex);
  if (Plans.size() >= 16) // many shapes: keep the cache bounded
    Plans.clear();
  return Plans.emplace(Key, std::move(G)).first->second;
}

