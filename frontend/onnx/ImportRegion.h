// ONNX If, Loop and Scan imported as dlc's control-flow ops with regions
// (ir/ControlFlow.h), for what import-time unrolling cannot do: a condition
// known only at run time, a run-time trip count or loop condition, a scan
// length that is not static. OpsControl.cpp decides which way a node goes.
#ifndef DLC_FRONTEND_ONNX_IMPORTREGION_H
#define DLC_FRONTEND_ONNX_IMPORTREGION_H

#include "frontend/onnx/NodeContext.h"

namespace dlc {
namespace onnximp {

/// If with the run-time condition Cond (a bool with one element): an `if`
/// op whose regions are the two branches. Sets C's outputs or fails.
void importIfRegion(NodeContext &C, Value *Cond, const onnx::GraphProto &Then,
                    const onnx::GraphProto &Else);

/// Loop as a `loop` op: trip count input 0 and condition input 1 (either
/// may be absent), NCarried loop-carried inputs after them. Sets C's
/// outputs or fails.
void importLoopRegion(NodeContext &C, const onnx::GraphProto &Body,
                      unsigned NCarried);

/// Scan (opset 9 and later) as a `scan` op over States and the scan inputs
/// Xs with their axes and directions. Sets C's outputs or fails.
void importScanRegion(NodeContext &C, const onnx::GraphProto &Body,
                      llvm::ArrayRef<Value *> States,
                      llvm::ArrayRef<Value *> Xs,
                      llvm::ArrayRef<int64_t> InDirs,
                      llvm::ArrayRef<int64_t> InAxes,
                      llvm::ArrayRef<int64_t> OutDirs,
                      llvm::ArrayRef<int64_t> OutAxes);

/// Scan of opset 8 (a batch dim 0 in front of every state and scan input,
/// the scan along dim 1) as a `scan` over the batch whose body is the
/// `scan` of one batch entry. Sets C's outputs or fails.
void importScan8Region(NodeContext &C, const onnx::GraphProto &Body,
                       llvm::ArrayRef<Value *> States,
                       llvm::ArrayRef<Value *> Xs,
                       llvm::ArrayRef<int64_t> Dirs);

} // namespace onnximp
} // namespace dlc

#endif
