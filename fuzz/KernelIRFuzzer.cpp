// Fuzz target: the kernel-IR parser (dlc-opt's --kir-* input).
#include "kernel/KernelParser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  auto K = dlc::kir::parseKernels(Text, "fuzz.kir");
  if (!K)
    llvm::consumeError(K.takeError());
  return 0;
}
