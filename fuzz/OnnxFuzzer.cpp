// Fuzz target: the ONNX importer on serialized ModelProto bytes (use
// fuzz/onnx.dict to get past protobuf framing), with a small bound on
// imported ops so unrolled loops stay cheap.
#include "frontend/onnx/OnnxImporter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  dlc::OnnxImportOptions O;
  O.MaxOps = 5000;
  O.BaseDir = "/nonexistent-dlc-fuzz"; // external data never reads files
  auto M = dlc::importOnnx(
      llvm::StringRef(reinterpret_cast<const char *>(Data), Size), "fuzz.onnx",
      O);
  if (!M)
    llvm::consumeError(M.takeError());
  return 0;
}
