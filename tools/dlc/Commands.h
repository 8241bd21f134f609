// The dlc driver's subcommands.
#ifndef DLC_TOOLS_DLC_COMMANDS_H
#define DLC_TOOLS_DLC_COMMANDS_H

#include "llvm/Support/raw_ostream.h"

namespace dlc {

/// `dlc --list-ops`: per op, which of shape inference, interpreter,
/// gradient, CPU and GPU lowering exist, probed from the implementations.
void listOps(llvm::raw_ostream &OS, bool Markdown);

/// Loads a model file (IR text for now), ready to run.
struct RunOptions {
  std::string Model;
  std::vector<std::string> Inputs; // NAME=FILE.npy
  std::vector<std::string> Dims;   // SYM=SIZE for --random-inputs
  std::string OutDir;
  bool RandomInputs = false;
  unsigned Seed = 0;
  bool PrintIR = false;
  std::string Engine = "interp"; // interp | jit
  unsigned OptLevel = 3;
  bool PrintLLVM = false; // with --engine=jit: print the optimized LLVM IR
  unsigned Threads = 0;   // 0: every hardware thread
};
int runCommand(const RunOptions &Opts);

struct CompileOptions {
  std::string Model, Output = "-", Emit = "obj";
  unsigned OptLevel = 3;
};
int compileCommand(const CompileOptions &Opts);

struct BenchOptions {
  std::string Model;
  int64_t Batch = 1;
  unsigned Runs = 20, Warmup = 3;
  std::string Engine = "auto";
  unsigned Threads = 0;
};
int benchCommand(const BenchOptions &Opts);

} // namespace dlc

#endif
