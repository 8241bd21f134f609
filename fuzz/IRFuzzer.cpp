// Fuzz target: the graph-IR parser, verifier and printer. A module that
// parses must verify, and its printed form must parse again and print the
// same bytes (the text form round-trips).
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  // Weights files are read from disk: not from fuzz input.
  if (Text.contains("weights"))
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
  std::string P1 = dlc::toString(**M);
  auto M2 = dlc::parseModule(P1, "printed.dlc");
  if (!M2) {
    llvm::errs() << "printed module does not parse: "
                 << llvm::toString(M2.takeError()) << "\n" << P1;
    std::abort();
  }
  if (dlc::toString(**M2) != P1) {
    llvm::errs() << "printing is not stable:\n" << P1;
    std::abort();
  }
  return 0;
}
