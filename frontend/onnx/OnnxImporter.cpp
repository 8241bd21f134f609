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

  void checkOpsets();
  void checkNodes();
  void addInitializers(Function &F);
  void addInputs(Function &F);
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
    if (!In.type().has_tensor_type()) {
      P.add(Where, "only tensor inputs are supported (not sequences, maps "
                   "or optionals)");
      VT.Poisoned.insert(In.name());
      continue;
    }
    const auto &TT = In.type().tensor_type();
    auto E = dtypeFromOnnx(TT.elem_type());
    if (!E) {
      P.add(Where, "element type " + onnxTypeName(TT.elem_type()) +
                       " is not supported");
      VT.Poisoned.insert(In.name());
      continue;
    }
    if (!TT.has_shape()) {
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
      else if (D.has_dim_param() && !D.dim_param().empty())
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
    Value *V = F.addInput(In.name(), TensorType(*E, S));
    V->L = Loc::named(Where);
    VT.Values[In.name()] = V;
  }
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
    if (!V && VT.Nones.count(O.name())) {
      P.add(File + ": output '" + O.name() + "'",
            "is an empty optional; only tensor outputs are supported");
      continue;
    }
    if (!V && (VT.Sequences.count(O.name()) ||
               VT.RunSequences.count(O.name()))) {
      P.add(File + ": output '" + O.name() + "'",
            "is a sequence; only tensor outputs are supported");
      continue;
    }
    if (!V) {
      P.add(File + ": output '" + O.name() + "'", "no node defines it");
      continue;
    }
    F.addOutput(O.name(), V);
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
  addInputs(*F);
  if (!P.Lines.empty())
    return P.take();
  OnnxSignature S;
  for (auto &V : F->Inputs)
    S.Inputs.push_back({V->Name, V->Type});
  for (const auto &O : G.output()) {
    DType E = DType::F32;
    Shape Dims;
    if (O.type().has_tensor_type()) {
      const auto &TT = O.type().tensor_type();
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
  for (auto &[Name, T] : Sig->Inputs)
    for (unsigned K = 0; K < T.rank(); ++K) {
      const Dim &ID = T.dim(K);
      if (ID.isStatic())
        continue;
      if (All || llvm::is_contained(Needs, ID))
        Out.push_back({Name, K});
    }
  return Out;
}
