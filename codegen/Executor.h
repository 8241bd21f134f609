// Runs a whole graph function on the CPU: every op with a kernel lowering is
// compiled once by the JIT; shapes are resolved at run time, so one compiled
// function serves any batch size.
#ifndef DLC_CODEGEN_EXECUTOR_H
#define DLC_CODEGEN_EXECUTOR_H

#include "codegen/Jit.h"
#include "ir/FusionPlan.h"
#include "ir/IR.h"
#include "ir/Tensor.h"
#include "kernel/KernelIR.h"
#include "runtime/Arena.h"
#include "runtime/ThreadPool.h"

#include <map>
#include <mutex>

namespace dlc {

/// One step of a compiled function, in execution order.
struct LoweredStep {
  enum class Kind { Constant, View, Kernel } K = Kind::Kernel;
  /// The constant or view, the op of a one-op kernel, or a group's last op.
  const Operation *Op = nullptr;
  /// Kernel buffer arguments: values read, then values written.
  std::vector<const Value *> Ins, Outs;
  /// Fused groups: the value whose run-time shape is the last, shape-only
  /// argument, and the plan.
  const Value *Space = nullptr;
  std::shared_ptr<const FusionPlan> Plan;
  int Kernel = -1; // index into LoweredFunction::Kernels
  /// Outs[InPlaceOut] may take the storage of Ins[InPlaceIn] when that dies
  /// here: the kernel reads each element of it only before writing the
  /// same element of the output (-1: no such pair).
  int InPlaceIn = -1, InPlaceOut = -1;
};

/// The kernels of a function: one per op that computes, or one per fusion
/// group (ops marked `fusion = K` by --fuse), and the steps that run them.
struct LoweredFunction {
  std::vector<std::unique_ptr<kir::Kernel>> Kernels;
  std::vector<LoweredStep> Steps;
};

/// Lowers every op of F to kernel IR, one kernel per fusion group; ops
/// without a CPU lowering are all reported at once, with locations.
llvm::Expected<LoweredFunction> lowerFunction(const Function &F);

/// Ops that only reinterpret the bytes of their operand (they share them).
bool isViewOp(OpKind K);

/// The host's widest vector register in bytes (64 with AVX-512).
unsigned hostVectorBytes();

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
  /// at once: each call runs in its own arena. Every intermediate lives in
  /// that one arena, placed by liveness once per set of input shapes (views
  /// share their operand's bytes, elementwise results may overwrite an
  /// operand that dies there); PeakBytes, when given, receives the arena's
  /// size: the most bytes of intermediates and outputs alive at once, plus
  /// fragmentation.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr) const;

  const std::string &llvmIR() const { return Jit->llvmIR(); }
  /// Whether compile() can handle op Op (for `dlc --list-ops`).
  static bool supports(const Operation &Op);

  struct RunPlan; // shapes and arena offsets for one set of input shapes

private:
  CompiledFunction();
  llvm::Expected<std::shared_ptr<const RunPlan>>
  planFor(llvm::ArrayRef<Tensor> Inputs) const;

  const Function *F = nullptr;
  std::unique_ptr<JitModule> Jit;
  LoweredFunction Lowered;
  std::vector<KernelFn> Fns;    // per step (null unless a kernel)
  std::vector<bool> Parallel;   // per step: its kernel has a parallel loop
  std::unique_ptr<rt::ThreadPool> Pool;
  /// Per value: the value whose storage it uses (views use their
  /// operand's), and per storage root the last step that reads it.
  llvm::DenseMap<const Value *, const Value *> Root;
  llvm::DenseMap<const Value *, unsigned> LastRead;
  mutable std::mutex PlanMutex;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const RunPlan>> Plans;
  mutable rt::ArenaPool Arenas;
};

} // namespace dlc

#endif
