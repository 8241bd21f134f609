// The importer's view of one ONNX node while it is converted: its inputs as
// dlc values (with their constant value when known at import time), typed
// attribute access, op building with import-time constant folding, and a
// sticky error that the driver collects (so every problem of a model is
// reported at once).
#ifndef DLC_FRONTEND_ONNX_NODECONTEXT_H
#define DLC_FRONTEND_ONNX_NODECONTEXT_H

#include "ir/IR.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <map>

namespace dlc {
namespace onnximp {

/// One entry of a shape-like integer vector whose values are not known at
/// import time: dim Dim of value Of, or the constant Const when Of is null.
struct SymDim {
  Value *Of = nullptr;
  unsigned Dim = 0;
  int64_t Const = 0;
};

/// A sequence from SplitToSequence whose length is known only at run time:
/// the pieces of Source along Axis, Length of them (an i64[] value). Its
/// elements exist only as pieces of one size (Unit: single slices, kept as
/// size 1 when KeepDims), which SequenceAt can read with a gather; the rest
/// have data-dependent shapes.
struct RunSeq {
  Value *Length = nullptr;
  Value *Source = nullptr;
  int64_t Axis = 0;
  bool Unit = false;
  bool KeepDims = true;
};

/// Maps ONNX value names to dlc values while a graph is imported.
struct ValueTable {
  llvm::StringMap<Value *> Values;
  /// Integer values (rank 0 or 1) computed from shapes at run time, entry by
  /// entry (Shape -> Gather / Slice / Concat / Unsqueeze ...).
  llvm::DenseMap<Value *, std::vector<SymDim>> Syms;
  /// Sequences (of a length known at import time) as lists of values; a
  /// null element is one whose value cannot be expressed (for example a
  /// piece of a split at run-time sizes): reading it fails.
  llvm::StringMap<std::vector<Value *>> Sequences;
  /// Sequences whose length is known only at run time (see RunSeq).
  llvm::StringMap<RunSeq> RunSequences;
  /// Names whose producer failed or was unsupported: consumers are skipped.
  llvm::StringSet<> Poisoned;
  /// Optionals known at import time to be empty. A non-empty optional is
  /// its element itself (an entry of Values or Sequences).
  llvm::StringSet<> Nones;
  /// The most ops the function may hold (0: no bound); see
  /// OnnxImportOptions::MaxOps. Checked before and after each converter.
  uint64_t MaxOps = 0;
  /// Where a converter records a dim it needs known at import time but
  /// found symbolic or unknown (see OnnxImportOptions::StaticDimNeeds).
  std::vector<Dim> *StaticDimNeeds = nullptr;
  /// Whether Name is defined (a tensor, a sequence or an empty optional).
  bool defines(llvm::StringRef Name) const {
    return Values.count(Name) || Sequences.count(Name) ||
           RunSequences.count(Name) || Nones.count(Name);
  }
};

class NodeContext {
public:
  NodeContext(Function &F, ValueTable &VT, const onnx::NodeProto &N,
              int64_t Opset, Loc L);

  const onnx::NodeProto &Node;
  const int64_t Opset;
  const Loc L;

  // ----- Inputs ------------------------------------------------------------
  unsigned numInputs() const { return Node.input_size(); }
  /// Input I is given (present and not the empty name).
  bool has(unsigned I) const;
  /// Input I as a value; fails (sticky) when it is missing.
  Value *in(unsigned I);
  /// Input I as a sequence; fails (sticky) and returns null when it is
  /// missing or a tensor.
  const std::vector<Value *> *seqIn(unsigned I);
  /// Input I when it is a sequence of run-time length, else null (no
  /// failure; seqIn reports those).
  const RunSeq *runSeqIn(unsigned I) const;
  /// Is Name a sequence (of either kind)?
  bool isSequence(llvm::StringRef Name) const;
  /// Input I's value when it is a constant at import time, else null.
  const Tensor *constIn(unsigned I);
  /// Input I as a list of integers; fails when it is not an import-time
  /// constant (What names the operand in the message).
  std::optional<std::vector<int64_t>> intsIn(unsigned I, llvm::StringRef What);
  /// The value named Name in the graph so far (null if there is none).
  Value *valueNamed(llvm::StringRef Name) { return VT.Values.lookup(Name); }
  /// The function being built (for converters that rewrite whole paths).
  Function &function() { return F; }
  /// The value table (for converters that import subgraphs).
  ValueTable &values() { return VT; }
  /// Input I as one number (a scalar or one-element constant).
  std::optional<double> scalarIn(unsigned I, llvm::StringRef What);
  /// Input I as one integer: an integer constant exactly, a float one when it
  /// is finite and within int64 (truncated toward zero, as a cast); anything
  /// else fails with its value.
  std::optional<int64_t> intScalarIn(unsigned I, llvm::StringRef What);

