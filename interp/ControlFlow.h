// Runs the control-flow ops (if, loop, scan; see ir/ControlFlow.h) given a
// way to run a region: the interpreter interprets it, the JIT runs the
// region's compiled executable. One implementation of their semantics.
#ifndef DLC_INTERP_CONTROLFLOW_H
#define DLC_INTERP_CONTROLFLOW_H

#include "ir/IR.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace dlc {

/// Runs Region on Inputs (in its input order) and returns its outputs.
using RegionRunFn = llvm::function_ref<llvm::Expected<std::vector<Tensor>>(
    const Function &Region, llvm::ArrayRef<Tensor> Inputs)>;

/// Op (an if, loop or scan) on concrete operands: only the taken branch of
/// an if runs; a loop runs while its counter is below the trip count and
/// its condition holds, at most maxLoopIterations() times (then an error
/// at Op's location); a scan runs once per slice.
llvm::Expected<std::vector<Tensor>>
runControlFlow(const Operation &Op, llvm::ArrayRef<const Tensor *> Operands,
               RegionRunFn Run);

} // namespace dlc

#endif
