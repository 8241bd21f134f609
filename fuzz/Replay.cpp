// A main() for the fuzz targets in the normal build: runs the target once
// on every file named on the command line, or every file of a directory
// (the checked-in corpora), so CI replays them without libFuzzer.
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);

int main(int argc, char **argv) {
  std::vector<std::string> Files;
  for (int I = 1; I < argc; ++I) {
    if (!llvm::sys::fs::is_directory(argv[I])) {
      Files.push_back(argv[I]);
      continue;
    }
    std::error_code EC;
    for (llvm::sys::fs::directory_iterator It(argv[I], EC), End;
         It != End && !EC; It.increment(EC))
      Files.push_back(It->path());
  }
  for (const std::string &F : Files) {
    auto Buf = llvm::MemoryBuffer::getFile(F, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
    if (!Buf) {
      llvm::errs() << "cannot read " << F << "\n";
      return 1;
    }
    // An exact-size copy, so reading past the input is caught under ASan.
    std::vector<uint8_t> Bytes((*Buf)->getBufferStart(),
                               (*Buf)->getBufferEnd());
    LLVMFuzzerTestOneInput(Bytes.data(), Bytes.size());
  }
  llvm::outs() << "replayed " << Files.size() << " inputs\n";
  return Files.empty() ? 1 : 0;
}
