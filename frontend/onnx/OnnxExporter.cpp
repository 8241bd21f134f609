// The ONNX exporter's driver and its naming and node-building helpers.
//
// 1. Reserve the names the model must keep: graph inputs, parameters (which
//    become initializers) and outputs. An output that is computed by an op,
//    and is not also another output, names that op's result directly.
// 2. Write every op that an output depends on, in body order, through
//    exportOp (ExportOps.cpp); dead ops (such as constants an importer
//    folded away) are left out. An op that cannot be written records one
//    line and the walk goes on, so every problem is reported at once.
// 3. Outputs that are inputs, parameters or repeated values get an Identity
//    node; every graph output carries its element type and dims (numbers,
//    dim_param for symbols, nothing for unknown dims).
#include "frontend/onnx/OnnxExporter.h"
#include "ir/LowPrecision.h"

#include "frontend/onnx/ExportContext.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace dlc;
using namespace dlc::onnxexp;

int32_t onnxexp::onnxTypeCode(DType E) {
  switch (E) {
  case DType::F32: return onnx::TensorProto::FLOAT;
  case DType::F64: return onnx::TensorProto::DOUBLE;
  case DType::F16: return onnx::TensorProto::FLOAT16;
  case DType::BF16: return onnx::TensorProto::BFLOAT16;
  case DType::I8: return onnx::TensorProto::INT8;
  case DType::I16: return onnx::TensorProto::INT16;
  case DType::I32: return onnx::TensorProto::INT32;
  case DType::I64: return onnx::TensorProto::INT64;
  case DType::U8: return onnx::TensorProto::UINT8;
  case DType::U16: return onnx::TensorProto::UINT16;
  case DType::U32: return onnx::TensorProto::UINT32;
  case DType::U64: return onnx::TensorProto::UINT64;
  case DType::Bool: return onnx::TensorProto::BOOL;
  case DType::Str: return onnx::TensorProto::STRING;
  // Codes of ONNX versions after 1.12.
  case DType::F8E4M3FN: return 17;
  case DType::F8E4M3FNUZ: return 18;
  case DType::F8E5M2: return 19;
  case DType::F8E5M2FNUZ: return 20;
  case DType::U4: return 21;
  case DType::I4: return 22;
  case DType::F4E2M1: return 23;
  case DType::F8E8M0: return 24;
  case DType::U2: return 25;
  case DType::I2: return 26;
  }
  llvm_unreachable("unknown element type");
}

void onnxexp::tensorToProto(const Tensor &T, llvm::StringRef Name,
                            onnx::TensorProto &P) {
  P.set_name(Name.str());
  P.set_data_type(onnxTypeCode(T.elem()));
  for (int64_t D : T.shape())
    P.add_dims(D);
  if (T.elem() == DType::Str) { // ONNX keeps strings in string_data only
    for (const std::string &S : T.strings())
      P.add_string_data(S);
    return;
  }
  // dlc tensors are row-major little-endian, as raw_data wants, except that
  // ONNX packs 4- and 2-bit elements from the low bits of each byte up.
  unsigned Bits = isNarrow(T.elem()) ? narrowBits(T.elem()) : 8;
  if (Bits == 8) {
    P.set_raw_data(T.data(), T.byteSize());
    return;
  }
  int64_t N = T.numElements();
  std::string Packed((N * Bits + 7) / 8, '\0');
  for (int64_t I = 0; I < N; ++I) {
    uint8_t V = T.data()[I] & uint8_t((1u << Bits) - 1);
    Packed[I * Bits / 8] = char(uint8_t(Packed[I * Bits / 8]) | (V << (I * Bits % 8)));
  }
  P.set_raw_data(Packed);
}

std::string ExportContext::unique(llvm::StringRef Name) {
  std::string Base = Name.empty() ? std::string("t") : Name.str();
  if (Used.insert(Base).second)
    return Base;
  for (unsigned I = 1;; ++I) {
    std::string S = Base + "_" + std::to_string(I);
    if (Used.insert(S).second)
      return S;
  }
}

std::string ExportContext::name(const Value *V) {
  auto It = Names.find(V);
  if (It != Names.end())
    return It->second;
  std::string Hint = V->Name;
  if (Hint.empty() && V->Def)
    Hint = V->Def->mnemonic().str();
  std::string N = unique(Hint);
  Names[V] = N;
  return N;
}

