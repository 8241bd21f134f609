// loadModelFile: reads a model as IR text or ONNX, chosen by the file's
// extension or its first byte.
#include "frontend/onnx/OnnxImporter.h"

#include "ir/Parser.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace dlc;

llvm::Expected<std::unique_ptr<Module>>
dlc::loadModelFile(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!Buf)
    return makeError("cannot read model '" + Path + "': " +
                     Buf.getError().message());
  llvm::StringRef Bytes = (*Buf)->getBuffer();
  if (isOnnxModel(Path, Bytes))
    return importOnnx(Bytes, Path);
  return parseModule(Bytes, Path);
}
