// Fuzz target: the .pb tensor reader (onnx.TensorProto bytes, as in the
// conformance data) and the conversion to a dlc tensor.
#include "frontend/onnx/OnnxTensor.h"
#include "ir/Location.h"

#include "onnx/onnx_pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  onnx::TensorProto TP;
  if (!TP.ParseFromArray(Data, int(Size)))
    return 0;
  auto T = dlc::onnximp::tensorFromProto(TP, "/nonexistent-dlc-fuzz");
  if (!T)
    llvm::consumeError(T.takeError());
  return 0;
}