onnx::NodeProto &ExportContext::node(llvm::StringRef OpType,
                                     llvm::ArrayRef<std::string> Inputs,
                                     llvm::ArrayRef<std::string> Outputs) {
  onnx::NodeProto &N = *G.add_node();
  N.set_op_type(OpType.str());
  for (const std::string &I : Inputs)
    N.add_input(I);
  for (const std::string &O : Outputs)
    N.add_output(O);
  if (!Outputs.empty())
    N.set_name(Outputs[0]);
  return N;
}

std::string ExportContext::tmp(llvm::StringRef OpType,
                               llvm::ArrayRef<std::string> Inputs,
                               llvm::StringRef Hint) {
  std::string Out = unique(Hint);
  node(OpType, Inputs, {Out});
  return Out;
}

std::string ExportContext::constant(const Tensor &T, llvm::StringRef Hint) {
  std::string Out = unique(Hint);
  onnx::NodeProto &N = node("Constant", {}, {Out});
  onnx::AttributeProto &A = *N.add_attribute();
  A.set_name("value");
  A.set_type(onnx::AttributeProto::TENSOR);
  tensorToProto(T, "", *A.mutable_t());
  return Out;
}

std::string ExportContext::ints(llvm::ArrayRef<int64_t> V,
                                llvm::StringRef Hint) {
  Tensor T(DType::I64, {int64_t(V.size())});
  for (size_t I = 0; I < V.size(); ++I)
    T.setI(I, V[I]);
  return constant(T, Hint);
}

std::string ExportContext::scalar(DType E, double V, llvm::StringRef Hint) {
  Tensor T(E, {});
  T.setF(0, V);
  return constant(T, Hint);
}

static onnx::AttributeProto &newAttr(onnx::NodeProto &N, llvm::StringRef Name,
                                     onnx::AttributeProto::AttributeType T) {
  onnx::AttributeProto &A = *N.add_attribute();
  A.set_name(Name.str());
  A.set_type(T);
  return A;
}

void onnxexp::attrInt(onnx::NodeProto &N, llvm::StringRef Name, int64_t V) {
  newAttr(N, Name, onnx::AttributeProto::INT).set_i(V);
}

void onnxexp::attrFloat(onnx::NodeProto &N, llvm::StringRef Name, double V) {
  newAttr(N, Name, onnx::AttributeProto::FLOAT).set_f(float(V));
}

void onnxexp::attrString(onnx::NodeProto &N, llvm::StringRef Name,
                         llvm::StringRef V) {
  newAttr(N, Name, onnx::AttributeProto::STRING).set_s(V.str());
}

void onnxexp::attrInts(onnx::NodeProto &N, llvm::StringRef Name,
                       llvm::ArrayRef<int64_t> V) {
  onnx::AttributeProto &A = newAttr(N, Name, onnx::AttributeProto::INTS);
  for (int64_t X : V)
    A.add_ints(X);
}

void onnxexp::attrIntsIfAny(onnx::NodeProto &N, llvm::StringRef Name,
                            llvm::ArrayRef<int64_t> V) {
  if (!V.empty())
    attrInts(N, Name, V);
}

/// Element type and dims of V's type into an ONNX ValueInfoProto.
void onnxexp::setValueInfo(onnx::ValueInfoProto &VI, llvm::StringRef Name,
                           const TensorType &T) {
  VI.set_name(Name.str());
  auto &TT = *VI.mutable_type()->mutable_tensor_type();
  TT.set_elem_type(onnxTypeCode(T.elem()));
  auto &S = *TT.mutable_shape();
  for (const Dim &D : T.dims()) {
    auto &OD = *S.add_dim();
    if (D.isStatic())
      OD.set_dim_value(D.size());
    else if (D.isSymbol())
      OD.set_dim_param(D.sym().str());
  }
}

/// One problem line: `<loc>: error: <msg>`, or `error: <msg>` without one.
static std::string problemLine(const Loc &L, const llvm::Twine &Msg) {
  std::string Where = L.str();
  return (Where.empty() ? "" : Where + ": ") + "error: " + Msg.str();
}

static std::string where(const Function &F, const Operation &Op,
                         unsigned Index) {
  std::string S = Op.L.str();
  if (S.empty())
    S = "@" + F.Name + ": op #" + std::to_string(Index);
  return S + " ('" + Op.mnemonic().str() + "')";
}

