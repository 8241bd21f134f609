// The C++ embedding API: load a model (IR text or ONNX; the builder API
// later), compile it once, run it many times, from several threads.
//
//   llvm::ExitOnError Check("app: ");
//   dlc::Model M = Check(dlc::Model::fromFile("model.dlc"));
//   std::vector<dlc::Tensor> Out = Check(M.run({Input}));
#ifndef DLC_API_MODEL_H
#define DLC_API_MODEL_H

#include "codegen/CompileStats.h"
#include "ir/RunValue.h"
#include "ir/Tensor.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dlc {

class Module;

struct ModelOptions {
  /// "jit" compiles with LLVM for the host CPU; "interp" runs the reference
  /// interpreter (every op, slowly); "auto" takes the JIT when it supports
  /// every op of the model and the interpreter otherwise.
  std::string Engine = "auto";
  unsigned OptLevel = 3;
  /// Threads for the JIT's parallel loops; 0: every hardware thread.
  unsigned Threads = 0;
  /// The function to run; empty: "main", else the first one.
  std::string Function;
  /// The on-disk kernel cache (codegen/KernelCache.h): a kernel compiled
  /// once, by any process, is loaded instead of compiled again.
  bool Cache = true;
  /// Its directory; empty: $DLC_CACHE_DIR, else $XDG_CACHE_HOME/dlc, else
  /// $HOME/.cache/dlc.
  std::string CacheDir;
  /// Where it runs: "cpu", "cuda" (an NVIDIA GPU; needs only the driver)
  /// or "cuda-emu" (the GPU kernels emulated on the CPU). A GPU device
  /// needs engine "auto" or "jit".
  std::string Device = "cpu";
  /// How a GPU device multiplies f32 matrices: "fp32" (default), "tf32"
  /// (tensor cores with tf32 inputs, about 1e-3 relative; exec/GpuAbi.h) or
  /// "bf16" (bf16 inputs, about 1e-2). Either with device "cpu" is an error.
  std::string Precision = "fp32";
  /// ONNX models: every dim of every graph input unknown ('?'), to check
  /// that a model runs without static shapes.
  bool ForceDynamic = false;
  /// ONNX models whose graph inputs feed shape-like operands (axes, k,
  /// pads, sizes, scales, split, repeats, shape, depth, ...) that dlc needs
  /// as constants: the model compiles one variant per set of values of
  /// those inputs on first use and keeps the SpecializationCacheSize most
  /// recently used ones. Likewise for input dims that the file leaves
  /// symbolic but the import needs known (an LSTM's sequence length): one
  /// variant per set of their run-time sizes, the other dims (the batch)
  /// staying symbolic. 0: no specialization (such a model then fails to
  /// load with the importer's message naming the operand).
  unsigned SpecializationCacheSize = 8;
  /// Called with a message when something deserves a warning (for example
  /// the variant cache thrashing); the library never prints on its own.
  std::function<void(const std::string &)> OnWarning;
};

/// How a model specialized on run-time values has fared so far.
struct SpecializationStats {
  /// The inputs it specializes on: a name for an input's values, "NAME
  /// dim K" for one of its dims.
  std::vector<std::string> Inputs;
  unsigned Compiles = 0, Hits = 0, Evictions = 0, Cached = 0;
};

/// One kernel (an op, or a fused group of ops) of a profiled run.
struct KernelProfile {
  std::string Kernel; // the kernel's name, as in compile profiles
  std::string Ops;    // the ops it computes, in order ("conv add relu")
  std::string Shape;  // the first op's result shape in the run ("1x96x56x56")
  double Seconds = 0; // mean wall time per run
  double Flops = -1;  // arithmetic per run (ir/OpCost.h); -1: unknown
};

/// Where the time of a run goes, kernel by kernel (Model::profile).
struct RunProfile {
  std::vector<KernelProfile> Kernels; // in execution order
  double Seconds = 0;                 // mean wall time of a whole run
  unsigned Runs = 0;
};

/// A graph input or output: its name and type (dims may be symbolic). An
/// ONNX sequence or optional port has its element's type in Type; Sequence
/// and Optional say what wraps it (run such models with Model::runValues).
struct Port {
  std::string Name;
  TensorType Type;
  bool Sequence = false, Optional = false;
  bool structured() const { return Sequence || Optional; }
  /// "f32[2,?]", "sequence of f32[?]", "optional sequence of i64[]".
  std::string typeStr() const {
    std::string W = Optional ? (Sequence ? "optional sequence of "
                                         : "optional ")
                             : (Sequence ? "sequence of " : "");
    return W + Type.str();
  }
};

class Model {
public:
  static llvm::Expected<Model> fromText(llvm::StringRef Text,
                                        llvm::StringRef Name = "model.dlc",
                                        const ModelOptions &Opts = {});
  /// Reads IR text, or ONNX (extension .onnx or protobuf content).
  static llvm::Expected<Model> fromFile(llvm::StringRef Path,
                                        const ModelOptions &Opts = {});
  Model(Model &&);
  Model &operator=(Model &&);
  ~Model();

  /// Runs the model. Inputs are checked against the signature (count,
  /// element type, rank, static dims, one size per symbolic dim); errors
  /// name the input. Safe to call from several threads at once.
  /// With the JIT, PeakBytes (when given) receives the peak bytes of
  /// intermediates and outputs alive at once during the run (0 with the
  /// interpreter, which does not measure it).
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes = nullptr) const;

  /// Runs a model whose inputs or outputs may be ONNX sequences or
  /// optionals (Port::Sequence / Port::Optional): a sequence input is a
  /// RunValue::sequence, an empty optional RunValue::none(), a present one
  /// its element. Such a model compiles one variant per structure of its
  /// sequence and optional inputs (lengths, element types and ranks,
  /// presence), and per value of the inputs that drive a Loop carrying a
  /// sequence or an If returning one (see SpecializationCacheSize). Works
  /// for every model (tensors in, tensors out otherwise).
  llvm::Expected<std::vector<RunValue>>
  runValues(llvm::ArrayRef<RunValue> Inputs) const;

  /// Runs the model Runs times on Inputs (after one warm-up run) and times
  /// every kernel. Needs the JIT on the CPU and a model compiled once for
  /// every input value (not specialized).
  llvm::Expected<RunProfile> profile(llvm::ArrayRef<Tensor> Inputs,
                                     unsigned Runs) const;

  const std::vector<Port> &inputs() const;
  const std::vector<Port> &outputs() const;
  /// "jit" or "interp": the engine chosen (for a specialized model, the
  /// one asked for: "auto" may still run a variant in the interpreter).
  llvm::StringRef engine() const;
  /// Empty Inputs when the model is compiled once for every input value;
  /// else the inputs whose values select a compiled variant.
  SpecializationStats specialization() const;
  /// "cpu", "cuda" or "cuda-emu".
  llvm::StringRef device() const;
  /// Where the compile time went (import, graph passes, the JIT's phases).
  const CompileStats &compileStats() const;

private:
  static llvm::Expected<Model>
  fromModule(llvm::Expected<std::unique_ptr<Module>> M,
             llvm::StringRef Name, const ModelOptions &Opts,
             double ImportSeconds = 0);
  struct Impl;
  explicit Model(std::unique_ptr<Impl> I);
  std::unique_ptr<Impl> P;
};

} // namespace dlc

#endif
