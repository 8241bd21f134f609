// dlc: the user-facing driver (compile, run, train, bench, --list-ops).
#include "Commands.h"

#include "exec/GpuDevice.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace dlc;
namespace cl = llvm::cl;

static cl::OptionCategory Cat("dlc options");
static cl::opt<bool> ListOps("list-ops",
                             cl::desc("List every op and what supports it"),
                             cl::cat(Cat));
static cl::opt<bool> Markdown("markdown",
                              cl::desc("With --list-ops: print a Markdown table"),
                              cl::cat(Cat));

static cl::SubCommand RunCmd("run", "Run a model on .npy inputs");
static cl::opt<std::string> RunModel(cl::Positional, cl::desc("<model.dlc>"),
                                     cl::Required, cl::sub(RunCmd));
static cl::list<std::string> RunInputs("input", cl::desc("NAME=FILE.npy, or NAME=FILE.pb (onnx.TensorProto; "
                                                "SequenceProto or OptionalProto for an "
                                                "ONNX sequence or optional input)"),
                                       cl::sub(RunCmd));
static cl::opt<std::string> RunOut("out",
                                   cl::desc("Write DIR/<output>.npy per output"),
                                   cl::sub(RunCmd));
static cl::opt<bool> RunRandom(
    "random-inputs", cl::desc("Use seeded random values for missing inputs"),
    cl::sub(RunCmd));
static cl::list<std::string>
    RunDims("dim", cl::desc("SYM=SIZE: size of a symbolic dim for random inputs"),
            cl::sub(RunCmd));
static cl::opt<unsigned> RunSeed("seed", cl::desc("Seed for --random-inputs"),
                                 cl::init(0), cl::sub(RunCmd));
static cl::opt<std::string> RunEngine(
    "engine",
    cl::desc("jit (default: compiled with LLVM) or interp (the reference "
             "interpreter: the oracle, slow)"),
    cl::init("jit"), cl::sub(RunCmd));
static cl::opt<unsigned> RunOpt("O", cl::desc("JIT optimization level 0-3"),
                                cl::init(3), cl::Prefix, cl::sub(RunCmd));
static cl::opt<unsigned> RunThreads(
    "threads", cl::desc("JIT threads (default: every hardware thread)"),
    cl::init(0), cl::sub(RunCmd));
static cl::opt<std::string> RunMaxMemory(
    "max-memory",
    cl::desc("With --engine=jit: refuse runs whose intermediates need more "
             "than SIZE bytes (suffix K, M, G or T: powers of 1024)"),
    cl::value_desc("SIZE"), cl::sub(RunCmd));
static cl::opt<bool> RunPrintLLVM(
    "print-llvm", cl::desc("With --engine=jit: print the optimized LLVM IR"),
    cl::sub(RunCmd));
static cl::opt<std::string> RunDevice(
    "device",
    cl::desc("cpu (default), cuda (an NVIDIA GPU; --engine is for the CPU) "
             "or cuda-emu (the GPU kernels emulated on the CPU)"),
    cl::init("cpu"), cl::sub(RunCmd));
static cl::opt<std::string> RunPrecision(
    "precision",
    cl::desc("With a GPU device: fp32 (default), tf32 or bf16 (f32 matmuls on tensor cores with tf32 inputs, about 1e-3 relative, or bf16 inputs, about 1e-2)"),
    cl::init("fp32"), cl::sub(RunCmd));
static cl::opt<bool> RunPrintIR("print-ir",
                                cl::desc("Print the optimized IR before running"),
                                cl::sub(RunCmd));

static cl::SubCommand CompileCmd(
    "compile", "Compile a model ahead of time: -o NAME.so or -o NAME.o, each "
               "with a C header NAME.h; or --emit a stage to inspect it");
static cl::opt<std::string> CompileModel(cl::Positional, cl::desc("<model.dlc>"),
                                         cl::Required, cl::sub(CompileCmd));
static cl::opt<std::string>
    CompileOut("o",
               cl::desc("Output file: NAME.so (shared library) or NAME.o "
                        "(object to link with -ldlc_runtime), plus NAME.h"),
               cl::init("-"), cl::sub(CompileCmd));
static cl::opt<std::string> CompileEmit(
    "emit", cl::desc("Inspect a stage instead: ir, kernel-ir, llvm, asm or "
                     "obj (one function per kernel)"),
    cl::sub(CompileCmd));
