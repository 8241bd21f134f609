// Ahead-of-time compilation for the GPU (`dlc compile --target nvptx -o
// NAME.so`): the same kernels the JIT's GPU devices run, embedded in an
// object file with the graph, for libdlc_runtime's GPU executor.
//
// 1. For each precision asked for (the first is the default), lower F for
//    the GPU as nvptxCodegen does (lowerFunctionForGpu), name its kernels
//    <prefix>_<precision>_<kernel> (unique across precisions: the PTX entry
//    names, and the symbols of their host functions), and emit their PTX.
// 2. Check each kernel list against planSteps(F), which the runtime runs on
//    the same graph text: one kernel per kernel step, with its buffers.
// 3. One host module holds every kernel's CPU side (exec/GpuAbi.h): its
//    launch-geometry function and the emulation of one block (with the
//    GPU's math), all internal.
// 4. The GPU image (dlc_aot_gpu_image in dlc_runtime.h): per precision the
//    PTX text and the kernel table (entry name, buffer count, launch and
//    emulation functions). It is exported as <prefix>_gpu_image, for tools
//    and tests that want the PTX.
// 5. finishAotObject (Aot.cpp) adds the graph, its tensors and the entry
//    points; <prefix>_create loads the model on the GPU. The driver is
//    loaded (dlopen) and the PTX compiled by it only then, at run time.
#include "codegen/Aot.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "codegen/Jit.h"
#include "exec/dlc_runtime.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Target/TargetMachine.h"

using namespace dlc;

namespace {
/// F's kernels at one precision.
struct Program {
  GpuPrecision Prec;
  std::vector<std::unique_ptr<kir::Kernel>> Kernels, Emu;
  std::string Ptx;
};
} // namespace

static int32_t cPrecision(GpuPrecision P) {
  switch (P) {
  case GpuPrecision::Fp32:
    return DLC_PRECISION_FP32;
  case GpuPrecision::Tf32:
    return DLC_PRECISION_TF32;
  case GpuPrecision::Bf16:
    return DLC_PRECISION_BF16;
  }
  llvm_unreachable("bad precision");
}

/// Steps 1 and 2 for precision P.
static llvm::Expected<Program>
gpuProgram(const Function &F, const AotOptions &Opts, GpuPrecision P,
           const std::vector<LoweredStep> &RuntimeSteps) {
  GpuOptions G;
  G.Tf32 = P == GpuPrecision::Tf32;
  G.Bf16 = P == GpuPrecision::Bf16;
  auto L = lowerFunctionForGpu(F, G);
  if (!L)
    return L.takeError();
  Program R{P, {}, {}, {}};
  for (auto &K : L->Kernels) {
    K->Name = Opts.Prefix + "_" + gpuPrecisionName(P) + "_" + K->Name;
    R.Kernels.push_back(std::move(K));
  }
  size_t Next = 0;
  for (const LoweredStep &S : RuntimeSteps) {
    if (S.K != LoweredStep::Kind::Kernel)
      continue;
    unsigned Args = unsigned(S.Ins.size() + S.Outs.size() + (S.Space ? 1 : 0));
    if (size_t(S.Kernel) != Next++ || size_t(S.Kernel) >= R.Kernels.size() ||
        R.Kernels[S.Kernel]->Args.size() != Args)
      return makeError("'@" + F.Name + "': the GPU kernels do not match the "
                       "runtime's steps (kernel " + std::to_string(S.Kernel) +
                       ")");
  }
  if (Next != R.Kernels.size())
    return makeError("'@" + F.Name + "': " + std::to_string(R.Kernels.size()) +
                     " GPU kernels for " + std::to_string(Next) +
                     " kernel steps");
  GpuTarget T;
  T.Arch = Opts.GpuArch;
  T.OptLevel = Opts.OptLevel;
  std::vector<const kir::Kernel *> Ks;
  for (auto &K : R.Kernels) {
    Ks.push_back(K.get());
    auto C = emulationKernel(*K);
    if (!C)
      return C.takeError();
    R.Emu.push_back(std::move(*C));
  }
  auto Ptx = emitPtx(Ks, T);
  if (!Ptx)
    return Ptx.takeError();
  R.Ptx = std::move(*Ptx);
  return std::move(R);
}

