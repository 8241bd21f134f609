// NodeContext: inputs, attributes, op building with import-time constant
// folding, and the node's sticky error.
#include "frontend/onnx/NodeContext.h"

#include "frontend/onnx/ImportConstant.h"
#include "frontend/onnx/OnnxImporter.h"
#include "frontend/onnx/OnnxTensor.h"
#include "interp/Interpreter.h"
#include "ir/TensorLimits.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

using namespace dlc;
using namespace dlc::onnximp;

NodeContext::NodeContext(Function &F, ValueTable &VT,
                         const onnx::NodeProto &N, int64_t Opset, Loc L)
    : Node(N), Opset(Opset), L(std::move(L)), F(F), VT(VT) {}

void NodeContext::fail(const llvm::Twine &Msg) {
  if (Error.empty())
    Error = Msg.str();
}

void NodeContext::failNeedsStatic(const Dim &D, const llvm::Twine &Msg) {
  if (VT.StaticDimNeeds)
    VT.StaticDimNeeds->push_back(D);
  fail(Msg);
}

bool NodeContext::has(unsigned I) const {
  return I < unsigned(Node.input_size()) && !Node.input(I).empty();
}

Value *NodeContext::in(unsigned I) {
  if (!has(I)) {
    fail("input " + llvm::Twine(I) + " is required");
    return nullptr;
  }
  Value *V = VT.Values.lookup(Node.input(I));
  if (!V && VT.Nones.count(Node.input(I)))
    fail("input '" + Node.input(I) + "' is an empty optional, but this "
         "operand must be a tensor");
  else if (!V && isSequence(Node.input(I)))
    fail("input '" + Node.input(I) + "' is a sequence, but this operand must "
         "be a tensor");
  else if (!V)
    fail("input '" + Node.input(I) + "' is not defined before this node");
  return V;
}

const std::vector<Value *> *NodeContext::seqIn(unsigned I) {
  if (!has(I)) {
    fail("input " + llvm::Twine(I) + " is required");
    return nullptr;
  }
  auto It = VT.Sequences.find(Node.input(I));
  if (It != VT.Sequences.end())
    return &It->second;
  if (VT.RunSequences.count(Node.input(I)))
    fail("input '" + Node.input(I) + "' is a sequence whose length is known "
         "only at run time (a SplitToSequence along a dim or at sizes not "
         "known at import time); only SequenceLength and SequenceAt (of "
         "single slices) can read it");
  else if (VT.Values.count(Node.input(I)))
    fail("input '" + Node.input(I) + "' is a tensor, but this operand must "
         "be a sequence");
  else
    fail("input '" + Node.input(I) + "' is not defined before this node");
  return nullptr;
}

const RunSeq *NodeContext::runSeqIn(unsigned I) const {
  if (!has(I))
    return nullptr;
  auto It = VT.RunSequences.find(Node.input(I));
  return It == VT.RunSequences.end() ? nullptr : &It->second;
}

bool NodeContext::isSequence(llvm::StringRef Name) const {
  return VT.Sequences.count(Name) || VT.RunSequences.count(Name);
}

/// Whether V is computed from constants and the shapes of values only
/// (through shape_of), never from the data of an input or parameter.
static bool dependsOnlyOnShapes(const Value *V) {
  llvm::SmallVector<const Value *, 16> Work = {V};
  llvm::SmallPtrSet<const Value *, 16> Seen;
  bool SawShape = false;
  while (!Work.empty()) {
    const Value *W = Work.pop_back_val();
    if (!W || !Seen.insert(W).second)
      continue;
    if (!W->Def || runsOnHost(*W->Def) ||
        W->Def->info().has(OpTrait::Random) || Seen.size() > 4096)
      return false;
    if (W->Def->kind() == OpKind::ShapeOf) {
      SawShape = true;
      continue;
    }
    for (const Value *O : W->Def->Operands)
      Work.push_back(O);
  }
  return SawShape;
}

const Tensor *NodeContext::constIn(unsigned I) {
  if (!has(I))
    return nullptr;
  Value *V = VT.Values.lookup(Node.input(I));
  if (!V || !V->Def || V->Def->kind() != OpKind::Constant)
    return nullptr;
  return V->Def->attr("value").getTensor().get();
}

