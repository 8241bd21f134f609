// Runs a whole graph function on the CPU: every op with a kernel lowering is
// compiled once by the JIT; shapes are resolved at run time, so one compiled
// function serves any batch size.
#ifndef DLC_CODEGEN_EXECUTOR_H
#define DLC_CODEGEN_EXECUTOR_H

#include "codegen/Jit.h"
#include "ir/IR.h"
#include "ir/Tensor.h"
#include "kernel/KernelIR.h"
#include "runtime/ThreadPool.h"

namespace dlc {

/// The kernels of a function: one per op that computes (constants and
/// views have none), in op order.
struct LoweredFunction {
  std::vector<std::unique_ptr<kir::Kernel>> Kernels;
  std::vector<int> KernelOf; // per op of the body: index into Kernels or -1
};

/// Lowers every op of F to kernel IR; ops without a CPU lowering are all
/// reported at once, with locations.
llvm::Expected<LoweredFunction> lowerFunction(const Function &F);

class CompiledFunction {
public:
  /// Compiles F (which should be decomposed: see the `optimize` pipeline).
  /// Ops without a CPU lowering are all reported at once, with locations.
  /// Threads: for the parallel loops of kernels; 0 means every hardware
  /// thread.
  static llvm::Expected<std::unique_ptr<CompiledFunction>>
  compile(const Function &F, unsigned OptLevel = 3, unsigned Threads = 0);
  ~CompiledFunction();

  /// Runs on Inputs (in F's input order). Safe to call from several threads
  /// at once: it keeps no state between calls.
  /// Intermediates are freed after their last use; PeakBytes, when given,
  /// receives the largest number of bytes of intermediates and outputs
  /// alive at once during this run.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr) const;

  const std::string &llvmIR() const { return Jit->llvmIR(); }
  /// Whether compile() can handle op Op (for `dlc --list-ops`).
  static bool supports(const Operation &Op);

private:
  CompiledFunction() = default;
  const Function *F = nullptr;
  std::unique_ptr<JitModule> Jit;
  std::vector<KernelFn> Kernels; // per op of F.Body, null when not a kernel
  std::vector<bool> ParallelKernel; // per op: its kernel has a parallel loop
  std::unique_ptr<rt::ThreadPool> Pool;
  /// Per op of F.Body: the values whose last use it is (freed after it).
  std::vector<std::vector<const Value *>> DiesAfter;
};

} // namespace dlc

#endif
