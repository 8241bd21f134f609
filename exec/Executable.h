// Runs a graph function's steps on the CPU through a table of kernel
// function pointers: the JIT fills the table from its compiled module, an
// AOT artifact from the kernels linked into it. Shapes are resolved at run
// time, so one executable serves any batch size.
#ifndef DLC_EXEC_EXECUTABLE_H
#define DLC_EXEC_EXECUTABLE_H

#include "exec/KernelAbi.h"
#include "exec/Steps.h"
#include "ir/Tensor.h"
#include "runtime/Arena.h"
#include "runtime/ThreadPool.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

namespace dlc {

/// A compiled kernel: its entry point and whether it has a parallel loop.
struct KernelEntry {
  KernelFn Fn = nullptr;
  bool Parallel = false;
};

/// Runs one op on Tensors: what a host step calls (the JIT passes the
/// reference interpreter's evaluateOp). Results of a data-dependent shape
/// come back with their actual shape.
using HostKernelFn = llvm::Expected<std::vector<Tensor>> (*)(
    const Operation &Op, llvm::ArrayRef<const Tensor *> Operands);

/// Runs a control-flow op (if, loop, scan) on Tensors: the JIT runs the
/// op's compiled regions (interp/ControlFlow.h); without one the host
/// kernel interprets them.
using ControlFlowFn = std::function<llvm::Expected<std::vector<Tensor>>(
    const Operation &Op, llvm::ArrayRef<const Tensor *> Operands)>;

/// Wall time per step, summed over the runs made with it (for profiles:
/// `dlc bench --profile`). Seconds has one entry per step of steps().
struct StepTimes {
  std::vector<double> Seconds;
  unsigned Runs = 0;
};

/// Told during a run that output Output (its index in F's outputs) is final:
/// Bytes of it at Data, which stay valid and unchanged until the run
/// returns (read them, never write). An error stops the run and is
/// returned by it. Data-parallel training starts summing a bucket of
/// gradients over the ranks here while the backward pass goes on.
using OutputReadyFn = llvm::function_ref<llvm::Error(
    unsigned Output, const uint8_t *Data, size_t Bytes)>;

/// A run-time input's element type and shape, before its bytes are read.
struct InputSpec {
  DType Elem;
  llvm::ArrayRef<int64_t> Shape;
};

class Executable {
public:
  /// Steps come from planSteps(F); Kernels has one entry per kernel number.
  /// Threads: for the parallel loops of kernels; 0 means every hardware
  /// thread. Host runs the host steps (ops on str tensors); without it a
  /// function that has any is an error. F must outlive the executable.
  static llvm::Expected<std::unique_ptr<Executable>>
  create(const Function &F, std::vector<LoweredStep> Steps,
         std::vector<KernelEntry> Kernels, unsigned Threads,
         HostKernelFn Host = nullptr);
  /// The planning half only (input checks, run plans), for an executor
  /// that runs the steps elsewhere (exec/GpuExecutable); run() refuses.
  static llvm::Expected<std::unique_ptr<Executable>>
  createPlanner(const Function &F, std::vector<LoweredStep> Steps,
                HostKernelFn Host = nullptr);
  ~Executable();

  /// Runs on Inputs (in F's input order). Safe to call from several threads
  /// at once: each call runs in its own arena. Every intermediate lives in
  /// that one arena, placed by liveness once per set of input shapes (views
  /// share their operand's bytes, elementwise results may overwrite an
  /// operand that dies there); PeakBytes, when given, receives the arena's
  /// size: the most bytes of intermediates and outputs alive at once, plus
  /// fragmentation.
  /// Times, when given, receives each step's wall time (adding to it).
  /// OnOutput, when given, is called for each numeric output as soon as the
  /// step that writes it has run (before the first step for outputs that
  /// are inputs, parameters or constants), in step order.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr,
                                          StepTimes *Times = nullptr,
                                          OutputReadyFn OnOutput = {}) const;

  /// Checks inputs against the signature (count, dtype, rank, static dims,
  /// one size per symbolic dim); run() does it first too.
  llvm::Error checkInputs(llvm::ArrayRef<Tensor> Inputs) const;
  /// The same check on types and shapes alone, for callers (the C API)
  /// that must not touch a byte of an input before it passes.
  llvm::Error checkInputSpecs(llvm::ArrayRef<InputSpec> Inputs) const;
  /// The same check on the inputs' types (for inputs that live elsewhere).
  llvm::Error checkInputTypes(llvm::ArrayRef<TensorType> Types) const;

