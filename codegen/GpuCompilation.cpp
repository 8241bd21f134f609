// A graph function compiled for the GPU (PTX plus host functions), and its
// run through the CPU emulation.
//
// 1. lowerFunctionForGpu: the CPU's lowering with the tiled GPU matmul, then
//    --kir-gpu-rows and --kir-gpu-map on every kernel.
// 2. Each kernel's emulation kernel and host functions (GpuEmulation.cpp)
//    go into one JIT module for the CPU, with the GPU's own math
//    (GpuMath.cpp) so that the emulation computes what the device would.
// 3. With a target, the kernels are also emitted as PTX (GpuEmitter.cpp).
#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"

#include "interp/Interpreter.h"
#include "ir/Location.h"

#include <mutex>

using namespace dlc;
using namespace dlc::kir;

GpuCompilation::~GpuCompilation() = default;

llvm::Expected<std::unique_ptr<GpuCompilation>>
GpuCompilation::compile(const Function &F, const GpuTarget *T, unsigned OptLevel,
                        const GpuOptions &G) {
  auto L = lowerFunctionForGpu(F, G);
  if (!L)
    return L.takeError();
  std::unique_ptr<GpuCompilation> R(new GpuCompilation());
  std::vector<std::unique_ptr<Kernel>> EmuKernels;
  std::vector<const Kernel *> Emu;
  for (auto &K : L->Kernels) {
    auto C = emulationKernel(*K);
    if (!C)
      return C.takeError();
    Emu.push_back(C->get());
    EmuKernels.push_back(std::move(*C));
  }
  R->Kernels = std::move(L->Kernels);
  R->Steps = std::move(L->Steps);
  auto J = JitModule::compile(Emu, OptLevel, [&](llvm::Module &M) -> llvm::Error {
    for (auto &K : R->Kernels)
      if (auto E = emitGpuHostFunctions(*K, M))
        return E;
    // The GPU's math, so the emulation checks it too.
    return replaceGpuMath(M);
  });
  if (!J)
    return J.takeError();
  R->Jit = std::move(*J);
  for (auto &K : R->Kernels) {
    GpuKernelEntry G;
    G.Name = K->Name;
    G.NumArgs = unsigned(K->Args.size());
    auto Launch = R->Jit->lookupAddress(gpuLaunchName(K->Name));
    auto Emulate = R->Jit->lookupAddress(gpuEmulateName(K->Name));
    auto Grid = R->Jit->lookupAddress(gpuGridName(K->Name));
    if (!Launch || !Emulate || !Grid) {
      llvm::consumeError(Launch.takeError());
      llvm::consumeError(Emulate.takeError());
      llvm::consumeError(Grid.takeError());
      return makeError("kernel @" + K->Name + ": host functions missing");
    }
    G.Launch = reinterpret_cast<GpuLaunchFn>(*Launch);
    G.Emulate = reinterpret_cast<GpuEmulateFn>(*Emulate);
    R->Entries.push_back(G);
    R->Grids.push_back(reinterpret_cast<KernelFn>(*Grid));
  }
  if (T) {
    std::vector<const Kernel *> Ks;
    for (auto &K : R->Kernels)
      Ks.push_back(K.get());
    auto Ptx = emitPtx(Ks, *T);
    if (!Ptx)
      return Ptx.takeError();
    R->Ptx = std::move(*Ptx);
  }
  return R;
}

GpuEmulatedFunction::~GpuEmulatedFunction() = default;

llvm::Expected<std::unique_ptr<GpuEmulatedFunction>>
GpuEmulatedFunction::compile(const Function &F, unsigned OptLevel,
                             unsigned Threads, const GpuOptions &G) {
  auto P = GpuCompilation::compile(F, nullptr, OptLevel, G);
  if (!P)
    return P.takeError();
  std::unique_ptr<GpuEmulatedFunction> R(new GpuEmulatedFunction());
  R->Program = std::move(*P);
  std::vector<KernelEntry> Table;
  for (unsigned K = 0; K < R->Program->kernels().size(); ++K)
    Table.push_back({R->Program->gridEmulation(K), /*Parallel=*/true});
  auto X = Executable::create(F, R->Program->steps(), std::move(Table), Threads,
                              &evaluateOp);
  if (!X)
    return X.takeError();
  R->Exec = std::move(*X);
  return R;
}

llvm::Expected<GpuProgram>
dlc::nvptxCodegen(const Function &F, const std::vector<LoweredStep> &Steps,
                  unsigned OptLevel, llvm::StringRef Arch, GpuPrecision Prec) {
  // PTX only for a real device: the emulation runs the host functions.
  GpuTarget T;
  if (!Arch.empty())
    T.Arch = Arch.str();
  GpuOptions G;
  G.Tf32 = Prec == GpuPrecision::Tf32;
  G.Bf16 = Prec == GpuPrecision::Bf16;
  auto C = GpuCompilation::compile(F, Arch.empty() ? nullptr : &T,
                                   std::min(OptLevel, 2u), G);
  if (!C)
    return C.takeError();
  GpuProgram P;
  P.Ptx = (*C)->ptx();
  P.Kernels = (*C)->entries();
  // The executor's steps and ours come from the same planSteps(F).
  for (const LoweredStep &S : Steps) {
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    unsigned Args = unsigned(S.Ins.size() + S.Outs.size() + (S.Space ? 1 : 0));
    if (S.Kernel < 0 || size_t(S.Kernel) >= P.Kernels.size() ||
        P.Kernels[S.Kernel].NumArgs != Args)
      return makeError("'@" + F.Name + "': the GPU kernels do not match the "
                       "executor's steps (kernel " + std::to_string(S.Kernel) +
                       ")");
  }
  // The program keeps the kernels' host code (launch, emulation) alive.
  P.Owner = std::shared_ptr<const GpuCompilation>(std::move(*C));
  return P;
}
