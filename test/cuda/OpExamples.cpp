// dlc-op-examples DIR: writes each op's table example (ir/OpExample.h) as
// DIR/<mnemonic>.dlc, for scripts/gpu-check.sh to run every op on a GPU
// and with the interpreter through `dlc run` (the device has no compiler).
#include "ir/OpExample.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace dlc;

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: dlc-op-examples DIR\n";
    return 1;
  }
  if (auto EC = llvm::sys::fs::create_directories(argv[1])) {
    llvm::errs() << "error: cannot create '" << argv[1] << "': " << EC.message()
                 << "\n";
    return 1;
  }
  unsigned N = 0;
  for (const OpInfo &I : allOps()) {
    std::error_code EC;
    std::string Path = std::string(argv[1]) + "/" + I.Mnemonic.str() + ".dlc";
    llvm::raw_fd_ostream OS(Path, EC);
    if (EC) {
      llvm::errs() << "error: cannot write '" << Path << "': " << EC.message()
                   << "\n";
      return 1;
    }
    OS << exampleText(I);
    ++N;
  }
  llvm::outs() << "wrote " << N << " op examples to " << argv[1] << "\n";
  return 0;
}
