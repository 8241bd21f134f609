// SpecializedModel: dlc::Model's engine for ONNX models whose graph inputs
// feed shape-like operands (axes, k, pads, sizes, ...) that the graph IR
// holds as attributes, or whose input dims the importer needs known (an
// LSTM's sequence length). The values of those inputs and the sizes of those
// dims, given at run time, key a compiled variant: imported with them bound,
// optimized and compiled on first use, kept in a bounded least-recently-used
// cache.
#ifndef DLC_API_SPECIALIZE_H
#define DLC_API_SPECIALIZE_H

#include "api/Model.h"

#include "llvm/ADT/StringSet.h"

#include <list>
#include <map>
#include <mutex>

namespace dlc {

class SpecializedModel {
public:
  /// Path: the ONNX model; Spec: its graph inputs to specialize on by
  /// value (from onnxShapeOperandInputs); DimSpec: input dims to specialize
  /// on by size (from onnxStaticDimInputs). Fills the model's ports from
  /// the signature.
  static llvm::Expected<std::unique_ptr<SpecializedModel>>
  create(llvm::StringRef Path, const ModelOptions &Opts,
         std::vector<std::string> Spec,
         std::vector<std::pair<std::string, unsigned>> DimSpec,
         std::vector<Port> &Inputs, std::vector<Port> &Outputs);
  ~SpecializedModel();

  /// Runs the variant for the values of the specialized inputs (compiling
  /// it first when it is not cached). Thread-safe.
  llvm::Expected<std::vector<Tensor>> run(llvm::ArrayRef<Tensor> Inputs,
                                          uint64_t *PeakBytes) const;
  /// The same with sequence and optional inputs and outputs: the structure
  /// of each such input is part of the variant's key.
  llvm::Expected<std::vector<RunValue>>
  runValues(llvm::ArrayRef<RunValue> Inputs, uint64_t *PeakBytes) const;
  SpecializationStats stats() const;

  struct Variant;

private:
  SpecializedModel() = default;
  llvm::Expected<std::shared_ptr<const Variant>>
  variantFor(llvm::ArrayRef<RunValue> Inputs) const;
  llvm::Expected<std::shared_ptr<const Variant>>
  compile(llvm::ArrayRef<RunValue> Inputs) const;
  /// The function input type of a sequence or optional input's element
  /// (declared static dims kept, the others unknown unless AllDims).
  TensorType elemType(unsigned Input, const Tensor &T) const;

  std::string Path;
  ModelOptions Opts;
  std::vector<Port> Inputs, Outputs;
  std::vector<bool> HasShape; // per input: whether the file gives a shape
  std::vector<unsigned> SpecIndex; // positions of the specialized inputs
  /// (input position, dim) of the dims specialized by size.
  std::vector<std::pair<unsigned, unsigned>> DimIndex;

  mutable std::mutex Mutex;
  /// Most recently used first.
  mutable std::list<std::pair<std::string, std::shared_ptr<const Variant>>>
      Lru;
  mutable std::map<std::string, decltype(Lru)::iterator> ByKey;
  mutable llvm::StringSet<> Evicted; // keys compiled, then evicted
  mutable SpecializationStats Stats;
  mutable unsigned Recompiles = 0;
  mutable bool Warned = false;
  /// Set when a variant's import needed more dims than DimIndex (see 6. in
  /// Specialize.cpp): every unknown input dim is then bound. Under Mutex.
  mutable bool AllDims = false;
  /// The (input, dim) pairs a variant binds: DimIndex, or all unknown ones.
  std::vector<std::pair<unsigned, unsigned>> dimsToBind() const;
};

} // namespace dlc

#endif
