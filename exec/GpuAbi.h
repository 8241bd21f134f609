// The contract between the GPU code generator (codegen/Gpu*), which makes
// kernels, and the GPU executor (exec/Gpu*, runtime/Cuda*), which runs them
// on a CUDA device or on the CPU emulation of one.
//
// Device side. Every kernel is a PTX `.entry` named after the kernel-IR
// kernel, with exactly one parameter: a 64-bit pointer (global address
// space) to the kernel's parameter block in device memory. The block holds
// BufferArg[NumArgs] (Data and Sizes are device addresses), followed by the
// int64 sizes arrays the Sizes fields point to. It is the CPU kernel ABI
// (exec/KernelAbi.h) moved to the device; the executor writes each kernel's
// block once per run plan, so a launch passes one pointer.
//
// Launch geometry is computed on the host by a function the code generator
// compiles for the CPU: it reads only the Sizes of the buffers (host
// pointers; Data is never read). A grid with a zero dimension means there is
// no work: the executor skips the launch.
//
// Emulation. The same GPU-mapped kernel IR is also compiled for the CPU as
// a function that runs one whole block: every thread of it, the code between
// two barriers run for all threads before the next part starts, shared
// memory as a per-call array. Running every block of the grid in any order
// must give the GPU's results; this is how CI checks the GPU mapping
// without a GPU. Args there are host pointers.
#ifndef DLC_EXEC_GPUABI_H
#define DLC_EXEC_GPUABI_H

#include "exec/KernelAbi.h"

#include <cstdint>
#include <string>

namespace dlc {

/// How GPU kernels multiply f32 matrices: fp32 FMAs (the default), or
/// tensor cores with inputs rounded to tf32 (10-bit mantissas; an opt-in
/// precision, about 1e-3 relative, never chosen silently), or with inputs
/// rounded to bf16 (7-bit mantissas, about 1e-2 relative).
enum class GpuPrecision { Fp32, Tf32, Bf16 };

/// The precision's name in options, messages and artifact symbols.
inline const char *gpuPrecisionName(GpuPrecision P) {
  switch (P) {
  case GpuPrecision::Tf32:
    return "tf32";
  case GpuPrecision::Bf16:
    return "bf16";
  case GpuPrecision::Fp32:
    break;
  }
  return "fp32";
}

struct GpuLaunch {
  uint32_t Grid[3] = {0, 1, 1};  // blocks in x, y, z
  uint32_t Block[3] = {1, 1, 1}; // threads per block in x, y, z
  uint32_t SharedBytes = 0;      // dynamic shared memory per block
};

/// Fills Out with the launch of a kernel over buffers of the given sizes.
using GpuLaunchFn = void (*)(const BufferArg *HostArgs, GpuLaunch *Out);

/// Runs block (BX, BY, BZ) of launch L on the CPU, all of its threads.
using GpuEmulateFn = void (*)(const BufferArg *Args, const GpuLaunch *L,
                              uint32_t BX, uint32_t BY, uint32_t BZ);

/// One compiled GPU kernel.
struct GpuKernelEntry {
  std::string Name;               // the PTX .entry name
  unsigned NumArgs = 0;           // BufferArgs in its parameter block
  GpuLaunchFn Launch = nullptr;   // host: launch geometry
  GpuEmulateFn Emulate = nullptr; // host: one block on the CPU
};

} // namespace dlc

#endif
