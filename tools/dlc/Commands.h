// The dlc driver's subcommands.
#ifndef DLC_TOOLS_DLC_COMMANDS_H
#define DLC_TOOLS_DLC_COMMANDS_H

#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

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
  std::string Device = "cpu"; // cpu | cuda | cuda-emu
};
int runCommand(const RunOptions &Opts);

struct CompileOptions {
  std::string Model, Output = "-";
  std::string Emit; // empty: an AOT library or object, from -o's extension
  std::string Name; // the C symbol prefix (default: from -o's file name)
  unsigned OptLevel = 3;
  unsigned Threads = 0; // the AOT library's default thread count
};
int compileCommand(const CompileOptions &Opts);

/// `dlc export`: a model file or a tutorial model (built with Seed) as ONNX.
struct ExportOptions {
  std::string Model, ModelName, Output;
  int64_t Seed = 0;
};
int exportCommand(const ExportOptions &Opts);

struct BenchOptions {
  std::string Model;
  int64_t Batch = 1;
  unsigned Runs = 20, Warmup = 3;
  std::string Engine = "auto";
  unsigned Threads = 0;
  std::string Device = "cpu";
};
int benchCommand(const BenchOptions &Opts);

/// `dlc train`: numbers stay text until trainCommand checks them, so every
/// argument error reads the same and comes before training starts.
struct TrainOptions {
  std::string ModelFile, ModelName;
  std::string Data = "fashion-mnist";
  std::string Loss;             // empty: from the model's last op
  std::string Optimizer = "adam";
  std::string LearningRate;     // empty: the optimizer's default
  std::string Momentum, WeightDecay; // empty: 0.9 and 0
  std::string Normalize;        // "MEAN,STD" after scaling to [0, 1]; empty: none
  std::string Epochs = "1", Batch = "32", Seed = "0", Threads = "0";
  std::string Limit, TestLimit; // empty: every example
  std::string Output, Plot;
  std::string Engine = "jit";
  std::string Device = "cpu";
  unsigned OptLevel = 3;
  bool PrintIR = false;
};
int trainCommand(const TrainOptions &Opts);

} // namespace dlc

#endif