static cl::opt<bool> CompileInlineWeights(
    "inline-weights",
    cl::desc("With --emit=ir: write every tensor inline (default: tensors of "
             "more than 16 elements go to NAME.weights, or are elided on "
             "standard output)"),
    cl::sub(CompileCmd));
static cl::opt<std::string> CompileName(
    "name", cl::desc("C symbol prefix (default: the output file's name)"),
    cl::sub(CompileCmd));
static cl::opt<unsigned> CompileThreads(
    "threads",
    cl::desc("Default thread count of the AOT library (default: every "
             "hardware thread; NAME_create can override it)"),
    cl::init(0), cl::sub(CompileCmd));
static cl::opt<std::string> CompileTarget(
    "target",
    cl::desc("cpu (the host, default) or nvptx (NVIDIA GPUs: -o NAME.so|"
             "NAME.o with embedded PTX, run through the driver; or -o "
             "NAME.ptx, --emit=ptx, kernel-ir or llvm)"),
    cl::init("cpu"), cl::sub(CompileCmd));
static cl::opt<std::string> CompileGpuArch(
    "gpu-arch", cl::desc("With --target nvptx: the GPU (sm_80, sm_90, ...)"),
    cl::init("sm_80"), cl::sub(CompileCmd));
static cl::opt<std::string> CompilePrecision(
    "precision",
    cl::desc("With --target nvptx: fp32 (default), tf32 or bf16 (f32 matmuls on tensor cores with tf32 or bf16 inputs; sm_80 or newer; such a library carries fp32 kernels too)"),
    cl::init("fp32"), cl::sub(CompileCmd));
static cl::opt<unsigned> CompileOpt("O", cl::desc("Optimization level 0-3"),
                                    cl::init(3), cl::Prefix, cl::sub(CompileCmd));
static cl::SubCommand ExportCmd(
    "export", "Write a model (.dlc, .onnx or a built-in one) as ONNX");
static cl::opt<std::string> ExportModel(cl::Positional,
                                        cl::desc("[MODEL.dlc | MODEL.onnx]"),
                                        cl::sub(ExportCmd));
static cl::opt<std::string> ExportModelName(
    "model", cl::desc("A built-in model: keras-cnn, pytorch-net, small-cnn, "
                      "mlp or neuron"),
    cl::sub(ExportCmd));
static cl::opt<int64_t> ExportSeed(
    "seed", cl::desc("Seeds a built-in model's initial weights"), cl::init(0),
    cl::sub(ExportCmd));
static cl::opt<std::string> ExportOut("o", cl::desc("Output file (.onnx)"),
                                      cl::sub(ExportCmd));
static cl::SubCommand TrainCmd(
    "train", "Train a model on Fashion-MNIST (or MNIST-format files)");
static cl::opt<std::string> TrainModelFile(cl::Positional,
                                           cl::desc("[MODEL.dlc | MODEL.onnx]"),
                                           cl::sub(TrainCmd));
