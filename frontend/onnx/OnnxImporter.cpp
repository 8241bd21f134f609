// The ONNX importer's driver.
//
// 1. Parse the ModelProto; find the default domain's opset (7..28).
// 2. Check every node before converting anything: known op type and opset,
//    inputs defined before use (which also rules out cycles), outputs
//    defined once. All problems are collected.
// 3. Initializers and bound inputs become constants; the other graph inputs
//    become function inputs (dim_param dims stay symbolic).
// 4. Convert nodes in order with the op table; a failing node records its
//    problem and poisons its outputs, so later nodes reading them are
//    skipped instead of reporting follow-up errors.
// 5. If any problem was recorded, return them all, one line each.
// 6. On request, float initializers still read become parameters.
#include "frontend/onnx/OnnxImporter.h"

#include "frontend/onnx/NodeContext.h"
#include "frontend/onnx/OnnxTensor.h"
#include "frontend/onnx/OnnxValues.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstdlib>

using namespace dlc;
using namespace dlc::onnximp;

namespace {

struct Problems {
  std::vector<std::string> Lines;
  void add(const std::string &Where, const llvm::Twine &Msg) {
    Lines.push_back(Where + ": error: " + Msg.str());
  }
  llvm::Error take() {
    std::string S;
    for (const std::string &L : Lines)
      S += (S.empty() ? "" : "\n") + L;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), S);
  }
};

std::string nodeWhere(llvm::StringRef File, const onnx::NodeProto &N,
                      int Index, int64_t Opset) {
  std::string Name = N.name().empty() ? "#" + std::to_string(Index)
                                      : "'" + N.name() + "'";
  std::string S = File.str() + ": node " + Name + " (" + N.op_type();
  if (Opset)
    S += ", opset " + std::to_string(Opset);
  return S + ")";
}

/// Symbol names must be identifiers in the IR text.
std::string symbolName(llvm::StringRef P) {
  std::string S;
  for (char C : P)
    S += std::isalnum((unsigned char)C) ? C : '_';
  if (S.empty() || std::isdigit((unsigned char)S[0]))
    S = "d_" + S;
  return S;
}

class GraphImporter {
public:
  GraphImporter(const onnx::ModelProto &MP, llvm::StringRef File,
                const OnnxImportOptions &Opts)
      : MP(MP), G(MP.graph()), File(File), Opts(Opts) {
    VT.MaxOps = Opts.MaxOps;
    VT.StaticDimNeeds = Opts.StaticDimNeeds;
    uint64_t Env = 0;
    if (!VT.MaxOps) {
      const char *S = std::getenv("DLC_MAX_IMPORT_OPS");
      VT.MaxOps = S && !llvm::StringRef(S).getAsInteger(10, Env) && Env
                      ? Env
                      : DefaultMaxImportOps;
    }
  }

  llvm::Expected<std::unique_ptr<Module>> run();
  llvm::Expected<OnnxSignature> signature();

private:
  const onnx::ModelProto &MP;
  const onnx::GraphProto &G;
  std::string File;
  const OnnxImportOptions &Opts;
  Problems P;
  ValueTable VT;
  int64_t Opset = 0;
  std::vector<Value *> Initializers;
  bool Training = false; // imports the ai.onnx.preview.training domain
  bool Ml = false;       // imports the ai.onnx.ml domain
  /// Every graph input as declared (sequences and optionals included, with
  /// their element types), for signature().
  std::vector<std::pair<std::string, TensorType>> SigInputs;
  std::vector<OnnxPortForm> SigForms;
  bool SignatureOnly = false; // unbound sequences are no error

  void checkOpsets();
  void checkNodes();
  void addInitializers(Function &F);
  void addInputs(Function &F);
  void bindStructured(Function &F, const std::string &Name,
                      const std::string &Where, const OnnxPortForm &Form,
                      const TensorType &Declared, const OnnxStructBind &B);
  void convertNodes(Function &F);
  void addOutputs(Function &F);
  void initializersToParams(Function &F);
};

