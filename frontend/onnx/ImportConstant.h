// Bounds on the constants the ONNX importer builds itself (masks, DFT
// matrices, window counts) from dims a model declares: folded up to
// FoldLimit elements, never past ImportConstantBytes.
#ifndef DLC_FRONTEND_ONNX_IMPORTCONSTANT_H
#define DLC_FRONTEND_ONNX_IMPORTCONSTANT_H

#include "ir/Tensor.h"

#include "llvm/ADT/Twine.h"

#include <optional>

namespace dlc {
namespace onnximp {

class NodeContext;

/// Results up to this many elements are folded at import time; a constant
/// the importer would build larger takes a run-time path where one exists.
constexpr int64_t FoldLimit = 1 << 20;

/// Whether an [A, B] constant (A, B >= 0) stays within FoldLimit, without
/// overflowing on dims up to 2^40.
inline bool withinFoldLimit(int64_t A, int64_t B) {
  return B == 0 || A <= FoldLimit / B;
}

/// Most host memory (256 MiB) one constant the importer builds may take.
constexpr uint64_t ImportConstantBytes = uint64_t(1) << 28;

/// A zero-filled tensor of type E and shape Dims for a constant C's node
/// builds; fails C (naming What) and returns nothing when it would take more
/// than ImportConstantBytes.
std::optional<Tensor> newConstantTensor(NodeContext &C, DType E,
                                        llvm::ArrayRef<int64_t> Dims,
                                        const llvm::Twine &What);

} // namespace onnximp
} // namespace dlc

#endif
