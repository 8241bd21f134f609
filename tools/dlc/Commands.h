// The dlc driver's subcommands.
#ifndef DLC_TOOLS_DLC_COMMANDS_H
#define DLC_TOOLS_DLC_COMMANDS_H

#include "exec/GpuAbi.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace dlc {

class Module;
class Function;

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
  std::string Engine = "jit"; // jit | interp
  unsigned OptLevel = 3;
  bool PrintLLVM = false; // with --engine=jit: print the optimized LLVM IR
  unsigned Threads = 0;   // 0: every hardware thread
  std::string Device = "cpu"; // cpu | cuda | cuda-emu
  std::string Precision = "fp32"; // fp32 | tf32 (GPU devices)
  std::string MaxMemory;  // --max-memory: bytes, with an optional K/M/G/T
  bool Cache = true;      // the on-disk kernel cache
  std::string CacheDir;   // empty: the default (see codegen/KernelCache.h)
  bool Profile = false;   // print where the compile time went
};
int runCommand(const RunOptions &Opts);

/// `dlc test-onnx DIR...`: ONNX test folders through dlc::Model.
struct TestOnnxOptions {
  std::vector<std::string> Dirs; // test folders, or folders of them
  std::string Engine = "jit";
  unsigned OptLevel = 3, Threads = 0;
  bool Dynamic = false; // every input dim unknown
};
int testOnnxCommand(const TestOnnxOptions &Opts);

struct CompileOptions {
  std::string Model, Output = "-";
  std::string Emit; // empty: an AOT library or object, from -o's extension
  std::string Name; // the C symbol prefix (default: from -o's file name)
  unsigned OptLevel = 3;
  unsigned Threads = 0; // the AOT library's default thread count
  /// --emit=ir: tensors inline instead of in NAME.weights (or elided on
  /// standard output).
  bool InlineWeights = false;
  std::string Target = "cpu"; // or nvptx
  std::string GpuArch = "sm_80";
  std::string Precision = "fp32"; // with nvptx: fp32 | tf32
};

/// Tensors with more elements than this leave IR text: into a .weights
/// file, or elided when the IR is only shown (--print-ir, --emit=ir to
/// standard output).
constexpr int64_t WeightsInlineLimit = 16;

/// The note that starts IR shown with its large tensors elided.
constexpr const char *ElidedWeightsNote =
    "// tensors of more than 16 elements are elided ('dense<T>[...]'); "
    "dlc compile --emit=ir -o FILE.dlc writes them to FILE.weights, "
    "--inline-weights prints them\n";
int compileCommand(const CompileOptions &Opts);
/// What `dlc compile` does, with its error returned (for the Python module).
llvm::Error compileModel(const CompileOptions &Opts);
/// `dlc compile --target nvptx` on the optimized module (CompileGpu.cpp).
llvm::Error compileNvptx(const CompileOptions &Opts, const Module &M);
/// `dlc compile -o NAME.so|NAME.o` of F: the artifact and NAME.h; with
/// --target nvptx a GPU artifact holding kernels at Precs (the default
/// first).
llvm::Error compileAot(const CompileOptions &Opts, const Function &F,
                       bool Shared, llvm::ArrayRef<GpuPrecision> Precs);

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
  std::string Engine = "jit"; // jit | interp | auto
  unsigned Threads = 0;
  std::string Device = "cpu";
  std::string Precision = "fp32";
  bool Profile = false; // where the compile time went, phase by phase
  bool Cache = true;
  std::string CacheDir;
};
int benchCommand(const BenchOptions &Opts);

/// `dlc summary`: the model's ops with output shapes, parameters and FLOPs.
struct SummaryOptions {
  std::string Model;
  int64_t Batch = 1; // the size of every symbolic dim in the FLOP counts
};
int summaryCommand(const SummaryOptions &Opts);

/// `dlc viz`: the model's graph as Graphviz text (.dot) or a picture (.svg).
struct VizOptions {
  std::string Model, Output;
  bool Optimized = false; // after the optimize pipeline, kernels as clusters
};
int vizCommand(const VizOptions &Opts);

/// `dlc train`: numbers stay text until trainCommand checks them, so every
/// argument error reads the same and comes before training starts.
struct TrainOptions {
  std::string ModelFile, ModelName;
  std::string Data = "fashion-mnist";
  std::string Loss;             // empty: from the model's last op
  std::string Optimizer = "adam";
  std::string LearningRate;     // empty: the optimizer's default
  std::string Momentum, WeightDecay; // empty: 0.9 and 0
  std::string BatchNormMomentum; // empty: each batch norm's own, else 0.99
  std::string Normalize;        // "MEAN,STD" after scaling to [0, 1]; empty: none
  std::string Epochs = "1", Batch = "32", Seed = "0", Threads = "0";
  std::string Limit, TestLimit; // empty: every example
  std::string Output, Plot;
  std::string ValidationSplit; // empty: none; else a fraction in (0, 1)
  bool KeepBest = false; // -o keeps the epoch with the best accuracy
  std::string CheckpointDir; // save the model and state here every epoch
  std::string Resume;        // continue from this checkpoint directory
  std::string Engine = "jit";
  std::string Device = "cpu";
  std::string Precision = "fp32";
  unsigned OptLevel = 3;
  bool PrintIR = false;
  /// Data parallelism over MPI: on under mpirun (or with Distributed).
  bool Distributed = false;
  std::string CommTimeout = "600"; // seconds a collective may take; 0: none
  bool SyncBN = false;      // batch norm statistics summed over the ranks
  std::string Comm = "auto"; // gradient sums on a GPU: auto, mpi or nccl
  bool CommOverlap = true;  // gradient sums start during the backward pass
  /// After training, time the step kernel by kernel on one batch.
  bool Profile = false;
};
int trainCommand(const TrainOptions &Opts);

struct RunProfile;
/// Prints P as `dlc bench --profile` does: the slowest kernels, then the
/// time per kind of kernel, with GFLOP/s against Threads x the FMA peak.
void printKernelProfile(const RunProfile &P, unsigned Threads);

} // namespace dlc

#endif