std::optional<std::vector<int64_t>> NodeContext::intsIn(unsigned I,
                                                        llvm::StringRef What) {
  if (!in(I))
    return std::nullopt;
  const Tensor *T = constIn(I);
  if (!T && dependsOnlyOnShapes(VT.Values.lookup(Node.input(I)))) {
    // Computed from input shapes that the import leaves unknown: a variant
    // with those dims bound folds it (OnnxImportOptions::StaticDimNeeds).
    failNeedsStatic(Dim::unknown(),
                    "operand '" + What + "' ('" + Node.input(I) +
                        "') must be known at import time, but it is computed "
                        "at run time from input dims not known at import time");
    return std::nullopt;
  }
  if (!T) {
    fail("operand '" + What + "' ('" + Node.input(I) +
         "') must be known at import time (an initializer or a Constant "
         "node), but it is computed at run time");
    return std::nullopt;
  }
  if (!isInteger(T->elem())) {
    fail("operand '" + What + "' must hold integers, not " +
         dtypeName(T->elem()));
    return std::nullopt;
  }
  std::vector<int64_t> V;
  for (int64_t K = 0; K < T->numElements(); ++K)
    V.push_back(T->getI(K));
  return V;
}

std::optional<double> NodeContext::scalarIn(unsigned I, llvm::StringRef What) {
  if (!in(I))
    return std::nullopt;
  const Tensor *T = constIn(I);
  if (!T || T->numElements() != 1) {
    fail("operand '" + What + "' must be a one-element constant known at "
         "import time");
    return std::nullopt;
  }
  return T->getF(0);
}

std::optional<int64_t> NodeContext::intScalarIn(unsigned I,
                                                llvm::StringRef What) {
  if (!scalarIn(I, What)) // missing, not a constant or not one element
    return std::nullopt;
  const Tensor &T = *constIn(I);
  if (!isFloat(T.elem()))
    return T.getI(0);
  double V = T.getF(0);
  // The int64 range, [-2^63, 2^63): both bounds are exact doubles.
  if (!(V >= -9223372036854775808.0 && V < 9223372036854775808.0)) {
    std::string Text;
    llvm::raw_string_ostream(Text) << V;
    fail("operand '" + What + "' = " + Text +
         " is not an integer in the int64 range");
    return std::nullopt;
  }
  return int64_t(V);
}

const onnx::AttributeProto *NodeContext::findAttr(llvm::StringRef Name) const {
  for (const auto &A : Node.attribute())
    if (A.name() == Name)
      return &A;
  return nullptr;
}

bool NodeContext::hasAttr(llvm::StringRef Name) const {
  return findAttr(Name) != nullptr;
}

/// Checks that attribute A has type T; older exporters leave the type unset,
/// which is accepted when the expected field is filled.
static bool hasType(const onnx::AttributeProto &A,
                    onnx::AttributeProto::AttributeType T, bool Filled) {
  return A.type() == T ||
         (A.type() == onnx::AttributeProto::UNDEFINED && Filled);
}

static const char *typeWord(onnx::AttributeProto::AttributeType T) {
  switch (T) {
  case onnx::AttributeProto::INT: return "an int";
  case onnx::AttributeProto::FLOAT: return "a float";
  case onnx::AttributeProto::STRING: return "a string";
  case onnx::AttributeProto::INTS: return "a list of ints";
  case onnx::AttributeProto::FLOATS: return "a list of floats";
  case onnx::AttributeProto::STRINGS: return "a list of strings";
  case onnx::AttributeProto::TENSOR: return "a tensor";
  case onnx::AttributeProto::GRAPH: return "a graph";
  default: return "another type";
  }
}

#define DLC_ATTR_GET(Kind, Filled, Expr, Default)                              \
  const onnx::AttributeProto *A = findAttr(Name);                              \
  if (!A)                                                                      \
    return Default;                                                            \
  if (!hasType(*A, onnx::AttributeProto::Kind, Filled)) {                      \
    fail("attribute '" + Name + "' must be " +                                 \
         typeWord(onnx::AttributeProto::Kind) + ", not " +                     \
         typeWord(A->type()));                                                 \
    return Default;                                                            \
  }                                                                            \
  return Expr;

