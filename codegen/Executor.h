// Runs a whole graph function on the CPU: every op with a kernel lowering is
// compiled once by the JIT; shapes are resolved at run time, so one compiled
// function serves any batch size.
#ifndef DLC_CODEGEN_EXECUTOR_H
#define DLC_CODEGEN_EXECUTOR_H

#include "codegen/Jit.h"
#include "exec/Executable.h"
#include "kernel/KernelIR.h"

namespace dlc {

/// The kernels of a function: one per op that computes, or one per fusion
/// group (ops marked `fusion = K` by --fuse), in kernel-number order, and
/// the steps that run them (see exec/Steps.h).
struct LoweredFunction {
  std::vector<std::unique_ptr<kir::Kernel>> Kernels;
  std::vector<LoweredStep> Steps;
  /// The kernels, for the JIT or the object emitters.
  std::vector<const kir::Kernel *> kernelList() const {
    std::vector<const kir::Kernel *> R;
    for (auto &K : Kernels)
      R.push_back(K.get());
    return R;
  }
};

/// Choices of the lowering for a target other than the host CPU.
struct LowerOptions {
  /// Kernels for the GPU: float matmuls, alone or with a fused epilogue, as
  /// the GPU's tiled kernel (kernel/GpuGemm.cpp) instead of the CPU's
  /// register-blocked one; depthwise convs without the CPU's per-thread
  /// plane buffers.
  bool Gpu = false;
  /// With Gpu: matmuls on tensor cores with tf32 inputs (--precision tf32).
  bool Tf32 = false;
  /// With Gpu: matmuls on tensor cores with bf16 inputs (--precision bf16).
  bool Bf16 = false;
  /// With Gpu: threads per block of argmax / argmin (--kir-gpu-rows' N).
  unsigned RowThreads = 256;
};

/// Lowers every op of F to kernel IR, one kernel per fusion group; ops
/// without a CPU lowering are all reported at once, with locations.
llvm::Expected<LoweredFunction> lowerFunction(const Function &F,
                                              const LowerOptions &O = {});

/// The host's widest vector register in bytes (64 with AVX-512).
unsigned hostVectorBytes();

class CompiledFunction {
public:
  /// Compiles F (which should be decomposed: see the `optimize` pipeline).
  /// Ops without a CPU lowering are all reported at once, with locations.
  /// Threads: for the parallel loops of kernels; 0 means every hardware
  /// thread.
  static llvm::Expected<std::unique_ptr<CompiledFunction>>
  compile(const Function &F, unsigned OptLevel = 3, unsigned Threads = 0) {
    JitOptions O;
    O.OptLevel = OptLevel;
    O.Threads = Threads;
    return compile(F, O, Threads);
  }
  /// The same with every JIT option; Threads also bounds the compile
  /// threads. Opts.Stats receives the lowering and JIT phases.
  static llvm::Expected<std::unique_ptr<CompiledFunction>>
  compile(const Function &F, const JitOptions &Opts, unsigned Threads);
  ~CompiledFunction();

  /// Runs on Inputs (in F's input order); see Executable::run.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr,
                                          StepTimes *Times = nullptr,
                                          OutputReadyFn OnOutput = {}) const {
    return Exec->run(Inputs, PeakBytes, Times, OnOutput);
  }
  const Executable &executable() const { return *Exec; }
  /// Kernel K's name (the kernel number of a step).
  llvm::StringRef kernelName(int K) const { return Kernels[K]->Name; }

  /// See Executable::setMemoryLimit.
  void setMemoryLimit(uint64_t Bytes) { Exec->setMemoryLimit(Bytes); }

  /// The optimized LLVM IR of the kernels (emitted again on each call).
  std::string llvmIR() const;
  /// Whether compile() can handle op Op (for `dlc --list-ops`).
  static bool supports(const Operation &Op);

private:
  CompiledFunction();

  std::unique_ptr<JitModule> Jit;
  std::vector<std::unique_ptr<kir::Kernel>> Kernels;
  std::unique_ptr<Executable> Exec;
  /// The compiled regions of F's control-flow ops.
  std::vector<std::unique_ptr<CompiledFunction>> Regions;
  llvm::DenseMap<const Function *, const CompiledFunction *> RegionOf;
  unsigned OptLevel = 3;
};

} // namespace dlc

#endif
