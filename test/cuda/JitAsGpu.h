// A stand-in GPU code generator for tests of the device switch (Model,
// Trainer, dlc): each kernel of the CPU JIT becomes a "GPU kernel" of one
// block of one thread whose emulation runs the whole CPU kernel, with PTX
// text the fake driver accepts. It lets whole models and training steps go
// through the GPU executor (arena, parameter blocks, copies, state kept on
// the device) before the real code generator exists. Test-only.
#ifndef DLC_TEST_CUDA_JITASGPU_H
#define DLC_TEST_CUDA_JITASGPU_H

#include "FakeCuda.h"
#include "GpuFixtures.h"
#include "codegen/Executor.h"

#include <array>
#include <mutex>
#include <utility>

namespace dlc {
namespace jitgpu {

constexpr size_t MaxKernels = 2048; // over every function a test compiles

inline std::array<KernelFn, MaxKernels> &table() {
  static std::array<KernelFn, MaxKernels> T{};
  return T;
}

template <size_t I>
DLC_CALLS_GENERATED_CODE void emulate(const BufferArg *A, const GpuLaunch *,
                                      uint32_t, uint32_t, uint32_t) {
  table()[I](A, 0, 1);
}

template <size_t... I>
constexpr std::array<GpuEmulateFn, sizeof...(I)>
trampolines(std::index_sequence<I...>) {
  return {&emulate<I>...};
}

inline void oneBlock(const BufferArg *, GpuLaunch *L) {
  L->Grid[0] = 1;
  L->Block[0] = 1;
}

/// A GpuCodegenFn. The JIT modules live until the process ends.
inline llvm::Expected<GpuProgram> codegen(const Function &F,
                                          const std::vector<LoweredStep> &Steps,
                                          unsigned OptLevel,
                                          llvm::StringRef, GpuPrecision Prec) {
  if (Prec != GpuPrecision::Fp32)
    return makeError("the CPU JIT posing as a GPU has no tensor cores");
  static std::mutex M;
  static std::vector<std::unique_ptr<JitModule>> Modules;
  static size_t Next = 0;
  static const auto Tramp =
      trampolines(std::make_index_sequence<MaxKernels>());
  auto L = lowerFunction(F);
  if (!L)
    return L.takeError();
  auto J = JitModule::compile(L->kernelList(), OptLevel);
  if (!J)
    return J.takeError();
  std::lock_guard<std::mutex> Lock(M);
  GpuProgram P;
  for (const LoweredStep &S : Steps) {
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    const kir::Kernel &K = *L->Kernels[S.Kernel];
    auto Fn = (*J)->lookup(K.Name);
    if (!Fn)
      return Fn.takeError();
    if (Next == MaxKernels)
      return makeError("JitAsGpu: more than " + std::to_string(MaxKernels) +
                       " kernels in one test");
    table()[Next] = *Fn;
    GpuKernelEntry E;
    // Unique over every function a test compiles: the fake driver runs a
    // kernel by name, and kernels of other functions (or of another
    // trainer) have the same names for other code.
    E.Name = K.Name + "_j" + std::to_string(Next);
    E.NumArgs = S.Ins.size() + S.Outs.size() + (S.Space ? 1 : 0);
    E.Launch = oneBlock;
    E.Emulate = Tramp[Next++];
    dlcFakeCudaRegisterKernel(E.Name.c_str(), E.NumArgs, E.Emulate);
    P.Kernels.push_back(std::move(E));
  }
  P.Ptx = fixture::fakePtx(P.Kernels);
  Modules.push_back(std::move(*J));
  return P;
}

} // namespace jitgpu
} // namespace dlc

#endif