int64_t NodeContext::attrInt(llvm::StringRef Name, int64_t Default) {
  DLC_ATTR_GET(INT, A->has_i(), A->i(), Default)
}
int64_t NodeContext::axisOf(Value *X, int64_t Default) {
  int64_t Axis = normAxis(attrInt("axis", Default), X->Type.rank());
  if (Axis < 0)
    fail("axis is out of range for " + X->Type.str());
  return Axis;
}
double NodeContext::attrFloat(llvm::StringRef Name, double Default) {
  DLC_ATTR_GET(FLOAT, A->has_f(), A->f(), Default)
}
std::string NodeContext::attrStr(llvm::StringRef Name,
                                 llvm::StringRef Default) {
  DLC_ATTR_GET(STRING, A->has_s(), A->s(), Default.str())
}
std::vector<int64_t> NodeContext::attrInts(llvm::StringRef Name) {
  DLC_ATTR_GET(INTS, A->ints_size() > 0,
               std::vector<int64_t>(A->ints().begin(), A->ints().end()), {})
}
std::vector<double> NodeContext::attrFloats(llvm::StringRef Name) {
  DLC_ATTR_GET(FLOATS, A->floats_size() > 0,
               std::vector<double>(A->floats().begin(), A->floats().end()),
               {})
}
std::vector<std::string> NodeContext::attrStrs(llvm::StringRef Name) {
  DLC_ATTR_GET(STRINGS, A->strings_size() > 0,
               std::vector<std::string>(A->strings().begin(),
                                        A->strings().end()),
               {})
}
const onnx::TensorProto *NodeContext::attrTensor(llvm::StringRef Name) {
  DLC_ATTR_GET(TENSOR, A->has_t(), &A->t(), nullptr)
}
const onnx::GraphProto *NodeContext::attrGraph(llvm::StringRef Name) {
  if (!findAttr(Name)) {
    fail("attribute '" + Name + "' is required");
    return nullptr;
  }
  DLC_ATTR_GET(GRAPH, A->has_g(), &A->g(), nullptr)
}
#undef DLC_ATTR_GET

void NodeContext::allowAttrs(std::initializer_list<llvm::StringRef> Known) {
  for (const auto &A : Node.attribute())
    if (llvm::find(Known, llvm::StringRef(A.name())) == Known.end())
      fail("attribute '" + A.name() + "' is not supported");
}

llvm::SmallVector<Value *, 2>
NodeContext::opN(OpKind K, llvm::ArrayRef<Value *> Operands,
                 std::vector<NamedAttr> Attrs) {
  if (failed() || llvm::is_contained(Operands, nullptr))
    return {};
  OpBuilder B(F, F.Body.end(), L);
  auto Op = B.tryCreate(K, Operands, std::move(Attrs));
  if (!Op) {
    // The node's location leads the driver's report already.
    std::string Msg = llvm::toString(Op.takeError());
    llvm::StringRef Rest(Msg);
    if (Rest.consume_front(L.str()) && Rest.consume_front(": error: "))
      Msg = Rest.str();
    fail(Msg);
    return {};
  }
  llvm::SmallVector<Value *, 2> Results;
  for (unsigned I = 0; I < (*Op)->numResults(); ++I)
    Results.push_back((*Op)->result(I));
  // Fold when every operand is a constant (sources stay ops: they may be
  // large) or when it is the shape of a statically shaped value.
  llvm::SmallVector<const Tensor *, 4> Args;
  for (Value *V : Operands)
    if (V->Def && V->Def->kind() == OpKind::Constant)
      Args.push_back(V->Def->attr("value").getTensor().get());
  bool Fold = !Operands.empty() && Args.size() == Operands.size();
  if (K == OpKind::ShapeOf && Operands[0]->Type.isStatic()) {
    auto Sizes = Operands[0]->Type.staticSizes();
    Tensor T(DType::I64, {int64_t(Sizes.size())});
    for (size_t I = 0; I < Sizes.size(); ++I)
      T.setI(I, Sizes[I]);
    F.Body.pop_back();
    return {constant(std::move(T))};
  }
  for (Value *R : Results) {
    auto N = R->Type.numElements();
    Fold &= N && *N <= FoldLimit;
  }
  if (!Fold)
    return Results;
  auto Vals = evaluateOp(**Op, Args);
  if (!Vals) {
    // Left to run time, where the same error is reported.
    llvm::consumeError(Vals.takeError());
    return Results;
  }
  F.Body.pop_back();
  Results.clear();
  for (Tensor &T : *Vals)
    Results.push_back(constant(std::move(T)));
  return Results;
}

