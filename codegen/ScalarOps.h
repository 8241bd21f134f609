// LLVM IR for one elementwise op on scalars, shared by the CPU and NVPTX
// emitters. Values are in the compute type of their element type (f16 and
// bf16 as float, bool as i1).
#ifndef DLC_CODEGEN_SCALAROPS_H
#define DLC_CODEGEN_SCALAROPS_H

#include "ir/OpInfo.h"
#include "ir/Types.h"

#include "llvm/IR/IRBuilder.h"

#include <string>
#include <utility>
#include <vector>

namespace dlc {

struct ScalarOpInput {
  OpKind Kind;
  DType OperandType; // element type of the (first data) operand
  DType ResultType;
  llvm::ArrayRef<llvm::Value *> Args;
  llvm::ArrayRef<std::pair<std::string, double>> Attrs; // e.g. alpha, min
};

/// The numeric attribute Name of In, or Def when it is absent.
double attrOr(const ScalarOpInput &In, llvm::StringRef Name, double Def);

/// The LLVM type scalars of E compute in: f16 and bf16 as float, bool as i1.
llvm::Type *scalarComputeType(llvm::IRBuilder<> &B, DType E);

/// Emits the op, or returns null when it has no lowering for these types
/// (see scalarOpSupported).
llvm::Value *emitScalarOp(llvm::IRBuilder<> &B, llvm::Module &M,
                          const ScalarOpInput &In);
bool scalarOpSupported(OpKind K, DType OperandType);

} // namespace dlc

#endif
