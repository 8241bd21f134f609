// Fuzz target: graph-IR text through the optimize pipeline (every pass,
// fusion included) and lowering to kernel IR; small functions are also
// JIT-compiled, so codegen sees what the passes leave. Run it with
// libFuzzer's -timeout and -rss_limit_mb as the time and memory bounds
// (fuzz/run.sh does).
#include "codegen/Executor.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  if (Text.contains("weights") || Size > 4096)
    return 0;
  auto M = dlc::parseModule(Text, "fuzz.dlc");
  if (!M) {
    llvm::consumeError(M.takeError());
    return 0;
  }
  if (auto E = dlc::verifyModule(**M)) {
    llvm::consumeError(std::move(E));
    return 0;
  }
  dlc::PassManager PM;
  if (auto E = PM.addPipeline(dlc::optimizePipeline())) {
    llvm::consumeError(std::move(E));
    return 0;
  }
  if (auto E = PM.run(**M)) {
    llvm::consumeError(std::move(E));
    return 0;
  }
  for (auto &F : (*M)->Functions) {
    auto L = dlc::lowerFunction(*F);
    if (!L) {
      llvm::consumeError(L.takeError());
      continue;
    }
    if (F->Body.size() > 16)
      continue;
    auto C = dlc::CompiledFunction::compile(*F, 0, 1);
    if (!C)
      llvm::consumeError(C.takeError());
  }
  return 0;
}
