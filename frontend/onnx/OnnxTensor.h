// ONNX element types and TensorProto contents (typed fields, raw_data,
// external data files) as dlc tensors.
#ifndef DLC_FRONTEND_ONNX_ONNXTENSOR_H
#define DLC_FRONTEND_ONNX_ONNXTENSOR_H

#include "ir/Tensor.h"

#include "onnx/onnx_pb.h"

#include "llvm/Support/Error.h"

namespace dlc {
namespace onnximp {

/// The dlc element type of an ONNX TensorProto.DataType code, or none.
std::optional<DType> dtypeFromOnnx(int32_t Code);
/// The ONNX name of a data type code ("FLOAT8E4M3FN", or "code 99").
std::string onnxTypeName(int32_t Code);

/// Converts a TensorProto; BaseDir resolves external data locations.
/// Errors: unsupported type, wrong data length, negative or huge dims,
/// missing or short external file.
llvm::Expected<Tensor> tensorFromProto(const onnx::TensorProto &P,
                                       llvm::StringRef BaseDir);

} // namespace onnximp
} // namespace dlc

#endif