void GraphImporter::checkOpsets() {
  for (const auto &OS : MP.opset_import())
    if (OS.domain().empty() || OS.domain() == "ai.onnx")
      Opset = OS.version();
    else if (OS.domain() == TrainingDomain)
      Training = true;
    else if (OS.domain() == MlDomain)
      Ml = true;
  if (!Opset && (Training || Ml))
    return; // default-domain nodes are reported by checkNodes
  if (!Opset) {
    P.add(File, "the model imports no opset of the default domain");
    return;
  }
  if (Opset < 1 || Opset > OnnxMaxOpset)
    P.add(File, "opset " + llvm::Twine(Opset) +
                    " of the default domain is not supported (supported: " +
                    llvm::Twine(OnnxMinOpset) + " to " +
                    llvm::Twine(OnnxMaxOpset) + ")");
}

void GraphImporter::checkNodes() {
  llvm::StringSet<> Defined, Later;
  for (const auto &I : G.initializer())
    Defined.insert(I.name());
  for (const auto &I : G.input())
    Defined.insert(I.name());
  for (const auto &N : G.node())
    for (const auto &O : N.output())
      Later.insert(O);
  int Index = 0;
  for (const auto &N : G.node()) {
    std::string Where = nodeWhere(File, N, Index++, Opset);
    bool Default = N.domain().empty() || N.domain() == "ai.onnx";
    if (!Default && N.domain() != TrainingDomain && N.domain() != MlDomain) {
      P.add(Where, "domain '" + N.domain() + "' is not supported");
    } else if (Default && !Opset) {
      P.add(Where, "the model imports no opset of the default domain");
    } else if (std::string Why; !findConverter(N, Opset, Why)) {
      P.add(Where, Why);
    }
    // Subgraph attributes (If, Loop, Scan, SequenceMap) are imported by
    // their converters (OpsControl.cpp); any other op rejects them as
    // unknown attributes.
    for (const auto &In : N.input())
      if (!In.empty() && !Defined.count(In))
        P.add(Where, "reads '" + In + "', which " +
                         (Later.count(In)
                              ? "is only defined by a later node (the graph "
                                "is not topologically sorted or has a cycle)"
                              : "no node, input or initializer defines"));
    for (const auto &O : N.output())
      if (!O.empty() && !Defined.insert(O).second)
        P.add(Where, "output '" + O + "' is already defined");
  }
}

void GraphImporter::addInitializers(Function &F) {
  OpBuilder B(F, F.Body.end());
  for (const auto &I : G.initializer()) {
    auto T = tensorFromProto(I, Opts.BaseDir);
    if (!T) {
      P.add(File + ": initializer '" + I.name() + "'",
            llvm::toString(T.takeError()));
      VT.Poisoned.insert(I.name());
      continue;
    }
    B.setLoc(Loc::named(File + ": initializer '" + I.name() + "'"));
    Value *V = B.constant(std::move(*T));
    V->Name = I.name();
    VT.Values[I.name()] = V;
    Initializers.push_back(V);
  }
  for (const auto &I : G.sparse_initializer())
    P.add(File, "sparse initializer '" + I.values().name() +
                    "' is not supported");
}

