// The CPU side of GPU-mapped kernels (exec/GpuAbi.h): the emulation of one
// block on the CPU, the host launch-geometry function, and a runner that
// executes a whole graph function through the emulation.
#ifndef DLC_CODEGEN_GPUEMULATION_H
#define DLC_CODEGEN_GPUEMULATION_H

#include "codegen/Executor.h"
#include "exec/GpuAbi.h"
#include "exec/GpuDevice.h"

namespace dlc {

struct GpuTarget; // codegen/GpuEmitter.h

/// How graph functions become GPU kernels.
struct GpuOptions {
  /// Threads per block of row reductions (--kir-gpu-rows): a power of two
  /// in 2..1024.
  unsigned RowThreads = 256;
  /// Matmuls on tensor cores with tf32 inputs (--precision tf32) instead of
  /// fp32 FMAs (kernel/GpuGemmTf32.cpp).
  bool Tf32 = false;
  /// Matmuls on tensor cores with bf16 inputs (--precision bf16;
  /// m16n8k16, f32 sums).
  bool Bf16 = false;
};

/// The names of the host functions emitted for GPU kernel K.
std::string gpuEmulateName(llvm::StringRef Kernel); // GpuEmulateFn
std::string gpuLaunchName(llvm::StringRef Kernel);  // GpuLaunchFn
std::string gpuGridName(llvm::StringRef Kernel);    // KernelFn: every block

/// Rewrites GPU-mapped K into a CPU kernel named K.Name + ".emu" that runs
/// one block: `threads` regions become loops over the block's threads (so
/// code between two barriers runs for every thread before the next part),
/// `shared` and per-thread `scratch` become arrays of the call, and block
/// ids and grid sizes are the sizes of one more argument, `%gpu.ids`
/// ([bx, by, bz, gx, gy, gz]).
llvm::Expected<std::unique_ptr<kir::Kernel>>
emulationKernel(const kir::Kernel &K);

/// Rewrites the warp-collective ops of GPU-mapped K (shuffles, mma) into
/// exchanges through shared memory between split threads regions, with the
/// same results (codegen/GpuWarpEmulation.cpp): for the emulation, whose
/// threads run one after the other.
llvm::Error lowerWarpOps(kir::Kernel &K);

/// Emits into M (which already holds the emulation kernel of K) the host
/// functions of K: launch geometry, one block, and the whole grid as a
/// KernelFn whose chunks split the blocks.
llvm::Error emitGpuHostFunctions(const kir::Kernel &K, llvm::Module &M);

/// Maps each CPU kernel of L to the GPU: --kir-gpu-rows, then --kir-gpu-map
/// for what is left (256 threads per block).
llvm::Error mapKernelsForGpu(LoweredFunction &L, const GpuOptions &G = {});

/// Lowers F and maps its kernels to the GPU (see mapKernelsForGpu).
llvm::Expected<LoweredFunction> lowerFunctionForGpu(const Function &F,
                                                    const GpuOptions &G = {});

/// A graph function compiled for the GPU: its GPU-mapped kernels, their
/// PTX (when a target is given), their host functions JIT-compiled for the
/// CPU (exec/GpuAbi.h: launch geometry and one-block emulation) and the
/// steps that run them (exec/Steps.h, kernel numbers index entries()). What
/// a GPU executor loads.
class GpuCompilation {
public:
  /// Host functions at OptLevel; PTX only when T is given.
  static llvm::Expected<std::unique_ptr<GpuCompilation>>
  compile(const Function &F, const GpuTarget *T, unsigned OptLevel = 2,
          const GpuOptions &G = {});
  ~GpuCompilation();

  const std::string &ptx() const { return Ptx; }
  const std::vector<GpuKernelEntry> &entries() const { return Entries; }
  const std::vector<LoweredStep> &steps() const { return Steps; }
  const std::vector<std::unique_ptr<kir::Kernel>> &kernels() const {
    return Kernels;
  }
  /// Kernel K's whole grid run on the CPU through the emulation, as a
  /// KernelFn whose chunks split the blocks (exec/Executable can run it).
  KernelFn gridEmulation(unsigned K) const { return Grids[K]; }

private:
  GpuCompilation() = default;
  std::unique_ptr<JitModule> Jit;
  std::vector<std::unique_ptr<kir::Kernel>> Kernels;
  std::vector<GpuKernelEntry> Entries;
  std::vector<KernelFn> Grids;
  std::vector<LoweredStep> Steps;
  std::string Ptx;
};

/// A graph function compiled for the GPU and run through the CPU emulation
/// of its kernels: the check of the GPU mapping without a GPU.
class GpuEmulatedFunction {
public:
  static llvm::Expected<std::unique_ptr<GpuEmulatedFunction>>
  compile(const Function &F, unsigned OptLevel = 2, unsigned Threads = 0,
          const GpuOptions &G = {});
  ~GpuEmulatedFunction();

  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs) const {
    return Exec->run(Inputs);
  }
  /// The GPU-mapped kernels, and their host entries (exec/GpuAbi.h).
  const std::vector<std::unique_ptr<kir::Kernel>> &kernels() const {
    return Program->kernels();
  }
  const std::vector<GpuKernelEntry> &entries() const {
    return Program->entries();
  }

private:
  GpuEmulatedFunction() = default;
  std::unique_ptr<GpuCompilation> Program;
  std::unique_ptr<Executable> Exec;
};

/// The GPU code generator for dlc's GPU executor (api/Device.h's
/// GpuCodegenFn): F's kernels, one per kernel step of Steps (planSteps(F))
/// in kernel-number order, with their PTX for Arch ("sm_90"; empty: none,
/// for the emulation) and host functions, which the program's Owner keeps
/// loaded.
llvm::Expected<GpuProgram> nvptxCodegen(const Function &F,
                                        const std::vector<LoweredStep> &Steps,
                                        unsigned OptLevel,
                                        llvm::StringRef Arch,
                                        GpuPrecision P = GpuPrecision::Fp32);

} // namespace dlc

#endif