Value *NodeContext::op(OpKind K, llvm::ArrayRef<Value *> Operands,
                       std::vector<NamedAttr> Attrs) {
  auto R = opN(K, Operands, std::move(Attrs));
  return R.empty() ? nullptr : R[0];
}

Value *NodeContext::constant(Tensor T) {
  OpBuilder B(F, F.Body.end(), L);
  return B.constant(std::move(T));
}

std::optional<Tensor> onnximp::newConstantTensor(NodeContext &C, DType E,
                                                 llvm::ArrayRef<int64_t> Dims,
                                                 const llvm::Twine &What) {
  int64_t N;
  uint64_t Bytes = productOf(Dims, N) ? tensorHostBytes(E, N) : UINT64_MAX;
  if (Bytes > ImportConstantBytes) {
    C.fail(What + " would be a constant of " + TensorType::get(E, Dims).str() +
           " (" + llvm::Twine(Bytes) +
           " bytes), more than the importer's limit of " +
           llvm::Twine(ImportConstantBytes >> 20) + " MiB");
    return std::nullopt;
  }
  return Tensor(E, Dims);
}

Value *NodeContext::scalar(DType E, double V) {
  if (isString(E)) {
    // A numeric formula over a string operand: the node's inputs are wrong.
    fail("expects numeric tensors, got a " + dtypeName(E) + " operand");
    return nullptr;
  }
  Tensor T(E, {});
  T.setF(0, V);
  return constant(std::move(T));
}

Value *NodeContext::ints(llvm::ArrayRef<int64_t> V) {
  Tensor T(DType::I64, {int64_t(V.size())});
  for (size_t I = 0; I < V.size(); ++I)
    T.setI(I, V[I]);
  return constant(std::move(T));
}

Value *NodeContext::cast(Value *X, DType E) {
  if (!X || X->Type.elem() == E)
    return X;
  return op(OpKind::Cast, {X}, {aType("to", E)});
}

Value *NodeContext::dimOf(Value *X, unsigned I) {
  if (!X || I >= X->Type.rank()) {
    fail("internal: no dim " + llvm::Twine(I));
    return nullptr;
  }
  if (X->Type.dim(I).isStatic())
    return scalar(DType::I64, double(X->Type.dim(I).size()));
  return op(OpKind::Gather, {op(OpKind::ShapeOf, {X}), scalar(DType::I64, I)});
}

Value *NodeContext::iota(Value *Like, int64_t Axis) {
  return op(OpKind::Iota, {Like}, {aInt("axis", Axis)});
}

bool NodeContext::wantsOutput(unsigned I) const {
  return I < unsigned(Node.output_size()) && !Node.output(I).empty();
}

void NodeContext::setOutput(unsigned I, Value *V) {
  if (!V) {
    fail("could not compute output " + llvm::Twine(I));
    return;
  }
  if (!wantsOutput(I))
    return;
  VT.Values[Node.output(I)] = V;
}

void NodeContext::setSeqOutput(unsigned I, std::vector<Value *> S) {
  if (wantsOutput(I))
    VT.Sequences[Node.output(I)] = std::move(S);
}

void NodeContext::setRunSeqOutput(unsigned I, RunSeq S) {
  if (wantsOutput(I))
    VT.RunSequences[Node.output(I)] = S;
}

NamedAttr onnximp::aInt(llvm::StringRef N, int64_t V) {
  return {N.str(), Attribute::getInt(V)};
}
NamedAttr onnximp::aFloat(llvm::StringRef N, double V) {
  return {N.str(), Attribute::getFloat(V)};
}
NamedAttr onnximp::aBool(llvm::StringRef N, bool V) {
  return {N.str(), Attribute::getBool(V)};
}
NamedAttr onnximp::aStr(llvm::StringRef N, llvm::StringRef V) {
  return {N.str(), Attribute::getString(V)};
}
NamedAttr onnximp::aInts(llvm::StringRef N, llvm::ArrayRef<int64_t> V) {
  return {N.str(), Attribute::getInts(V)};
}
NamedAttr onnximp::aType(llvm::StringRef N, DType V) {
  return {N.str(), Attribute::getType(V)};
}