llvm::Error dlc::emitGpuAotObject(const Function &F, const AotOptions &Opts,
                                  llvm::raw_pwrite_stream &OS) {
  assert(isCIdentifier(Opts.Prefix) && "prefix must be a C identifier");
  assert(!Opts.Precisions.empty() && "a GPU artifact needs a precision");
  if (auto E = checkGpuArch(Opts.GpuArch))
    return E;
  unsigned Sm = 0;
  llvm::StringRef(Opts.GpuArch).substr(3).getAsInteger(10, Sm);
  auto RuntimeSteps = planSteps(F, /*Gpu=*/true);
  if (!RuntimeSteps)
    return RuntimeSteps.takeError();
  std::vector<Program> Progs;
  for (GpuPrecision P : Opts.Precisions) {
    auto R = gpuProgram(F, Opts, P, *RuntimeSteps);
    if (!R)
      return R.takeError();
    Progs.push_back(std::move(*R));
  }

  // 3. The host side of every kernel (as GpuCompilation does for the JIT).
  std::vector<const kir::Kernel *> Emu;
  for (const Program &R : Progs)
    for (auto &K : R.Emu)
      Emu.push_back(K.get());
  unsigned HostOpt = std::min(Opts.OptLevel, 2u);
  auto TM = hostTargetMachine(HostOpt);
  if (!TM)
    return TM.takeError();
  llvm::LLVMContext Ctx;
  auto MOr = buildHostModule(
      Emu, HostOpt, **TM, Ctx, [&](llvm::Module &M) -> llvm::Error {
        for (const Program &R : Progs)
          for (auto &K : R.Kernels) {
            if (auto E = emitGpuHostFunctions(*K, M))
              return E;
            // The whole grid on the CPU is the JIT's; not needed here.
            if (llvm::Function *G = M.getFunction(gpuGridName(K->Name)))
              G->eraseFromParent();
          }
        return replaceGpuMath(M);
      });
  if (!MOr)
    return MOr.takeError();
  llvm::Module &M = **MOr;
  for (llvm::Function &Fn : M)
    if (!Fn.isDeclaration())
      Fn.setLinkage(llvm::GlobalValue::InternalLinkage);

  // 4. The GPU image.
  const std::string &P = Opts.Prefix;
  llvm::Type *I32 = llvm::Type::getInt32Ty(Ctx),
             *I64 = llvm::Type::getInt64Ty(Ctx),
             *Ptr = llvm::PointerType::get(Ctx, 0);
  auto global = [&](llvm::Constant *Init, const std::string &Name) {
    return new llvm::GlobalVariable(M, Init->getType(), /*isConstant=*/true,
                                    llvm::GlobalValue::PrivateLinkage, Init,
                                    P + "_" + Name);
  };
  // dlc_aot_gpu_kernel: name, n_args, reserved, launch, emulate.
  auto *KernelTy = llvm::StructType::get(Ctx, {Ptr, I32, I32, Ptr, Ptr});
  // dlc_aot_gpu_program: precision, sm, ptx, ptx_len, kernels, n_kernels.
  auto *ProgTy = llvm::StructType::get(Ctx, {I32, I32, Ptr, I64, Ptr, I64});
  std::vector<llvm::Constant *> ProgList;
  for (const Program &R : Progs) {
    std::string Tag = gpuPrecisionName(R.Prec);
    std::vector<llvm::Constant *> Table;
    for (auto &K : R.Kernels) {
      llvm::Function *Launch = M.getFunction(gpuLaunchName(K->Name));
      llvm::Function *Emulate = M.getFunction(gpuEmulateName(K->Name));
      if (!Launch || !Emulate)
        return makeError("kernel @" + K->Name + ": host functions missing");
      Table.push_back(llvm::ConstantStruct::get(
          KernelTy,
          {global(llvm::ConstantDataArray::getString(Ctx, K->Name, true),
                  "kname_" + K->Name),
           llvm::ConstantInt::get(I32, K->Args.size()),
           llvm::ConstantInt::get(I32, 0), Launch, Emulate}));
    }
    auto *Ptx = global(llvm::ConstantDataArray::getString(Ctx, R.Ptx, true),
                       "ptx_" + Tag);
    auto *Kernels = global(
        llvm::ConstantArray::get(llvm::ArrayType::get(KernelTy, Table.size()),
                                 Table),
        "gpu_kernels_" + Tag);
    ProgList.push_back(llvm::ConstantStruct::get(
        ProgTy, {llvm::ConstantInt::get(I32, cPrecision(R.Prec)),
                 llvm::ConstantInt::get(I32, Sm), Ptx,
                 llvm::ConstantInt::get(I64, R.Ptx.size()), Kernels,
                 llvm::ConstantInt::get(I64, Table.size())}));
  }
  auto *ProgArray = global(
      llvm::ConstantArray::get(llvm::ArrayType::get(ProgTy, ProgList.size()),
                               ProgList),
      "gpu_programs");
  // dlc_aot_gpu_image: abi_version, n_programs, programs.
  auto *ImageTy = llvm::StructType::get(Ctx, {I32, I32, Ptr});
  auto *Image = new llvm::GlobalVariable(
      M, ImageTy, /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
      llvm::ConstantStruct::get(
          ImageTy, {llvm::ConstantInt::get(I32, DLC_AOT_GPU_ABI_VERSION),
                    llvm::ConstantInt::get(I32, ProgList.size()), ProgArray}),
      P + "_gpu_image");
  return finishAotObject(F, Opts, M, **TM, {}, {}, Image, OS);
}
