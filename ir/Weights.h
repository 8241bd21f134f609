// Weights files: large tensors (parameters, big constants) live in a binary
// side file that the IR text names with `weights "FILE"` and references as
// `resource<f32[784,10]>"fc1.weight"`, so printing a ResNet prints names, not
// millions of numbers.
//
// Format (little-endian): "DLCW" u32 version(1) u64 count, then per tensor:
// u32 nameLen, name bytes, u8 dtype, u32 rank, i64 dims[rank], u64 nbytes,
// data bytes.
#ifndef DLC_IR_WEIGHTS_H
#define DLC_IR_WEIGHTS_H

#include "ir/IR.h"

#include "llvm/ADT/StringMap.h"

namespace dlc {

llvm::Expected<llvm::StringMap<TensorRef>> readWeights(llvm::StringRef Path);
llvm::Error writeWeights(llvm::StringRef Path,
                         llvm::ArrayRef<std::pair<std::string, TensorRef>> Ts);

/// Moves every tensor attribute and parameter initial value with more than
/// Threshold elements into the weights file at Path, names it after its
/// value (made unique), writes the file, and points M.WeightsFile at it.
/// Smaller tensors become inline `dense` literals.
llvm::Error externalizeWeights(Module &M, llvm::StringRef Path,
                               int64_t Threshold);

} // namespace dlc

#endif
