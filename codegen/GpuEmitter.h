// GPU-mapped kernel IR to NVPTX: LLVM IR with the ptx_kernel convention and
// PTX text from LLVM's NVPTX target machine (exec/GpuAbi.h's contract).
#ifndef DLC_CODEGEN_GPUEMITTER_H
#define DLC_CODEGEN_GPUEMITTER_H

#include "kernel/KernelIR.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace dlc {

struct GpuTarget {
  std::string Arch = "sm_80"; // sm_60 .. sm_90
  unsigned OptLevel = 3;
};

/// Checks an --gpu-arch value (sm_60, sm_70, sm_75, sm_80, sm_86, sm_89,
/// sm_90); the error lists the accepted ones.
llvm::Error checkGpuArch(llvm::StringRef Arch);

/// Emits the GPU-mapped kernels into one optimized NVPTX module: each a
/// `.entry` named after its kernel taking one pointer to its BufferArg
/// block; math through dlc's own functions (replaceGpuMath).
llvm::Expected<std::unique_ptr<llvm::Module>>
buildGpuModule(llvm::ArrayRef<const kir::Kernel *> Kernels, const GpuTarget &T,
               llvm::LLVMContext &Ctx);

/// The PTX text of the kernels.
llvm::Expected<std::string> emitPtx(llvm::ArrayRef<const kir::Kernel *> Kernels,
                                    const GpuTarget &T);
/// The optimized NVPTX LLVM IR of the kernels.
llvm::Expected<std::string>
emitGpuLLVM(llvm::ArrayRef<const kir::Kernel *> Kernels, const GpuTarget &T);

/// Replaces the math calls the NVPTX backend cannot lower (exp, log, sin,
/// cos, pow, tanh, expm1, erf, atan; f32 and f64) with dlc's own
/// implementations added to M (codegen/GpuMath.cpp).
llvm::Error replaceGpuMath(llvm::Module &M);

} // namespace dlc

#endif
