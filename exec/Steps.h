// The steps a compiled graph function runs, in order: constants, views,
// kernels (one per op that computes, or one per fusion group) and host
// steps (ops on strings, and collectives: all_reduce_sum calls the run's
// communicator through interp/Collective.h; runsOnHost says which).
//
// On the GPU, nonzero is a kernel step (hasGpuDataShapeKernel); the other
// host steps run on the host between launches (exec/GpuHostStep.cpp).
//
// Strings: a `str` tensor never lives in the arena or reaches generated
// code. Every op that takes or makes one (touchesStrings) is a host step,
// views included: the executor calls a host kernel (the reference
// interpreter's, passed in by the JIT) on Tensors. A run keeps its `str`
// values as Tensors that own their bytes (inputs and constants are
// borrowed, read-only) until the outputs are copied out; numeric results of
// a host step (a bool mask, i64 counts) go to the arena like any kernel's,
// so their shapes must follow from the input shapes. A `str` result may
// have a data-dependent shape (string_split, string_normalizer); only host
// steps read it, and they see its actual shape. Derived from
// the optimized graph IR alone, so the JIT and an AOT artifact (which
// carries that IR) get the same steps and the same kernel numbering.
#ifndef DLC_EXEC_STEPS_H
#define DLC_EXEC_STEPS_H

#include "ir/FusionPlan.h"
#include "ir/IR.h"

#include <memory>
#include <vector>

namespace dlc {

/// One step of a compiled function, in execution order.
struct LoweredStep {
  enum class Kind { Constant, View, Kernel, Host } K = Kind::Kernel;
  /// The constant or view, the op of a one-op kernel, or a group's last op.
  const Operation *Op = nullptr;
  /// Kernel buffer arguments: values read, then values written.
  std::vector<const Value *> Ins, Outs;
  /// Fused groups: the value whose run-time shape is the last, shape-only
  /// argument, and the plan.
  const Value *Space = nullptr;
  std::shared_ptr<const FusionPlan> Plan;
  int Kernel = -1; // kernel number, in order of the kernel steps
  /// Outs[InPlaceOut] may take the storage of Ins[InPlaceIn] when that dies
  /// here: the kernel reads each element of it only before writing the
  /// same element of the output (-1: no such pair).
  int InPlaceIn = -1, InPlaceOut = -1;
};

/// Ops that only reinterpret the bytes of their operand (they share them).
bool isViewOp(OpKind K);

/// Whether the GPU computes Op, an op with data-sized results, with a
/// kernel of its own (nonzero: kernel/GpuNonZero.cpp): its step is then a
/// kernel step for the GPU, a host step for the CPU. Its result sizes are
/// planned as on the CPU (the planner evaluates the op first).
bool hasGpuDataShapeKernel(const Operation &Op);

/// The steps of F (fusion groups as marked by --fuse) for the CPU, or for
/// the GPU (Gpu: hasGpuDataShapeKernel ops are kernel steps). It does not
/// check that each kernel step has a lowering: the code generator does.
llvm::Expected<std::vector<LoweredStep>> planSteps(const Function &F,
                                                   bool Gpu = false);

} // namespace dlc

#endif