int64_t onnximp::normAxis(int64_t Axis, int64_t Rank) {
  if (Axis < -Rank || Axis >= Rank)
    return -1;
  return Axis < 0 ? Axis + Rank : Axis;
}

void onnximp::axisLastPerm(int64_t Rank, int64_t Axis,
                           std::vector<int64_t> &Perm,
                           std::vector<int64_t> &Inv) {
  Perm.clear();
  for (int64_t I = 0; I < Rank; ++I)
    if (I != Axis)
      Perm.push_back(I);
  Perm.push_back(Axis);
  Inv.assign(Rank, 0);
  for (int64_t I = 0; I < Rank; ++I)
    Inv[Perm[I]] = I;
}

const llvm::StringMap<OpEntry> &onnximp::opTable() {
  static const llvm::StringMap<OpEntry> Table = [] {
    std::vector<OpEntry> All;
    addElementwiseOps(All);
    addMathOps(All);
    addReductionOps(All);
    addNNOps(All);
    addNormOps(All);
    addMovementOps(All);
    addShapeOps(All);
    addLossOps(All);
    addIndexingOps(All);
    addAttentionOps(All);
    addResizeOps(All);
    addTrainingOps(All);
    addScatterOps(All);
    addQuantizeOps(All);
    addSequenceOps(All);
    addSpatialOps(All);
    addEinsumOps(All);
    addRecurrentOps(All);
    addSignalOps(All);
    addDataShapeOps(All);
    addQLinearOps(All);
    addStringOps(All);
    addControlOps(All);
    llvm::StringMap<OpEntry> M;
    for (OpEntry &E : All)
      M.try_emplace(E.Name, E);
    return M;
  }();
  return Table;
}

std::string onnximp::opKey(const onnx::NodeProto &N) {
  if (N.domain().empty() || N.domain() == "ai.onnx")
    return N.op_type();
  return N.domain() + "." + N.op_type();
}

const OpEntry *onnximp::findConverter(const onnx::NodeProto &N,
                                      int64_t Opset, std::string &Why) {
  bool Default = N.domain().empty() || N.domain() == "ai.onnx";
  auto It = opTable().find(opKey(N));
  if (It == opTable().end()) {
    Why = "op type '" + N.op_type() + "'" +
          (Default ? "" : " of domain '" + N.domain() + "'") +
          " is not supported";
    return nullptr;
  }
  // Before opset 6 (legacy attributes such as consumed_inputs and
  // broadcast), only ops whose definition has not changed since opset 1.
  static const llvm::StringSet<> Unchanged = {"Not"};
  if (Default && Opset < OnnxMinOpset && !Unchanged.count(N.op_type())) {
    Why = "'" + N.op_type() + "' before opset " +
          std::to_string(OnnxMinOpset) +
          " is not supported (of opsets 1 to 5, only ops unchanged since "
          "opset 1 are read: Not)";
    return nullptr;
  }
  if (Default && Opset < It->second.MinOpset) {
    Why = "'" + N.op_type() + "' is supported from opset " +
          std::to_string(It->second.MinOpset);
    return nullptr;
  }
  return &It->second;
}

/// Fails C when the function outgrew the import bound.
static bool withinBound(NodeContext &C) {
  uint64_t Max = C.values().MaxOps;
  if (!Max || C.function().Body.size() <= Max)
    return true;
  C.fail("the imported graph grows past " + llvm::Twine(Max) +
         " ops (Loop, Scan and If bodies are unrolled at import time, so "
         "nested ones multiply); raise the bound with the environment "
         "variable DLC_MAX_IMPORT_OPS or OnnxImportOptions::MaxOps");
  return false;
}

void onnximp::runConverter(NodeContext &C, const OpEntry &E) {
  if (!withinBound(C))
    return;
  E.Fn(C);
  if (!C.failed())
    withinBound(C);
  for (unsigned O = 0; O < C.numOutputs() && !C.failed(); ++O)
    if (C.wantsOutput(O) && !C.values().defines(C.Node.output(O)))
      C.fail("output " + llvm::Twine(O) + " ('" + C.Node.output(O) +
             "') is not supported");
}