static cl::opt<std::string> TrainModelName(
    "model", cl::desc("A built-in model: keras-cnn, pytorch-net, small-cnn, "
                      "mlp or neuron"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainData(
    "data", cl::desc("fashion-mnist (Debian's dataset-fashion-mnist), "
                     "fashion-mnist:DIR or mnist:DIR"),
    cl::init("fashion-mnist"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainLoss(
    "loss", cl::desc("mse, bce, categorical_crossentropy, "
                     "sparse_categorical_crossentropy, nll or cross_entropy "
                     "(from logits, PyTorch's CrossEntropyLoss); default: nll "
                     "after a final log_softmax, "
                     "sparse_categorical_crossentropy after a softmax, else "
                     "cross_entropy"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainOptimizer(
    "optimizer", cl::desc("sgd, momentum, nesterov, adam (default), adamw, "
                          "rmsprop or adagrad"),
    cl::init("adam"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainNormalize(
    "normalize",
    cl::desc("MEAN,STD: pixels become (x / 255 - MEAN) / STD (default: x / 255)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainMomentum(
    "momentum", cl::desc("Momentum of momentum and nesterov (default 0.9)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainBNMomentum(
    "bn-momentum",
    cl::desc("Momentum of every batch norm's running statistics, in [0, 1): "
             "running = running * X + batch * (1 - X) (Keras' and ONNX's "
             "form; PyTorch's 0.1 is 0.9). Default: each batch norm's own "
             "(an ONNX node's momentum), else 0.99"),
    cl::value_desc("X"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainWeightDecay(
    "weight-decay",
    cl::desc("Weight decay (L2 on the gradient; decoupled for adamw; default 0)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainLR(
    "lr", cl::desc("Learning rate (default: the optimizer's, 0.001)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainEpochs("epochs",
                                        cl::desc("Epochs (default 1)"),
                                        cl::init("1"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainBatch("batch",
                                       cl::desc("Batch size (default 32)"),
                                       cl::init("32"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainSeed(
    "seed", cl::desc("Seeds the initial weights, shuffling and dropout"),
    cl::init("0"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainThreads(
    "threads", cl::desc("Threads (default: every hardware thread)"),
    cl::init("0"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainLimit(
    "limit", cl::desc("Train on the first N training images only"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainTestLimit(
    "test-limit", cl::desc("Evaluate on the first N test images only"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainOut(
    "o", cl::desc("Write the trained model (.dlc, with a .weights file, or "
                  ".onnx)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainPlot(
    "plot", cl::desc("Write an SVG plot of loss and accuracy per epoch"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainValidationSplit(
    "validation-split",
    cl::desc("Hold out this fraction of the training data (its last "
             "examples, as Keras does) and report loss and accuracy on it "
             "every epoch"),
    cl::value_desc("F"), cl::sub(TrainCmd));
static cl::opt<bool> TrainKeepBest(
    "keep-best",
    cl::desc("-o keeps the model of the epoch with the best validation "
             "accuracy (test accuracy without --validation-split)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainCheckpoint(
    "checkpoint",
    cl::desc("Save the model, parameters and optimizer state in DIR after "
             "every epoch"),
    cl::value_desc("DIR"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainResume(
    "resume",
    cl::desc("Continue from the checkpoint in DIR, bit for bit (same model, "
             "data and recipe; --epochs is the total)"),
    cl::value_desc("DIR"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainEngine(
    "engine", cl::desc("jit (default) or interp (the reference interpreter)"),
    cl::init("jit"), cl::sub(TrainCmd));
static cl::opt<unsigned> TrainOpt("O", cl::desc("JIT optimization level 0-3"),
                                  cl::init(3), cl::Prefix, cl::sub(TrainCmd));
static cl::opt<std::string> TrainDevice(
    "device",
    cl::desc("cpu (default), cuda (an NVIDIA GPU) or cuda-emu (the GPU "
             "kernels emulated on the CPU)"),
    cl::init("cpu"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainPrecision(
    "precision",
    cl::desc("With a GPU device: fp32 (default), tf32 or bf16 (f32 matmuls on tensor cores with tf32 inputs, about 1e-3 relative, or bf16 inputs, about 1e-2)"),
    cl::init("fp32"), cl::sub(TrainCmd));
static cl::opt<bool> TrainPrintIR(
    "print-ir", cl::desc("Print the training step's graph IR"),
    cl::sub(TrainCmd));
static cl::opt<bool> TrainDistributed(
    "distributed",
    cl::desc("Data-parallel training over MPI (on by itself under mpirun "
             "-np N: the global batch is N x --batch)"),
    cl::sub(TrainCmd));
static cl::opt<bool> TrainProfile(
    "profile",
    cl::desc("After training, time the training step kernel by kernel on "
             "one batch (as dlc bench --profile; JIT on the CPU)"),
    cl::sub(TrainCmd));
static cl::opt<std::string> TrainComm(
    "comm",
    cl::desc("With several ranks on --device cuda: how gradients are summed. "
             "nccl: with NCCL in GPU memory (libnccl.so.2, e.g. from the "
             "nvidia-nccl-cu12 wheel; loaded at run time); mpi: through the "
             "host (download, MPI sum, upload); auto (default): NCCL when it "
             "loads, else MPI, said on stderr. cuda-emu and cpu use MPI"),
    cl::init("auto"), cl::value_desc("auto|mpi|nccl"), cl::sub(TrainCmd));
static cl::opt<std::string> TrainCommTimeout(
    "comm-timeout",
    cl::desc("With MPI or NCCL: seconds a gradient sum or broadcast may wait "
             "for the other ranks before this rank stops with an error (0: "
             "no limit)"),
    cl::init("600"), cl::value_desc("S"), cl::sub(TrainCmd));
static cl::opt<bool> TrainSyncBN(
    "sync-bn",
    cl::desc("With several ranks: batch norms normalize with the global "
             "batch's statistics, summed over the ranks (default: each "
             "rank's own batch); CPU only"),
    cl::sub(TrainCmd));
static cl::opt<bool> TrainCommOverlap(
    "comm-overlap",
    cl::desc("With several ranks: start summing each bucket of gradients "
             "while the backward pass goes on (default true; "
             "--comm-overlap=false sums after the pass)"),
    cl::init(true), cl::sub(TrainCmd));
static cl::SubCommand BenchCmd("bench", "Measure a model's latency");
static cl::opt<std::string> BenchModel(cl::Positional, cl::desc("<model.dlc>"),
                                       cl::Required, cl::sub(BenchCmd));
static cl::opt<int64_t> BenchBatch("batch",
                                   cl::desc("Size of every symbolic dim (default 1)"),
                                   cl::init(1), cl::sub(BenchCmd));
static cl::opt<unsigned> BenchRuns("runs", cl::desc("Timed runs (default 20)"),
                                   cl::init(20), cl::sub(BenchCmd));
static cl::opt<unsigned> BenchThreads(
    "threads", cl::desc("Threads (default: every hardware thread)"), cl::init(0),
    cl::sub(BenchCmd));
static cl::opt<std::string> BenchEngine(
    "engine",
    cl::desc("jit (default), interp, or auto (the JIT when it supports every "
             "op, else the interpreter)"),
    cl::init("jit"), cl::sub(BenchCmd));
static cl::opt<std::string> BenchDevice(
    "device",
    cl::desc("cpu (default), cuda (an NVIDIA GPU) or cuda-emu (the GPU "
             "kernels emulated on the CPU)"),
    cl::init("cpu"), cl::sub(BenchCmd));

static cl::opt<std::string> BenchPrecision(
    "precision",
    cl::desc("With a GPU device: fp32 (default), tf32 or bf16 (f32 matmuls on tensor cores with tf32 inputs, about 1e-3 relative, or bf16 inputs, about 1e-2)"),
    cl::init("fp32"), cl::sub(BenchCmd));

// One switch for run, bench and train: set only when given, so that
// DLC_CUDA_GRAPHS=0 still sets the default.
static cl::opt<bool> CudaGraphs(
    "cuda-graphs",
    cl::desc("With --device cuda: replay each run's kernel launches as CUDA "
             "graphs, recorded on the second run of a shape (default true; "
             "DLC_CUDA_GRAPHS=0 makes the default false)"),
    cl::init(true), cl::sub(RunCmd), cl::sub(BenchCmd), cl::sub(TrainCmd));

static cl::SubCommand TestOnnxCmd(
    "test-onnx", "Run ONNX test folders (model.onnx + test_data_set_N) and "
                 "compare with their expected outputs");
static cl::list<std::string> TestOnnxDirs(
    cl::Positional, cl::desc("<test folder or folder of tests>..."),
    cl::OneOrMore, cl::sub(TestOnnxCmd));
static cl::opt<std::string> TestOnnxEngine(
    "engine", cl::desc("jit (default), interp or auto"), cl::init("jit"),
    cl::sub(TestOnnxCmd));
static cl::opt<unsigned> TestOnnxOpt("O", cl::desc("JIT optimization level 0-3"),
                                     cl::init(1), cl::Prefix,
                                     cl::sub(TestOnnxCmd));
static cl::opt<unsigned> TestOnnxThreads(
    "threads", cl::desc("Threads (default: every hardware thread)"),
    cl::init(0), cl::sub(TestOnnxCmd));
static cl::opt<bool> TestOnnxDynamic(
    "dynamic", cl::desc("Make every input dim unknown ('?')"),
    cl::sub(TestOnnxCmd));

static cl::SubCommand SummaryCmd(
    "summary", "Print a model's ops with output shapes, parameters and FLOPs");
static cl::opt<std::string> SummaryModel(cl::Positional,
                                         cl::desc("<model.dlc|model.onnx>"),
                                         cl::Required, cl::sub(SummaryCmd));
static cl::opt<int64_t> SummaryBatch(
    "batch",
    cl::desc("Size of every symbolic dim in the FLOP counts (default 1)"),
    cl::init(1), cl::sub(SummaryCmd));

static cl::SubCommand VizCmd(
    "viz", "Draw a model's graph: -o NAME.dot (Graphviz text) or NAME.svg");
static cl::opt<std::string> VizModel(cl::Positional,
                                     cl::desc("<model.dlc|model.onnx>"),
                                     cl::Required, cl::sub(VizCmd));
static cl::opt<std::string> VizOut("o", cl::desc("Output: NAME.dot or NAME.svg"),
                                   cl::Required, cl::sub(VizCmd));
static cl::opt<bool> VizOptimized(
    "optimized",
    cl::desc("Draw the graph after optimization, each kernel (fused group) "
             "as a cluster"),
    cl::sub(VizCmd));
// Shared by run and bench.
static cl::opt<std::string> CacheDir(
    "cache-dir",
    cl::desc("Kernel cache directory (default: $DLC_CACHE_DIR, else "
             "$XDG_CACHE_HOME/dlc, else ~/.cache/dlc)"),
    cl::sub(RunCmd), cl::sub(BenchCmd));
static cl::opt<bool> NoCache("no-cache",
                             cl::desc("Neither read nor write the kernel cache"),
                             cl::sub(RunCmd), cl::sub(BenchCmd));
static cl::opt<bool> RunCompileProfile(
    "profile", cl::desc("With --engine=jit: print the compile time of each phase"),
    cl::sub(RunCmd));
static cl::opt<bool> BenchProfile(
    "profile",
    cl::desc("Also print the compile time of each phase and, on the CPU, the "
             "time of every kernel with its GFLOP/s against the measured FMA "
             "peak"),
    cl::sub(BenchCmd));

int main(int argc, char **argv) {
  llvm::InitLLVM X(argc, argv);
  cl::SetVersionPrinter([](llvm::raw_ostream &OS) {
    OS << "dlc version " << DLC_VERSION_STRING << " (" << DLC_GIT_REVISION
       << ")\n  LLVM " << LLVM_VERSION_STRING << ", targets: x86-64 (JIT, AOT), NVPTX (PTX for NVIDIA GPUs)"
       << "\n";
  });
  // LLVM's own options (code generation internals) stay reachable through
  // --help-hidden; --help lists dlc's.
  // LLVM's internal options live in the general category of the top level.
  for (auto &[Name, O] : cl::getRegisteredOptions())
    if (llvm::is_contained(O->Categories, &cl::getGeneralCategory()) &&
        O->getOptionHiddenFlag() == cl::NotHidden)
      O->setHiddenFlag(cl::Hidden);
  cl::ParseCommandLineOptions(
      argc, argv,
      "dlc: deep-learning graph compiler\n\n"
      "  dlc compile MODEL -o NAME.so|NAME.o   (or --emit=ir|kernel-ir|llvm|asm;\n"
      "              --target nvptx --gpu-arch sm_80 [--precision fp32|tf32|bf16]\n"
      "              for NVIDIA GPUs: NAME.so|NAME.o with embedded PTX, or\n"
      "              NAME.ptx / --emit=ptx)\n"
      "  dlc run MODEL [--input NAME=FILE.npy]... [--out DIR] "
      "[--engine=jit|interp]\n"
      "          [--device cpu|cuda|cuda-emu] [--precision fp32|tf32|bf16]\n"
      "  dlc bench MODEL [--batch B] [--runs R] [--threads T] [--device D]\n"
      "  dlc test-onnx DIR... [--dynamic] [--engine=jit|interp|auto]\n"
      "  dlc train (MODEL.dlc | MODEL.onnx | --model NAME) "
      "[--data fashion-mnist[:DIR]] [--loss L] [--optimizer O] [--lr X] "
      "[--epochs E] [--batch B] [-o OUT.dlc|OUT.onnx]\n"
      "  mpirun -np N dlc train ...   (data parallel: N x --batch per step)\n"
      "  dlc export (MODEL | --model NAME) -o OUT.onnx\n"
      "  dlc summary MODEL [--batch B]\n"
      "  dlc viz MODEL -o GRAPH.svg|GRAPH.dot [--optimized]\n"
      "  dlc --list-ops [--markdown]\n\n"
      "  'dlc SUBCOMMAND --help' lists a subcommand's options; "
      "--help-hidden adds LLVM's.\n");
  if (ListOps) {
    listOps(llvm::outs(), Markdown);
    return 0;
  }
  if (CudaGraphs.getNumOccurrences())
    setCudaGraphs(CudaGraphs);
  if (RunCmd) {
    RunOptions O;
    O.Model = RunModel;
    O.Inputs.assign(RunInputs.begin(), RunInputs.end());
    O.Dims.assign(RunDims.begin(), RunDims.end());
    O.OutDir = RunOut;
    O.RandomInputs = RunRandom;
    O.Seed = RunSeed;
    O.PrintIR = RunPrintIR;
    O.Engine = RunEngine;
    O.PrintLLVM = RunPrintLLVM;
    O.Threads = RunThreads;
    O.Device = RunDevice;
    O.Precision = RunPrecision;
    O.MaxMemory = RunMaxMemory;
    O.OptLevel = std::min(3u, RunOpt.getValue());
    O.Cache = !NoCache;
    O.CacheDir = CacheDir;
    O.Profile = RunCompileProfile;
    return runCommand(O);
  }
  if (TestOnnxCmd) {
    TestOnnxOptions O;
    O.Dirs.assign(TestOnnxDirs.begin(), TestOnnxDirs.end());
    O.Engine = TestOnnxEngine;
    O.OptLevel = std::min(3u, TestOnnxOpt.getValue());
    O.Threads = TestOnnxThreads;
    O.Dynamic = TestOnnxDynamic;
    return testOnnxCommand(O);
  }
  if (CompileCmd) {
    CompileOptions O;
    O.Model = CompileModel;
    O.Output = CompileOut;
    O.Emit = CompileEmit;
    O.Name = CompileName;
    O.InlineWeights = CompileInlineWeights;
    O.Threads = CompileThreads;
    O.Target = CompileTarget;
    O.GpuArch = CompileGpuArch;
    O.Precision = CompilePrecision;
    O.OptLevel = std::min(3u, CompileOpt.getValue());
    return compileCommand(O);
  }
  if (ExportCmd) {
    ExportOptions O;
    O.Model = ExportModel;
    O.ModelName = ExportModelName;
    O.Output = ExportOut;
    O.Seed = ExportSeed;
    return exportCommand(O);
  }
  if (BenchCmd) {
    if (BenchBatch < 1 || BenchRuns < 1) {
      llvm::errs() << "error: --batch and --runs must be at least 1\n";
      return 1;
    }
    BenchOptions O;
    O.Model = BenchModel;
    O.Batch = BenchBatch;
    O.Runs = BenchRuns;
    O.Engine = BenchEngine;
    O.Threads = BenchThreads;
    O.Device = BenchDevice;
    O.Precision = BenchPrecision;
    O.Profile = BenchProfile;
    O.Cache = !NoCache;
    O.CacheDir = CacheDir;
    return benchCommand(O);
  }
  if (VizCmd) {
    VizOptions O;
    O.Model = VizModel;
    O.Output = VizOut;
    O.Optimized = VizOptimized;
    return vizCommand(O);
  }
  if (SummaryCmd) {
    SummaryOptions O;
    O.Model = SummaryModel;
    O.Batch = SummaryBatch;
    return summaryCommand(O);
  }
  if (TrainCmd) {
    TrainOptions O;
    O.ModelFile = TrainModelFile;
    O.ModelName = TrainModelName;
    O.Data = TrainData;
    O.Loss = TrainLoss;
    O.Optimizer = TrainOptimizer;
    O.LearningRate = TrainLR;
    O.Momentum = TrainMomentum;
    O.BatchNormMomentum = TrainBNMomentum;
    O.Normalize = TrainNormalize;
    O.WeightDecay = TrainWeightDecay;
    O.Epochs = TrainEpochs;
    O.Batch = TrainBatch;
    O.Seed = TrainSeed;
    O.Threads = TrainThreads;
    O.Limit = TrainLimit;
    O.TestLimit = TrainTestLimit;
    O.Output = TrainOut;
    O.Plot = TrainPlot;
    O.CheckpointDir = TrainCheckpoint;
    O.ValidationSplit = TrainValidationSplit;
    O.KeepBest = TrainKeepBest;
    O.Resume = TrainResume;
    O.Engine = TrainEngine;
    O.Device = TrainDevice;
    O.Precision = TrainPrecision;
    O.OptLevel = std::min(3u, TrainOpt.getValue());
    O.PrintIR = TrainPrintIR;
    O.Distributed = TrainDistributed;
    O.CommTimeout = TrainCommTimeout;
    O.SyncBN = TrainSyncBN;
    O.CommOverlap = TrainCommOverlap;
    O.Comm = TrainComm;
    O.Profile = TrainProfile;
    return trainCommand(O);
  }
  llvm::errs() << "error: no command given; see 'dlc --help'\n";
  return 1;
}
