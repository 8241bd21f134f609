// Ahead-of-time compilation: a relocatable object holding a graph
// function's kernels, its optimized graph IR and C entry points that hand
// both to libdlc_runtime (exec/dlc_runtime.h), and the C header that
// declares them.
#ifndef DLC_CODEGEN_AOT_H
#define DLC_CODEGEN_AOT_H

#include "ir/IR.h"
#include "kernel/KernelIR.h"

namespace llvm {
class raw_pwrite_stream;
}

namespace dlc {

struct AotOptions {
  std::string Prefix;       // C identifier that starts every symbol
  std::string Source;       // the model file, for the header's comment
  unsigned OptLevel = 3;    // -O0..-O3
  unsigned Threads = 0;     // default thread count; 0: every hardware thread
};

/// Whether S is a C identifier (and not one of C's keywords).
bool isCIdentifier(llvm::StringRef S);

/// Lowers and compiles F into an object file with <Prefix>_create,
/// <Prefix>_run and <Prefix>_destroy; kernels and data are internal.
llvm::Error emitAotObject(const Function &F, const AotOptions &Opts,
                          llvm::raw_pwrite_stream &OS);

/// The C header of that object: the API, and F's inputs and outputs with
/// names, dtypes and shapes (symbolic dims as -1, with their names).
std::string aotHeader(const Function &F, const AotOptions &Opts);

} // namespace dlc

#endif
