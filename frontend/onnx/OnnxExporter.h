// The ONNX exporter: writes one graph-IR function, with its parameters'
// current values as initializers, as an onnx.ModelProto at a fixed opset.
//
//   auto Bytes = exportOnnx(F);              // llvm::Expected<std::string>
//   if (auto E = exportOnnxFile(F, "out.onnx")) ...
//
// The model keeps the function's input and output names; symbolic dims
// become dim_param, unknown dims stay unnamed. Parameters become
// initializers and dlc constants become Constant nodes, so a model read back
// by `dlc train` trains exactly the parameters. High-level ops stay high
// level (conv, gemm, max_pool, softmax, batch_norm, ...); a batch_norm keeps
// its momentum and training mode (training_mode = 1), and dropout is written
// in its inference form (an ONNX Dropout without training_mode) unless it is
// switched on (training_mode a constant true). Ops without
// an ONNX equivalent (im2col, random ops with a run-time seed, ...) are
// reported all at once, one line each.
#ifndef DLC_FRONTEND_ONNX_ONNXEXPORTER_H
#define DLC_FRONTEND_ONNX_ONNXEXPORTER_H

#include "ir/IR.h"

#include <string>

namespace dlc {

/// The opset version of the default domain that exported models import.
constexpr int OnnxExportOpset = 21;

/// The serialized ModelProto of F. Errors: parameters without a value, ops
/// without an ONNX mapping (all of them listed).
llvm::Expected<std::string> exportOnnx(const Function &F);

/// exportOnnx written to Path (nothing is written after an error).
llvm::Error exportOnnxFile(const Function &F, llvm::StringRef Path);

} // namespace dlc

#endif
