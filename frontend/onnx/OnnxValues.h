// Graph inputs and outputs that are not plain tensors (ONNX sequences and
// optionals): their forms, as the importer and dlc::Model see them.
#ifndef DLC_FRONTEND_ONNX_ONNXVALUES_H
#define DLC_FRONTEND_ONNX_ONNXVALUES_H

#include "frontend/onnx/OnnxImporter.h"

#include "onnx/onnx_pb.h"

namespace dlc {
namespace onnximp {

/// The form of a graph input's or output's type and its element tensor
/// type; false (with Err) for maps, sparse tensors, nested sequences.
bool portForm(const onnx::TypeProto &T, OnnxPortForm &Form,
              const onnx::TypeProto_Tensor *&Elem, std::string &Err);

} // namespace onnximp
} // namespace dlc

#endif