void GraphImporter::addInputs(Function &F) {
  OpBuilder B(F, F.Body.end());
  for (const auto &In : G.input()) {
    if (VT.Values.count(In.name()) || VT.Poisoned.count(In.name()))
      continue; // an initializer listed as input (IR version < 4)
    std::string Where = File + ": input '" + In.name() + "'";
    auto Bound = Opts.Bind.find(In.name());
    if (Bound != Opts.Bind.end()) {
      VT.Values[In.name()] = B.constant(Bound->second);
      continue;
    }
    OnnxPortForm Form;
    const onnx::TypeProto_Tensor *TTP = nullptr;
    std::string Why;
    if (!portForm(In.type(), Form, TTP, Why)) {
      P.add(Where, Why);
      VT.Poisoned.insert(In.name());
      continue;
    }
    const auto &TT = *TTP;
    auto E = dtypeFromOnnx(TT.elem_type());
    if (!E) {
      P.add(Where, "element type " + onnxTypeName(TT.elem_type()) +
                       " is not supported");
      VT.Poisoned.insert(In.name());
      continue;
    }
    if (!TT.has_shape() && !Form.structured()) {
      P.add(Where, "has no shape (unknown rank is not supported)");
      VT.Poisoned.insert(In.name());
      continue;
    }
    Shape S;
    bool Bad = false;
    for (const auto &D : TT.shape().dim()) {
      if (D.has_dim_value() && D.dim_value() < 0) {
        P.add(Where, "has negative dim " + llvm::Twine(D.dim_value()));
        Bad = true;
      }
      if (Opts.ForceDynamic)
        S.push_back(Dim::unknown());
      else if (D.has_dim_value())
        S.push_back(Dim::fixed(D.dim_value()));
      else if (D.has_dim_param() && !D.dim_param().empty() &&
               !Form.Sequence) // a sequence's elements may differ in size
        S.push_back(Dim::symbol(symbolName(D.dim_param())));
      else
        S.push_back(Dim::unknown());
    }
    auto BoundDims = Opts.BindDims.find(In.name());
    if (BoundDims != Opts.BindDims.end()) {
      if (BoundDims->second.size() != S.size()) {
        P.add(Where, "has rank " + llvm::Twine(S.size()) + ", but " +
                         llvm::Twine(BoundDims->second.size()) +
                         " dims are bound");
        Bad = true;
      }
      for (size_t K = 0; K < S.size() && !Bad; ++K) {
        int64_t N = BoundDims->second[K];
        if (N < 0)
          continue;
        if (S[K].isStatic() && S[K].size() != N) {
          P.add(Where, "dim " + llvm::Twine(K) + " is " +
                           llvm::Twine(S[K].size()) + ", got " +
                           llvm::Twine(N));
          Bad = true;
        }
        S[K] = Dim::fixed(N);
      }
    }
    if (Bad) {
      VT.Poisoned.insert(In.name());
      continue;
    }
    SigInputs.push_back({In.name(), TensorType(*E, S)});
    SigForms.push_back(Form);
    if (Form.structured()) {
      auto B = Opts.BindStruct.find(In.name());
      if (B != Opts.BindStruct.end()) {
        bindStructured(F, In.name(), Where, Form, TensorType(*E, S),
                       B->second);
        continue;
      }
      if (!SignatureOnly)
        P.add(Where, "is " + std::string(Form.Optional ? "an " : "a ") +
                         Form.str() + " of " + TensorType(*E, S).str() +
                         "; the importer needs its structure (length, "
                         "element types, presence) bound "
                         "(OnnxImportOptions::BindStruct); dlc::Model, "
                         "`dlc run` and `dlc test-onnx` bind it per run");
      VT.Poisoned.insert(In.name());
      continue;
    }
    Value *V = F.addInput(In.name(), TensorType(*E, S));
    V->L = Loc::named(Where);
    VT.Values[In.name()] = V;
  }
}

/// A sequence or optional input bound to one run's structure: an empty
/// optional, one function input per element ("NAME[K]"), or one for a
/// present optional tensor. Elements must match the declared type.
void GraphImporter::bindStructured(Function &F, const std::string &Name,
                                   const std::string &Where,
                                   const OnnxPortForm &Form,
                                   const TensorType &Declared,
                                   const OnnxStructBind &B) {
  auto Fail = [&](const llvm::Twine &Msg) {
    P.add(Where, Msg);
    VT.Poisoned.insert(Name);
  };
  if (B.None) {
    if (!Form.Optional)
      return Fail("is a " + Form.str() + ", which cannot be empty (only an "
                  "optional can)");
    VT.Nones.insert(Name);
    return;
  }
  if (B.Sequence != Form.Sequence)
    return Fail("is " + std::string(Form.Optional ? "an " : "a ") +
                Form.str() + ", but was given " +
                (B.Sequence ? "a sequence" : "a tensor"));
  if (!B.Sequence && B.Elems.size() != 1)
    return Fail("an optional tensor is bound to one tensor");
  std::vector<Value *> Elems;
  for (size_t K = 0; K < B.Elems.size(); ++K) {
    const TensorType &T = B.Elems[K];
    std::string What = B.Sequence ? "element " + std::to_string(K) + " is "
                                  : "is given ";
    if (T.elem() != Declared.elem())
      return Fail(What + T.str() + ", but the model declares elements of " +
                  Declared.str());
    if (Form.HasShape) {
      bool Ok = T.rank() == Declared.rank();
      for (unsigned D = 0; Ok && D < T.rank(); ++D)
        Ok = !Declared.dim(D).isStatic() || !T.dim(D).isStatic() ||
             T.dim(D).size() == Declared.dim(D).size();
      if (!Ok)
        return Fail(What + T.str() + ", but the model declares " +
                    Declared.str());
    }
    std::string In = B.Sequence ? Name + "[" + std::to_string(K) + "]" : Name;
    Value *V = F.addInput(In, T);
    V->L = Loc::named(Where);
    Elems.push_back(V);
  }
  if (B.Sequence)
    VT.Sequences[Name] = std::move(Elems);
  else
    VT.Values[Name] = Elems[0];
}