  // ----- Attributes (a wrong attribute type fails) --------------------------
  bool hasAttr(llvm::StringRef Name) const;
  int64_t attrInt(llvm::StringRef Name, int64_t Default);
  /// Attribute `axis` (default Default) normalized against X's rank; -1
  /// after reporting "axis is out of range" when it is not an axis of X.
  int64_t axisOf(Value *X, int64_t Default);
  double attrFloat(llvm::StringRef Name, double Default);
  std::string attrStr(llvm::StringRef Name, llvm::StringRef Default);
  std::vector<int64_t> attrInts(llvm::StringRef Name);
  std::vector<double> attrFloats(llvm::StringRef Name);
  std::vector<std::string> attrStrs(llvm::StringRef Name);
  const onnx::TensorProto *attrTensor(llvm::StringRef Name);
  /// A subgraph attribute (then_branch, body, ...); fails when missing.
  const onnx::GraphProto *attrGraph(llvm::StringRef Name);
  /// Fails for every attribute not in Known (an attribute the converter
  /// does not implement must not be ignored silently).
  void allowAttrs(std::initializer_list<llvm::StringRef> Known);

  // ----- Building ----------------------------------------------------------
  /// Builds an op (shape-inferred); when every operand is an import-time
  /// constant and the result is small, it is evaluated and replaced by a
  /// constant. Returns the first result; null after a failure.
  Value *op(OpKind K, llvm::ArrayRef<Value *> Operands,
            std::vector<NamedAttr> Attrs = {});
  /// As op, returning every result.
  llvm::SmallVector<Value *, 2> opN(OpKind K, llvm::ArrayRef<Value *> Operands,
                                    std::vector<NamedAttr> Attrs = {});
  Value *constant(Tensor T);
  Value *scalar(DType E, double V);
  /// A constant i64 vector.
  Value *ints(llvm::ArrayRef<int64_t> V);
  /// X converted to E (no op when it already is E).
  Value *cast(Value *X, DType E);
  /// Dim I of X as an i64 scalar: a constant when static, else read from
  /// X's shape at run time.
  Value *dimOf(Value *X, unsigned I);
  /// The index along Axis at each position of Like (i64, Like's shape).
  Value *iota(Value *Like, int64_t Axis);
  /// Input I's entries when it is an integer constant or a tracked shape
  /// computation (see ValueTable::Syms).
  std::optional<std::vector<SymDim>> symIn(unsigned I);
  /// A tensor whose dims are Entries (its values are meaningless): the like
  /// operand of reshape / expand for shapes known at run time. Null (and a
  /// failure) for negative constants.
  Value *likeOf(llvm::ArrayRef<SymDim> Entries);
  /// Input I as an i64 vector whose values are a shape read at run time (the
  /// operand of a by_value reshape or expand); null and a failure unless it
  /// is an integer vector of static length.
  Value *shapeIn(unsigned I, llvm::StringRef What);
  /// Records what the node computed when it is a shape computation.
  void trackShapes();

  // ----- Outputs -----------------------------------------------------------
  unsigned numOutputs() const { return Node.output_size(); }
  /// Output I is requested (present and named).
  bool wantsOutput(unsigned I) const;
  void setOutput(unsigned I, Value *V);
  void setSeqOutput(unsigned I, std::vector<Value *> S);
  void setRunSeqOutput(unsigned I, RunSeq S);

