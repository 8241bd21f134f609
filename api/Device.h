// The device switch: where a model runs (the CPU, a CUDA GPU, or the CPU
// emulation of one) and how a function is compiled for a GPU. The GPU code
// generator plugs in here (setGpuCodegen); without one, asking for a GPU
// device is a clear error, never a crash.
#ifndef DLC_API_DEVICE_H
#define DLC_API_DEVICE_H

#include "exec/GpuExecutable.h"

#include "llvm/Support/Error.h"

namespace dlc {

enum class DeviceKind {
  Cpu,
  Cuda,     // an NVIDIA GPU through the CUDA driver
  CudaEmu,  // the same GPU kernels emulated on the CPU (tests, CI)
};

/// "cpu", "cuda" or "cuda-emu"; anything else is an error saying so.
llvm::Expected<DeviceKind> parseDevice(llvm::StringRef Name);
llvm::StringRef deviceName(DeviceKind D);

/// "fp32", "tf32" or "bf16" (exec/GpuAbi.h's GpuPrecision); anything else is an
/// error saying so.
llvm::Expected<GpuPrecision> parsePrecision(llvm::StringRef Name);
/// "fp32", "tf32" or "bf16".
llvm::StringRef precisionName(GpuPrecision P);
/// Whether precision P can run on device D: tf32 needs a GPU device (the
/// CPU has no tensor cores; it is refused, never ignored).
llvm::Error checkPrecision(DeviceKind D, GpuPrecision P);

/// Makes the GPU kernels of F's kernel steps (Steps from planSteps(F)), in
/// kernel-number order, with their PTX for Arch ("sm_90"; empty: no PTX,
/// for the emulation), multiplying matrices at precision P.
using GpuCodegenFn = llvm::Expected<GpuProgram> (*)(
    const Function &F, const std::vector<LoweredStep> &Steps,
    unsigned OptLevel, llvm::StringRef Arch, GpuPrecision P);
/// The code generator used for GPU devices (nvptxCodegen unless set; null:
/// a GPU device is refused as not supported). Returns the previous one.
GpuCodegenFn setGpuCodegen(GpuCodegenFn Fn);

/// Device memory for D (a GPU kind): loads the CUDA driver for cuda, so a
/// machine without one gets the error that says to use --device cpu.
llvm::Expected<std::shared_ptr<GpuMemoryPool>> gpuMemory(DeviceKind D);

/// F (optimized, as for the CPU JIT) compiled for D's GPU, with its memory
/// from Pool, at precision P (tf32 on a real GPU needs sm_80 or newer).
llvm::Expected<std::unique_ptr<GpuExecutable>>
compileForGpu(const Function &F, DeviceKind D, unsigned OptLevel,
              std::shared_ptr<GpuMemoryPool> Pool,
              GpuPrecision P = GpuPrecision::Fp32);

} // namespace dlc

#endif
