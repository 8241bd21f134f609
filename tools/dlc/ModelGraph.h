// What the driver's model views (summary, viz) and compile share: the entry
// function of a module, the values that depend on its inputs, op names.
#ifndef DLC_TOOLS_DLC_MODELGRAPH_H
#define DLC_TOOLS_DLC_MODELGRAPH_H

#include "ir/IR.h"

#include "llvm/ADT/DenseSet.h"

namespace dlc {

/// @main, else the module's first function.
llvm::Expected<const Function *> entryFunction(const Module &M);

/// The values that depend on a function input; the others (parameters,
/// constants such as ONNX initializers, weights a model draws itself) are
/// the same in every run.
llvm::DenseSet<const Value *> inputDependent(const Function &F);

/// An op's name for people: the ONNX node it came from, else its first
/// result's name (%x), else its line, else "-".
std::string opDisplayName(const Operation &Op);

} // namespace dlc

#endif