  // ----- Errors ------------------------------------------------------------
  /// Records the first problem of this node (later ones are dropped: they
  /// usually follow from the first).
  void fail(const llvm::Twine &Msg);
  /// Fails with Msg, recording D as a dim that a specialized import could
  /// bind (OnnxImportOptions::StaticDimNeeds).
  void failNeedsStatic(const Dim &D, const llvm::Twine &Msg);
  bool failed() const { return !Error.empty(); }
  const std::string &error() const { return Error; }

private:
  Function &F;
  ValueTable &VT;
  std::string Error;
  const onnx::AttributeProto *findAttr(llvm::StringRef Name) const;
};

/// Arithmetic shorthands over one node's context, for converters that
/// write formulas (each returns null once the node has failed).
struct Arith {
  NodeContext &C;
  Value *add(Value *A, Value *B) { return C.op(OpKind::Add, {A, B}); }
  Value *sub(Value *A, Value *B) { return C.op(OpKind::Sub, {A, B}); }
  Value *mul(Value *A, Value *B) { return C.op(OpKind::Mul, {A, B}); }
  Value *div(Value *A, Value *B) { return C.op(OpKind::Div, {A, B}); }
  Value *un(OpKind K, Value *A) { return C.op(K, {A}); }
  Value *bin(OpKind K, Value *A, Value *B) { return C.op(K, {A, B}); }
  Value *where(Value *Cond, Value *A, Value *B) {
    return C.op(OpKind::Where, {Cond, A, B});
  }
};

/// Attribute shorthands for building ops.
NamedAttr aInt(llvm::StringRef N, int64_t V);
NamedAttr aFloat(llvm::StringRef N, double V);
NamedAttr aBool(llvm::StringRef N, bool V);
NamedAttr aStr(llvm::StringRef N, llvm::StringRef V);
NamedAttr aInts(llvm::StringRef N, llvm::ArrayRef<int64_t> V);
NamedAttr aType(llvm::StringRef N, DType V);

/// A / B with ONNX semantics for every element type (integers truncate).
Value *divide(NodeContext &C, Value *A, Value *B);

/// Normalizes a possibly negative axis for a rank; -1 when out of range.
int64_t normAxis(int64_t Axis, int64_t Rank);
/// The permutation that moves Axis last (Perm) and its inverse (Inv).
void axisLastPerm(int64_t Rank, int64_t Axis, std::vector<int64_t> &Perm,
                  std::vector<int64_t> &Inv);

/// A converter for one ONNX op type. It reads C.Opset for version-dependent
/// semantics and sets every requested output (or fails).
using Converter = void (*)(NodeContext &C);

struct OpEntry {
  const char *Name;
  int MinOpset;              // first opset version the converter handles
  Converter Fn;
  /// Inputs that must be import-time constants (shape-like operands).
  std::vector<unsigned> ShapeInputs;
};

/// Converter tables, one per op family.
void addElementwiseOps(std::vector<OpEntry> &T);
void addMathOps(std::vector<OpEntry> &T);
void addReductionOps(std::vector<OpEntry> &T);
void addNNOps(std::vector<OpEntry> &T);
void addNormOps(std::vector<OpEntry> &T);
void addMovementOps(std::vector<OpEntry> &T);
void addShapeOps(std::vector<OpEntry> &T);
void addLossOps(std::vector<OpEntry> &T);
void addIndexingOps(std::vector<OpEntry> &T);
void addAttentionOps(std::vector<OpEntry> &T);
void addResizeOps(std::vector<OpEntry> &T);
void addTrainingOps(std::vector<OpEntry> &T);
void addScatterOps(std::vector<OpEntry> &T);
void addQuantizeOps(std::vector<OpEntry> &T);
void addSequenceOps(std::vector<OpEntry> &T);
void addSpatialOps(std::vector<OpEntry> &T);
void addEinsumOps(std::vector<OpEntry> &T);
void addRecurrentOps(std::vector<OpEntry> &T);
void addSignalOps(std::vector<OpEntry> &T);
void addDataShapeOps(std::vector<OpEntry> &T);
void addQLinearOps(std::vector<OpEntry> &T);

/// Conv of X and W (and bias B, or null) with the node's Conv attributes
/// (auto_pad, dilations, group, kernel_shape, pads, strides); null after a
/// failure. For the converters of Conv, ConvInteger and QLinearConv.
Value *convOf(NodeContext &C, Value *X, Value *W, Value *B);
void addStringOps(std::vector<OpEntry> &T);
void addControlOps(std::vector<OpEntry> &T);

/// The domain of the optimizer ops (Adam, ...) and Gradient.
constexpr const char *TrainingDomain = "ai.onnx.preview.training";
/// The domain of the classic machine-learning ops (LabelEncoder, ...).
constexpr const char *MlDomain = "ai.onnx.ml";

/// Every converter, by ONNX op type; ops of another domain than the default
/// one are keyed "<domain>.<op type>".
const llvm::StringMap<OpEntry> &opTable();
/// N's key in opTable().
std::string opKey(const onnx::NodeProto &N);
/// N's converter for the default domain's Opset, or null after setting Why
/// (the op type is unknown, or needs a later opset).
const OpEntry *findConverter(const onnx::NodeProto &N, int64_t Opset,
                             std::string &Why);
/// Runs E's converter on C's node and fails C when a requested output was
/// left unset.
void runConverter(NodeContext &C, const OpEntry &E);

} // namespace onnximp
} // namespace dlc

#endif