llvm::Expected<std::string> dlc::exportOnnx(const Function &F) {
  onnx::ModelProto MP;
  MP.set_ir_version(10); // the IR version of opset 21
  MP.set_producer_name("dlc");
  auto &OS = *MP.add_opset_import();
  OS.set_domain("");
  OS.set_version(OnnxExportOpset);
  onnx::GraphProto &G = *MP.mutable_graph();
  G.set_name(F.Name.empty() ? "main" : F.Name);
  ExportContext C(G);
  std::vector<std::string> Problems;

  // 1. Names that the model keeps.
  for (const auto &In : F.Inputs) {
    std::string N = C.unique(In->Name.empty() ? "input" : In->Name);
    C.bind(In.get(), N);
    setValueInfo(*G.add_input(), N, In->Type);
  }
  for (size_t I = 0; I < F.Params.size(); ++I) {
    const Value *P = F.Params[I].get();
    std::string N = C.unique(P->Name.empty() ? "param" : P->Name);
    C.bind(P, N);
    const std::optional<Attribute> &Init = F.ParamInits[I];
    if (!Init || Init->kind() != AttrKind::Tensor || !Init->getTensor()) {
      Problems.push_back(problemLine(P->L, "parameter '" + N +
                                                 "' has no value to export"));
      continue;
    }
    tensorToProto(*Init->getTensor(), N, *G.add_initializer());
  }
  llvm::DenseSet<const Value *> Direct;
  std::vector<std::string> OutNames;
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    const Value *V = F.Outputs[I];
    std::string Want = I < F.OutputNames.size() && !F.OutputNames[I].empty()
                           ? F.OutputNames[I]
                           : "output" + std::to_string(I);
    std::string N = C.unique(Want);
    OutNames.push_back(N);
    if (V->Def && Direct.insert(V).second)
      C.bind(V, N);
  }

  // 2. The ops that the outputs depend on.
  llvm::DenseSet<const Value *> Live(F.Outputs.begin(), F.Outputs.end());
  llvm::DenseSet<const Operation *> LiveOps;
  for (auto It = F.Body.rbegin(); It != F.Body.rend(); ++It) {
    const Operation &Op = **It;
    bool Used = false;
    for (unsigned I = 0; I < Op.numResults(); ++I)
      Used |= Live.count(Op.result(I)) > 0;
    if (!Used)
      continue;
    LiveOps.insert(&Op);
    Live.insert(Op.Operands.begin(), Op.Operands.end());
  }
  unsigned Index = 0;
  for (const auto &Op : F.Body) {
    if (!LiveOps.count(Op.get())) {
      ++Index;
      continue;
    }
    if (auto Why = exportOp(C, *Op))
      Problems.push_back(where(F, *Op, Index) + ": error: " + *Why);
    ++Index;
  }
  // LabelEncoder (all that dlc writes in ai.onnx.ml) has its tensor
  // attributes from version 4.
  for (const auto &N : G.node())
    if (N.domain() == "ai.onnx.ml") {
      auto &Ml = *MP.add_opset_import();
      Ml.set_domain("ai.onnx.ml");
      Ml.set_version(4);
      break;
    }
  if (!Problems.empty()) {
    std::string S;
    for (const std::string &P : Problems)
      S += (S.empty() ? "" : "\n") + P;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), S);
  }

  // 3. Outputs.
  for (size_t I = 0; I < F.Outputs.size(); ++I) {
    const Value *V = F.Outputs[I];
    if (C.name(V) != OutNames[I])
      C.node("Identity", {C.name(V)}, {OutNames[I]});
    setValueInfo(*G.add_output(), OutNames[I], V->Type);
  }
  std::string Bytes;
  if (!MP.SerializeToString(&Bytes))
    return makeError(F.L, "the ONNX model is too large to serialize "
                          "(protobuf's limit is 2 GiB)");
  return Bytes;
}

llvm::Error dlc::exportOnnxFile(const Function &F, llvm::StringRef Path) {
  auto Bytes = exportOnnx(F);
  if (!Bytes)
    return Bytes.takeError();
  std::error_code EC;
  llvm::raw_fd_ostream OS(Path, EC, llvm::sys::fs::OF_None);
  if (EC)
    return makeError("cannot write '" + Path + "': " + EC.message());
  OS << *Bytes;
  OS.close();
  if (OS.has_error())
    return makeError("error writing '" + Path + "'");
  return llvm::Error::success();
}