void GraphImporter::convertNodes(Function &F) {
  int Index = 0;
  for (const auto &N : G.node()) {
    std::string Where = nodeWhere(File, N, Index++, 0);
    bool Skip = false;
    for (const auto &In : N.input())
      Skip |= VT.Poisoned.count(In) > 0;
    auto It = opTable().find(opKey(N));
    if (Skip || It == opTable().end()) {
      for (const auto &O : N.output())
        VT.Poisoned.insert(O);
      continue;
    }
    NodeContext C(F, VT, N, Opset, Loc::named(Where));
    runConverter(C, It->second);
    if (C.failed()) {
      P.add(nodeWhere(File, N, Index - 1, Opset), C.error());
      for (const auto &O : N.output())
        VT.Poisoned.insert(O);
      continue;
    }
    C.trackShapes();
    for (const auto &O : N.output())
      if (Value *V = VT.Values.lookup(O); V && V->Name.empty())
        V->Name = O;
  }
}

void GraphImporter::addOutputs(Function &F) {
  if (G.output_size() == 0)
    P.add(File, "the graph has no outputs");
  for (const auto &O : G.output()) {
    if (VT.Poisoned.count(O.name()))
      continue;
    Value *V = VT.Values.lookup(O.name());
    std::string Where = File + ": output '" + O.name() + "'";
    std::vector<OnnxOutputForm> *Forms = Opts.OutputForms;
    const char *Outside = "; the importer alone returns tensors (dlc::Model, "
                          "`dlc run` and `dlc test-onnx` return sequences and "
                          "optionals)";
    if (!V && VT.Nones.count(O.name())) {
      if (!Forms) {
        P.add(Where, "is an empty optional" + llvm::Twine(Outside));
        continue;
      }
      Forms->push_back({RunValue::NoneK, 0});
      continue;
    }
    if (!V && VT.RunSequences.count(O.name())) {
      // Its length is a dim of the split value: with that dim known at
      // import time (dlc::Model binds it per run) the pieces are a list.
      const RunSeq &RS = VT.RunSequences[O.name()];
      if (Opts.StaticDimNeeds && RS.Source &&
          !RS.Source->Type.dim(RS.Axis).isStatic())
        Opts.StaticDimNeeds->push_back(RS.Source->Type.dim(RS.Axis));
      P.add(Where, "is a sequence whose length is known only at run time "
                   "(a SplitToSequence along dim " + llvm::Twine(RS.Axis) +
                   " of " + RS.Source->Type.str() + "), which cannot be a "
                   "graph output unless that dim is known at import time");
      continue;
    }
    if (!V && VT.Sequences.count(O.name())) {
      if (!Forms) {
        P.add(Where, "is a sequence" + llvm::Twine(Outside));
        continue;
      }
      const std::vector<Value *> &S = VT.Sequences[O.name()];
      bool Ok = true;
      for (size_t K = 0; K < S.size() && Ok; ++K)
        if (!S[K]) {
          P.add(Where, "element " + llvm::Twine(K) + " is a piece of a split "
                       "at run-time sizes, whose shape is data-dependent "
                       "(not supported)");
          Ok = false;
        }
      if (!Ok)
        continue;
      for (size_t K = 0; K < S.size(); ++K)
        F.addOutput(O.name() + "[" + std::to_string(K) + "]", S[K]);
      Forms->push_back({RunValue::SequenceK, unsigned(S.size())});
      continue;
    }
    if (!V) {
      P.add(Where, "no node defines it");
      continue;
    }
    F.addOutput(O.name(), V);
    if (Forms)
      Forms->push_back({RunValue::TensorK, 1});
  }
}