  /// How control-flow host steps run (see ControlFlowFn); set once, before
  /// the first run.
  void setControlFlow(ControlFlowFn Fn) { CF = std::move(Fn); }

  /// Refuses runs whose intermediates need more than Bytes (0: no limit)
  /// with an error instead of allocating them.
  void setMemoryLimit(uint64_t Bytes) { MemoryLimit = Bytes; }
  const Function &function() const { return *F; }
  const std::vector<LoweredStep> &steps() const { return Steps; }
  unsigned threads() const { return Pool->threads(); }

  /// Shapes and arena offsets for one set of input shapes.
  struct RunPlan {
    llvm::DenseMap<const Value *, llvm::SmallVector<int64_t, 4>> Shapes;
    /// Per value: the root whose bytes it uses, after in-place merges.
    llvm::DenseMap<const Value *, const Value *> Storage;
    llvm::DenseMap<const Value *, uint64_t> Offset; // per arena root
    uint64_t ArenaBytes = 0;
    /// The arena roots and their requests (sizes, lifetimes in steps), for
    /// an executor that places them itself.
    std::vector<const Value *> Roots;
    std::vector<rt::ArenaRequest> Requests;
    /// The largest intermediate (for out-of-memory errors).
    const Value *Largest = nullptr;
    uint64_t LargestBytes = 0;
    /// Per step: whether its kernel is worth spreading over the thread
    /// pool at these shapes (see splitWorthIt in Executable.cpp).
    std::vector<bool> Split;
  };
  /// The (cached) plan for inputs of these static types. Contents[I] must
  /// be input I's data for each I of dataInputs() (inputs whose values
  /// shape computations read); the others may be null.
  llvm::Expected<std::shared_ptr<const RunPlan>>
  planFor(llvm::ArrayRef<TensorType> Types,
          llvm::ArrayRef<const Tensor *> Contents) const;
  const std::vector<unsigned> &dataInputs() const { return DataInputs; }

private:
  Executable() = default;
  static llvm::Expected<std::unique_ptr<Executable>>
  build(const Function &F, std::vector<LoweredStep> Steps,
        std::vector<KernelEntry> Kernels, unsigned Threads, HostKernelFn Host,
        bool PlanOnly);
  llvm::Expected<std::shared_ptr<const RunPlan>>
  planFor(llvm::ArrayRef<Tensor> Inputs) const;
  llvm::Expected<std::vector<Tensor>>
  runUnguarded(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes,
               StepTimes *Times, OutputReadyFn OnOutput) const;
  template <typename PtrFn>
  llvm::Error runHost(const LoweredStep &S, const RunPlan &P,
                      llvm::DenseMap<const Value *, const Tensor *> &Strs,
                      std::deque<Tensor> &Owned, PtrFn Ptr) const;

  /// A host op's results: control flow through CF when set, else Host.
  llvm::Expected<std::vector<Tensor>>
  evalHost(const Operation &Op, llvm::ArrayRef<const Tensor *> Args) const;

  const Function *F = nullptr;
  ControlFlowFn CF;
  std::vector<LoweredStep> Steps;
  std::vector<KernelEntry> Kernels;
  HostKernelFn Host = nullptr;
  bool PlanOnly = false;
  std::unique_ptr<rt::ThreadPool> Pool;
  /// Per value: the value whose storage it uses (views use their
  /// operand's), and per storage root the last step that reads it.
  llvm::DenseMap<const Value *, const Value *> Root;
  llvm::DenseMap<const Value *, unsigned> LastRead;
  /// ReadyAfter[0]: the numeric outputs final before the first step;
  /// ReadyAfter[I + 1]: those that step I finishes.
  std::vector<llvm::SmallVector<unsigned, 2>> ReadyAfter;
  /// The shape cone: values whose contents the shape operands of by_value
  /// ops need, evaluated with the reference interpreter when a plan is
  /// built; and the inputs whose data it reads (their values join the plan
  /// key).
  llvm::DenseSet<const Value *> Cone;
  std::vector<unsigned> DataInputs;
  mutable std::mutex PlanMutex;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const RunPlan>> Plans;
  mutable rt::ArenaPool Arenas;
  std::atomic<uint64_t> MemoryLimit{0};
};

/// Gather indices must lie in [-N, N) for an axis of size N: checked
/// before the kernel runs, which then only normalizes negative ones.
llvm::Error checkGatherIndices(const Operation &Op, int64_t N,
                               const Tensor &Idx);

} // namespace dlc

#endif
