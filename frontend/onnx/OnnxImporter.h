// The ONNX importer: reads a ModelProto (opsets 6 to 28 of the default
// domain) into graph IR. Unsupported content (ops, opsets, element types,
// attributes) is reported all at once, one line per problem.
//
//   auto M = importOnnxFile("model.onnx");   // llvm::Expected<...>
#ifndef DLC_FRONTEND_ONNX_ONNXIMPORTER_H
#define DLC_FRONTEND_ONNX_ONNXIMPORTER_H

#include "ir/IR.h"
#include "ir/RunValue.h"

#include <map>

namespace dlc {

/// A graph input or output that is not a plain tensor: an ONNX sequence of
/// tensors, an optional tensor or an optional sequence. For an input, Elem
/// is the declared element type ('?' for undeclared dims; rank 0 and
/// HasShape false when the file gives no shape).
struct OnnxPortForm {
  bool Sequence = false, Optional = false, HasShape = true;
  bool structured() const { return Sequence || Optional; }
  /// "sequence", "optional", "optional sequence" or "tensor".
  std::string str() const {
    return Optional ? (Sequence ? "optional sequence" : "optional")
                    : (Sequence ? "sequence" : "tensor");
  }
};

/// The structure a sequence or optional graph input has in one run: empty
/// (None), a sequence of Elems.size() tensors, or (not Sequence) one tensor
/// Elems[0]. The importer makes each element a function input named
/// "NAME[K]" (a present optional tensor keeps the name NAME).
struct OnnxStructBind {
  bool None = false;
  bool Sequence = false;
  std::vector<TensorType> Elems;
};

/// How a graph output maps onto the function's outputs: a tensor (one
/// output), a sequence (Count outputs, its elements) or an empty optional
/// (none).
struct OnnxOutputForm {
  RunValue::Kind Kind = RunValue::TensorK;
  unsigned Count = 1;
};

struct OnnxImportOptions {
  /// Graph inputs bound to known tensors: they become constants and are
  /// no longer inputs of the function (for shape-like operands that a model
  /// passes as graph inputs).
  std::map<std::string, Tensor> Bind;
  /// Every dim of every remaining graph input becomes unknown ('?'), to test
  /// that a model compiles without static shapes.
  bool ForceDynamic = false;
  /// Dims of graph inputs bound to sizes: per input, one entry per dim, a
  /// size or -1 (kept as imported). For a model that needs a dim known at
  /// import time that the file leaves symbolic (an LSTM's sequence length):
  /// dlc::Model binds them per run (see onnxStaticDimInputs).
  std::map<std::string, std::vector<int64_t>> BindDims;
  /// When set, the importer appends each dim that a converter needed known
  /// at import time but found symbolic or unknown (the import then fails).
  std::vector<Dim> *StaticDimNeeds = nullptr;
  /// Sequence and optional graph inputs bound to a structure (see
  /// OnnxStructBind); unbound ones fail the import. dlc::Model binds them
  /// per run: one variant per structure.
  std::map<std::string, OnnxStructBind> BindStruct;
  /// When set, graph outputs may be sequences (of a length known at import
  /// time) and empty optionals: the importer appends each graph output's
  /// form here, and a sequence's elements become function outputs named
  /// "NAME[K]". When null, such outputs fail the import.
  std::vector<OnnxOutputForm> *OutputForms = nullptr;
  /// Where external data files are looked up; default: the model's folder.
  std::string BaseDir;
  /// Float initializers that the imported graph still reads become
  /// parameters (trainable weights, with their values as initial values)
  /// instead of constants; other initializers stay constants. For training.
  bool InitializersAsParams = false;
  /// The most ops the imported function may hold (nested Loop / Scan / If
  /// bodies are unrolled at import time, so their sizes multiply); 0 takes
  /// the environment variable DLC_MAX_IMPORT_OPS, else DefaultMaxImportOps.
  uint64_t MaxOps = 0;
};

/// The default bound on imported ops (about a million).
constexpr uint64_t DefaultMaxImportOps = uint64_t(1) << 20;

/// Imports the model in Path (a serialized onnx.ModelProto).
llvm::Expected<std::unique_ptr<Module>>
importOnnxFile(llvm::StringRef Path, const OnnxImportOptions &Opts = {});

/// Imports a model from its serialized bytes; Name is used in messages.
llvm::Expected<std::unique_ptr<Module>>
importOnnx(llvm::StringRef Bytes, llvm::StringRef Name,
           const OnnxImportOptions &Opts = {});

/// Reads a model file: ONNX (see isOnnxModel) or dlc IR text.
llvm::Expected<std::unique_ptr<Module>> loadModelFile(llvm::StringRef Path);

/// Whether a model file should be read as ONNX: the extension .onnx, or
/// content that does not start like IR text but parses as a ModelProto.
bool isOnnxModel(llvm::StringRef Path, llvm::StringRef Bytes);

/// The graph inputs (not initializers) of the model in Path that feed a
/// shape-like operand (Reshape's shape, Slice's starts, ...), which must be
/// known at import time: bind them with OnnxImportOptions::Bind (dlc::Model
/// does it per run: it compiles one variant per set of their values). Also
/// the integer vector inputs that feed one through a computation (not
/// through Shape or Size, which read only dims).
llvm::Expected<std::vector<std::string>>
onnxShapeOperandInputs(llvm::StringRef Path);

/// The dims of graph inputs that the model in Path needs known at import
/// time (an RNN's sequence length, its number of directions, ...) but which
/// the file (or Opts.ForceDynamic) leaves symbolic: (input, dim) pairs to
/// bind with OnnxImportOptions::BindDims (dlc::Model does it per run: one
/// variant per set of their sizes, the other dims staying symbolic). When
/// the needed dims are symbols of input dims, exactly the input dims with
/// those symbols; when one cannot be traced to an input (an unknown '?'
/// dim), every non-static input dim. Empty when the import needs none.
llvm::Expected<std::vector<std::pair<std::string, unsigned>>>
onnxStaticDimInputs(llvm::StringRef Path, const OnnxImportOptions &Opts = {});
/// A model's signature as the importer sees it: the graph inputs that are
/// not initializers (nor bound in Opts), typed as importOnnxFile types them
/// (Opts.ForceDynamic applies), and the graph outputs with their declared
/// types ('?' for undeclared dims, f32 for an undeclared element type).
/// For models whose body depends on run-time values of some inputs (see
/// onnxShapeOperandInputs): the signature exists before any value does.
/// For sequences and optionals, the type is the element's and the form
/// (InputForms / OutputForms, one per entry) says what wraps it.
struct OnnxSignature {
  std::vector<std::pair<std::string, TensorType>> Inputs, Outputs;
  std::vector<OnnxPortForm> InputForms, OutputForms;
  bool structured() const {
    for (const OnnxPortForm &F : InputForms)
      if (F.structured())
        return true;
    for (const OnnxPortForm &F : OutputForms)
      if (F.structured())
        return true;
    return false;
  }
};
llvm::Expected<OnnxSignature>
onnxSignature(llvm::StringRef Path, const OnnxImportOptions &Opts = {});

/// What a model file says about itself: "ONNX ir_version 8, producer
/// pytorch 2.5.0, opsets ai.onnx 17, ai.onnx.ml 3".
llvm::Expected<std::string> onnxModelInfo(llvm::StringRef Path);

/// Reads a serialized onnx.TensorProto (for example a test's input_0.pb).
llvm::Expected<Tensor> readOnnxTensorFile(llvm::StringRef Path);

/// Reads a value of the given form: a TensorProto for a tensor, a
/// SequenceProto (of tensors) for a sequence, an OptionalProto for an
/// optional (empty, a tensor or a sequence of tensors).
llvm::Expected<RunValue> readOnnxValueFile(llvm::StringRef Path,
                                           const OnnxPortForm &Form);

/// One supported ONNX op type and the first opset its converter handles.
struct OnnxOpSupport {
  std::string Name;
  int MinOpset;
};
std::vector<OnnxOpSupport> onnxSupportedOps();

/// The opset range of the default domain that the importer accepts.
constexpr int OnnxMinOpset = 6, OnnxMaxOpset = 28;

} // namespace dlc

#endif