void GraphImporter::initializersToParams(Function &F) {
  llvm::DenseMap<const Value *, unsigned> Uses = F.countUses();
  llvm::DenseSet<const Operation *> Replaced;
  for (Value *V : Initializers) {
    if (!isFloat(V->Type.elem()) || !Uses.lookup(V))
      continue;
    Value *P = F.addParam(V->Name, V->Type, V->Def->attr("value"));
    P->L = V->Def->L;
    F.replaceAllUses(V, P);
    Replaced.insert(V->Def);
  }
  F.Body.remove_if([&](const std::unique_ptr<Operation> &Op) {
    return Replaced.count(Op.get()) > 0;
  });
}

llvm::Expected<std::unique_ptr<Module>> GraphImporter::run() {
  if (!MP.has_graph())
    return makeError(Loc::named(File), "the model has no graph");
  checkOpsets();
  checkNodes();
  if (!P.Lines.empty())
    return P.take();
  if (Opts.OutputForms)
    Opts.OutputForms->clear();
  auto M = std::make_unique<Module>();
  Function *F = M->addFunction("main");
  F->L = Loc::named(File);
  addInitializers(*F);
  addInputs(*F);
  convertNodes(*F);
  addOutputs(*F);
  if (!P.Lines.empty())
    return P.take();
  if (Opts.InitializersAsParams)
    initializersToParams(*F);
  return std::move(M);
}

/// The inputs as addInputs makes them (bound ones left out), and the
/// outputs with their declared types.
llvm::Expected<OnnxSignature> GraphImporter::signature() {
  if (!MP.has_graph())
    return makeError(Loc::named(File), "the model has no graph");
  Module M;
  Function *F = M.addFunction("main");
  for (const auto &I : G.initializer()) // not inputs; their data is not read
    VT.Poisoned.insert(I.name());
  SignatureOnly = true;
  addInputs(*F);
  if (!P.Lines.empty())
    return P.take();
  OnnxSignature S;
  S.Inputs = SigInputs;
  S.InputForms = SigForms;
  for (const auto &O : G.output()) {
    DType E = DType::F32;
    Shape Dims;
    OnnxPortForm Form;
    const onnx::TypeProto_Tensor *TTP = nullptr;
    std::string Why;
    bool Typed = portForm(O.type(), Form, TTP, Why);
    S.OutputForms.push_back(Form);
    if (Typed) {
      const auto &TT = *TTP;
      if (auto D = dtypeFromOnnx(TT.elem_type()))
        E = *D;
      for (const auto &D : TT.shape().dim())
        Dims.push_back(D.has_dim_value() && !Opts.ForceDynamic
                           ? Dim::fixed(D.dim_value())
                           : Dim::unknown());
    }
    S.Outputs.push_back({O.name(), TensorType(E, Dims)});
  }
  return S;
}

} // namespace

llvm::Expected<std::unique_ptr<Module>>
dlc::importOnnx(llvm::StringRef Bytes, llvm::StringRef Name,
                const OnnxImportOptions &Opts) {
  onnx::ModelProto MP;
  if (Bytes.size() > size_t(INT32_MAX) ||
      !MP.ParseFromArray(Bytes.data(), int(Bytes.size())))
    return makeError(Loc::named(Name),
                     "not a valid ONNX model (the protobuf does not parse; "
                     "is the file truncated or of another format?)");
  OnnxImportOptions O = Opts;
  if (O.BaseDir.empty())
    O.BaseDir = llvm::sys::path::parent_path(Name).str();
  if (O.BaseDir.empty())
    O.BaseDir = ".";
  return GraphImporter(MP, Name, O).run();
}

llvm::Expected<std::unique_ptr<Module>>
dlc::importOnnxFile(llvm::StringRef Path, const OnnxImportOptions &Opts) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!Buf)
    return makeError("cannot read model '" + Path + "': " +
                     Buf.getError().message());
  return importOnnx((*Buf)->getBuffer(), Path, Opts);
}

