// The optimizer update of one parameter as graph IR (SGD, momentum,
// Nesterov, Adam, AdamW, RMSprop, Adagrad), with its state tensors as new
// inputs of the function: shared by the fused training step and the
// separate update of data-parallel training (passes/TrainingStep.cpp).
#ifndef DLC_PASSES_OPTIMIZERUPDATE_H
#define DLC_PASSES_OPTIMIZERUPDATE_H

#include "passes/TrainingStep.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dlc {

/// Builds optimizer updates at B's insertion point in F.
struct OptimizerUpdate {
  Function &F;
  OpBuilder &B;
  const OptimizerConfig &Opt;
  Value *T; // the step number + 1 (i64 scalar)
  /// Per state input added, the index of the parameter it belongs to.
  std::vector<unsigned> &StateOf;
  /// The new value of every state input added, named "<kind>.<param>".
  std::vector<std::pair<std::string, Value *>> NewState;

  /// Adam's bias corrections 1 - beta1^t (Which 0) and 1 - beta2^t (1), as
  /// scalars built once per element type and shared by every parameter.
  std::map<std::pair<DType, int>, Value *> Corrections;

  /// Returns the new value of parameter P (input Index) with gradient G;
  /// state inputs it needs ("m.<param>", ...) are added to F.
  Value *update(Value *P, unsigned Index, Value *G);

private:
  Value *c(DType E, double V);
  Value *correction(DType E, int Which);
  Value *mk(OpKind K, llvm::ArrayRef<Value *> Ops);
  Value *state(Value *P, unsigned Index, llvm::StringRef Kind);
};

} // namespace dlc

#endif