/// Reads and parses the ModelProto in Path.
static llvm::Error readModelProto(llvm::StringRef Path, onnx::ModelProto &MP) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, false, false);
  if (!Buf)
    return makeError("cannot read model '" + Path + "': " +
                     Buf.getError().message());
  if (!MP.ParseFromArray((*Buf)->getBufferStart(), (*Buf)->getBufferSize()))
    return makeError(Loc::named(Path), "not a valid ONNX model");
  return llvm::Error::success();
}

llvm::Expected<OnnxSignature>
dlc::onnxSignature(llvm::StringRef Path, const OnnxImportOptions &Opts) {
  onnx::ModelProto MP;
  if (auto E = readModelProto(Path, MP))
    return std::move(E);
  OnnxImportOptions O = Opts;
  if (O.BaseDir.empty())
    O.BaseDir = llvm::sys::path::parent_path(Path).str();
  if (O.BaseDir.empty())
    O.BaseDir = ".";
  return GraphImporter(MP, Path, O).signature();
}

bool dlc::isOnnxModel(llvm::StringRef Path, llvm::StringRef Bytes) {
  if (llvm::sys::path::extension(Path).equals_insensitive(".onnx"))
    return true;
  // A ModelProto starts with field 1 (ir_version) as a varint: byte 0x08.
  return !Bytes.empty() && Bytes[0] == 0x08;
}

llvm::Expected<std::vector<std::string>>
dlc::onnxShapeOperandInputs(llvm::StringRef Path) {
  onnx::ModelProto MP;
  if (auto E = readModelProto(Path, MP))
    return std::move(E);
  llvm::StringSet<> Inputs, Seen;
  // Integer vectors (rank <= 1): the graph inputs that may feed a
  // shape-like operand through a computation (CenterCropPad's expansion
  // pads by Max / Sub / Div of its `shape` input).
  llvm::StringSet<> ShapeLike;
  for (const auto &I : MP.graph().input()) {
    if (!I.type().has_tensor_type())
      continue; // a sequence or optional: bound by structure, not by value
    Inputs.insert(I.name());
    const auto &T = I.type().tensor_type();
    int E = T.elem_type();
    bool Int = E == onnx::TensorProto::INT64 || E == onnx::TensorProto::INT32;
    if (Int && T.has_shape() && T.shape().dim_size() <= 1)
      ShapeLike.insert(I.name());
  }
  for (const auto &I : MP.graph().initializer())
    Inputs.erase(I.name());
  std::vector<std::string> Out;
  auto Add = [&](const std::string &Name) {
    if (Inputs.count(Name) && Seen.insert(Name).second)
      Out.push_back(Name);
  };
  llvm::StringMap<const onnx::NodeProto *> Producer;
  for (const auto &N : MP.graph().node())
    for (const auto &O : N.output())
      Producer[O] = &N;
  // The shape-like operands' cones, back to graph inputs; Shape and Size
  // read only their input's dims, so the walk stops there.
  std::vector<std::string> Work;
  llvm::StringSet<> Visited;
  // A Loop that carries a sequence or optional, and an If that returns
  // one, are resolved at import time (unrolled, or the taken branch only):
  // their trip count, condition and branch condition are shape-like.
  auto NotTensor = [](const onnx::ValueInfoProto &V) {
    return V.has_type() && !V.type().has_tensor_type();
  };
  for (const auto &N : MP.graph().node()) {
    std::vector<unsigned> Control;
    for (const auto &A : N.attribute()) {
      if (!A.has_g())
        continue;
      if (N.op_type() == "Loop" && A.name() == "body" &&
          llvm::any_of(A.g().input(), NotTensor))
        Control = {0, 1};
      if (N.op_type() == "If" && llvm::any_of(A.g().output(), NotTensor))
        Control = {0};
    }
    for (unsigned I : Control)
      if (int(I) < N.input_size() && !N.input(I).empty()) {
        Add(N.input(I));
        Work.push_back(N.input(I));
      }
  }
  for (const auto &N : MP.graph().node()) {
    auto It = opTable().find(opKey(N));
    if (It == opTable().end())
      continue;
    for (unsigned I : It->second.ShapeInputs)
      if (int(I) < N.input_size() && !N.input(I).empty()) {
        Add(N.input(I));
        Work.push_back(N.input(I));
      }
  }
  while (!Work.empty()) {
    std::string Name = Work.back();
    Work.pop_back();
    if (!Visited.insert(Name).second)
      continue;
    if (ShapeLike.count(Name))
      Add(Name);
    const onnx::NodeProto *P = Producer.lookup(Name);
    if (!P || P->op_type() == "Shape" || P->op_type() == "Size")
      continue;
    for (const auto &In : P->input())
      if (!In.empty())
        Work.push_back(In);
  }
  return Out;
}

llvm::Expected<std::string> dlc::onnxModelInfo(llvm::StringRef Path) {
  onnx::ModelProto MP;
  if (auto E = readModelProto(Path, MP))
    return std::move(E);
  std::string S = "ONNX ir_version " + std::to_string(MP.ir_version());
  if (!MP.producer_name().empty())
    S += ", producer " + MP.producer_name() +
         (MP.producer_version().empty() ? "" : " " + MP.producer_version());
  for (int I = 0; I < MP.opset_import_size(); ++I) {
    const auto &OS = MP.opset_import(I);
    S += (I ? ", " : ", opsets ") +
         (OS.domain().empty() ? std::string("ai.onnx") : OS.domain()) + " " +
         std::to_string(OS.version());
  }
  return S;
}

llvm::Expected<Tensor> dlc::readOnnxTensorFile(llvm::StringRef Path) {
  auto Buf = llvm::MemoryBuffer::getFile(Path, false, false);
  if (!Buf)
    return makeError("cannot read '" + Path + "': " +
                     Buf.getError().message());
  onnx::TensorProto TP;
  if (!TP.ParseFromArray((*Buf)->getBufferStart(), (*Buf)->getBufferSize()))
    return makeError(Loc::named(Path), "not a serialized onnx.TensorProto");
  auto T = tensorFromProto(TP, llvm::sys::path::parent_path(Path));
  if (!T)
    return makeError(Loc::named(Path), llvm::toString(T.takeError()));
  return T;
}

std::vector<OnnxOpSupport> dlc::onnxSupportedOps() {
  std::vector<OnnxOpSupport> Out;
  for (const auto &E : opTable())
    Out.push_back({E.getKey().str(), E.getValue().MinOpset});
  llvm::sort(Out, [](const OnnxOpSupport &A, const OnnxOpSupport &B) {
    return A.Name < B.Name;
  });
  return Out;
}

llvm::Expected<std::vector<std::pair<std::string, unsigned>>>
dlc::onnxStaticDimInputs(llvm::StringRef Path, const OnnxImportOptions &Opts) {
  std::vector<Dim> Needs;
  OnnxImportOptions O = Opts;
  O.StaticDimNeeds = &Needs;
  auto M = importOnnxFile(Path, O);
  std::vector<std::pair<std::string, unsigned>> Out;
  if (M)
    return Out;
  llvm::consumeError(M.takeError());
  if (Needs.empty())
    return Out;
  auto Sig = onnxSignature(Path, Opts);
  if (!Sig)
    return Sig.takeError();
  // Symbols of input dims: bind exactly those; anything else (an unknown
  // dim, a symbol made inside the graph): every non-static input dim.
  bool All = false;
  for (const Dim &D : Needs) {
    bool Found = false;
    for (auto &[Name, T] : Sig->Inputs)
      for (const Dim &ID : T.dims())
        Found |= D.isSymbol() && ID == D;
    All |= !Found;
  }
  for (size_t I = 0; I < Sig->Inputs.size(); ++I) {
    if (Sig->InputForms[I].structured())
      continue; // bound by structure (dlc::Model)
    auto &[Name, T] = Sig->Inputs[I];
    for (unsigned K = 0; K < T.rank(); ++K) {
      const Dim &ID = T.dim(K);
      if (ID.isStatic())
        continue;
      if (All || llvm::is_contained(Needs, ID))
        Out.push_back({Name, K});
    }
  }
  return Out;
}
