// SpecializedModel: one compiled variant per set of values of the inputs
// that feed shape-like operands, and of sizes of the input dims that the
// import needs known.
//
// 1. At load, the signature comes from the ONNX graph (onnxSignature): every
//    graph input stays an input of the model.
// 2. At run, the specialized inputs are checked against it (element type,
//    rank); their type and bytes, and the sizes of the specialized dims,
//    form the cache key.
// 3. A key not cached is compiled under the lock: the model is imported with
//    those inputs bound as constants and those dims bound to their sizes
//    (the importer's checks then locate a bad value: an axis out of range,
//    a negative size, k > n, ...), optimized and compiled; the least
//    recently used variant beyond the capacity is dropped (a run still
//    using it keeps it alive).
// 4. Compiling a key that was evicted before counts as a recompile; when the
//    recompiles reach the capacity, OnWarning hears once that the cache
//    thrashes.
// 5. The variant runs on the other inputs, outside the lock.
// 6. When an import with the values bound needs dims known that the import
//    without them never reached (a converter behind the shape-like
//    operand), every later variant binds every input dim the signature
//    leaves unknown, and its key holds them.
// 7. Sequence and optional inputs (ONNX) are keyed by structure: presence,
//    length, each element's type and rank (and sizes under 6.). A variant
//    imports them as one function input per element; its sequence and
//    optional outputs come back as the importer's OnnxOutputForms say.
#include "api/Specialize.h"

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "passes/Pass.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace dlc;

struct SpecializedModel::Variant {
  std::unique_ptr<Module> M;
  Function *F = nullptr;
  std::unique_ptr<CompiledFunction> Compiled; // null: the interpreter runs
  /// Per input of F: its position in the model's, and the element of a
  /// sequence input (-1: the input itself).
  std::vector<std::pair<unsigned, int>> Args;
  std::vector<OnnxOutputForm> OutForms; // per graph output
};

SpecializedModel::~SpecializedModel() = default;

llvm::Expected<std::unique_ptr<SpecializedModel>>
SpecializedModel::create(llvm::StringRef Path, const ModelOptions &Opts,
                         std::vector<std::string> Spec,
                         std::vector<std::pair<std::string, unsigned>> DimSpec,
                         std::vector<Port> &Inputs,
                         std::vector<Port> &Outputs) {
  std::vector<std::string> Dims;
  for (auto &[Name, K] : DimSpec)
    Dims.push_back(Name + " dim " + std::to_string(K));
  OnnxImportOptions IO;
  IO.ForceDynamic = Opts.ForceDynamic;
  auto Sig = onnxSignature(Path, IO);
  if (!Sig)
    return Sig.takeError();
  if (Opts.Device != "cpu" && Sig->structured())
    return makeError("model '" + Path + "': its graph inputs or outputs "
                     "include ONNX sequences or optionals, which run on "
                     "device 'cpu' only (the model is compiled per "
                     "structure of them at run time)");
  if (Opts.Device != "cpu")
    return makeError(
        "model '" + Path + "': " +
        (Spec.empty() ? "" : "graph input(s) " + llvm::join(Spec, ", ") +
                                 " feed shape-like operands") +
        (Spec.empty() || Dims.empty() ? "" : " and ") +
        (Dims.empty() ? "" : "input dim(s) " + llvm::join(Dims, ", ") +
                                 " must be known at import time") +
        ", so the model is compiled for their run-time values, which only "
        "device 'cpu' does yet");
  std::unique_ptr<SpecializedModel> S(new SpecializedModel());
  S->Path = Path.str();
  S->Opts = Opts;
  for (size_t I = 0; I < Sig->Inputs.size(); ++I) {
    const OnnxPortForm &F = Sig->InputForms[I];
    S->Inputs.push_back({Sig->Inputs[I].first, Sig->Inputs[I].second,
                         F.Sequence, F.Optional});
    S->HasShape.push_back(F.HasShape);
  }
  for (const std::string &N : Spec)
    for (unsigned I = 0; I < S->Inputs.size(); ++I)
      if (S->Inputs[I].Name == N) {
        S->SpecIndex.push_back(I);
        S->Stats.Inputs.push_back(N);
      }
  for (auto &[N, K] : DimSpec)
    for (unsigned I = 0; I < S->Inputs.size(); ++I)
      if (S->Inputs[I].Name == N && K < S->Inputs[I].Type.rank()) {
        S->DimIndex.push_back({I, K});
        S->Stats.Inputs.push_back(N + " dim " + std::to_string(K));
      }
  if (S->SpecIndex.empty() && S->DimIndex.empty() && !Sig->structured())
    return makeError("model '" + Path + "': no graph input to specialize on");
  Inputs = S->Inputs;
  Outputs.clear();
  for (size_t I = 0; I < Sig->Outputs.size(); ++I) {
    const OnnxPortForm &F = Sig->OutputForms[I];
    Outputs.push_back({Sig->Outputs[I].first, Sig->Outputs[I].second,
                       F.Sequence, F.Optional});
  }
  S->Outputs = Outputs;
  return std::move(S);
}

/// "k = [2]", "axes = [0, -1]" (the first 8 values).
static std::string describe(const std::string &Name, const Tensor &T) {
  std::string S = Name + " = [";
  for (int64_t I = 0; I < std::min<int64_t>(T.numElements(), 8); ++I) {
    if (I)
      S += ", ";
    if (T.elem() == DType::Str)
      S += "\"" + T.strings()[I] + "\"";
    else if (isFloat(T.elem()))
      S += llvm::formatv("{0}", T.getF(I)).str();
    else
      S += std::to_string(T.getI(I));
  }
  return S + (T.numElements() > 8 ? ", ...]" : "]");
}

std::vector<std::pair<unsigned, unsigned>>
SpecializedModel::dimsToBind() const {
  if (!AllDims)
    return DimIndex;
  std::vector<std::pair<unsigned, unsigned>> R;
  for (unsigned I = 0; I < Inputs.size(); ++I)
    for (unsigned K = 0; K < Inputs[I].Type.rank(); ++K)
      if (!Inputs[I].Type.dim(K).isStatic() && !Inputs[I].structured())
        R.push_back({I, K});
  return R;
}

TensorType SpecializedModel::elemType(unsigned I, const Tensor &T) const {
  if (AllDims)
    return T.type();
  Shape S;
  const TensorType &D = Inputs[I].Type;
  for (unsigned K = 0; K < T.rank(); ++K)
    S.push_back(HasShape[I] && K < D.rank() && D.dim(K).isStatic()
                    ? D.dim(K)
                    : Dim::unknown());
  return TensorType(T.elem(), S);
}

llvm::Expected<std::shared_ptr<const SpecializedModel::Variant>>
SpecializedModel::compile(llvm::ArrayRef<RunValue> In) const {
  OnnxImportOptions IO;
  IO.ForceDynamic = Opts.ForceDynamic;
  std::string Values;
  for (unsigned I : SpecIndex) {
    IO.Bind[Inputs[I].Name] = In[I].T;
    Values += (Values.empty() ? "" : ", ") + describe(Inputs[I].Name, In[I].T);
  }
  for (unsigned I = 0; I < Inputs.size(); ++I) {
    if (!Inputs[I].structured())
      continue;
    OnnxStructBind &B = IO.BindStruct[Inputs[I].Name];
    B.None = In[I].isNone();
    B.Sequence = In[I].isSequence();
    if (In[I].isTensor())
      B.Elems.push_back(elemType(I, In[I].T));
    for (const Tensor &T : In[I].Seq)
      B.Elems.push_back(elemType(I, T));
    Values += (Values.empty() ? "" : ", ") + Inputs[I].Name + " = " +
              In[I].str();
  }
  for (auto [I, K] : dimsToBind()) {
    std::vector<int64_t> &B = IO.BindDims[Inputs[I].Name];
    B.resize(Inputs[I].Type.rank(), -1);
    B[K] = In[I].T.shape()[K];
    Values += (Values.empty() ? "" : ", ") + Inputs[I].Name + " dim " +
              std::to_string(K) + " = " + std::to_string(B[K]);
  }
  std::vector<Dim> Needs;
  IO.StaticDimNeeds = &Needs;
  auto V = std::make_shared<Variant>();
  IO.OutputForms = &V->OutForms;
  auto Fail = [&](llvm::Error E) {
    return makeError(llvm::toString(std::move(E)) +
                     "\n  (the model was compiled for the run-time value(s) " +
                     Values + ")");
  };
  auto M = importOnnxFile(Path, IO);
  if (!M && !Needs.empty() && !AllDims) {
    // With the values bound, a converter needs dims known that the import
    // without them never reached: from now on every variant binds every
    // input dim the signature leaves unknown.
    llvm::consumeError(M.takeError());
    AllDims = true;
    return compile(In);
  }
  if (!M)
    return Fail(M.takeError());
  V->M = std::move(*M);
  V->F = V->M->lookup("main");
  if (!V->F)
    return makeError("model '" + Path + "': the import gave no '@main'");
  PassManager PM;
  if (auto E = PM.addPipeline(optimizePipeline()))
    return std::move(E);
  if (auto E = PM.run(*V->M))
    return Fail(std::move(E));
  // A variant with no tensor output (every output an empty optional or an
  // empty sequence) computes nothing: the interpreter returns no tensors.
  if (Opts.Engine != "interp" && !V->F->Outputs.empty()) {
    JitOptions JO;
    JO.OptLevel = std::min(Opts.OptLevel, 3u);
    JO.Threads = Opts.Threads;
    JO.UseCache = Opts.Cache;
    JO.CacheDir = Opts.CacheDir;
    auto C = CompiledFunction::compile(*V->F, JO, Opts.Threads);
    if (C)
      V->Compiled = std::move(*C);
    else if (Opts.Engine == "jit")
      return Fail(C.takeError());
    else
      llvm::consumeError(C.takeError()); // auto: the interpreter runs it
  }
  for (auto &FI : V->F->Inputs) {
    unsigned Pos = Inputs.size();
    int Elem = -1;
    for (unsigned I = 0; I < Inputs.size(); ++I) {
      if (Inputs[I].Name == FI->Name)
        Pos = I;
      // "NAME[K]": element K of sequence input NAME.
      llvm::StringRef N = FI->Name;
      unsigned K;
      if (Inputs[I].Sequence && N.consume_front(Inputs[I].Name) &&
          N.consume_front("[") && N.consume_back("]") &&
          !N.getAsInteger(10, K) && In[I].isSequence() &&
          K < In[I].Seq.size()) {
        Pos = I;
        Elem = int(K);
      }
    }
    if (Pos == Inputs.size())
      return makeError("model '" + Path + "': input '" + FI->Name +
                       "' of the compiled variant is not a graph input");
    V->Args.push_back({Pos, Elem});
  }
  return std::shared_ptr<const Variant>(std::move(V));
}

llvm::Expected<std::shared_ptr<const SpecializedModel::Variant>>
SpecializedModel::variantFor(llvm::ArrayRef<RunValue> In) const {
  if (In.size() != Inputs.size())
    return makeError("model '" + Path + "' takes " +
                     std::to_string(Inputs.size()) + " input(s), got " +
                     std::to_string(In.size()));
  for (unsigned I = 0; I < Inputs.size(); ++I) {
    const Port &P = Inputs[I];
    const RunValue &X = In[I];
    bool Ok = X.isNone() ? P.Optional
                         : X.isSequence() == P.Sequence;
    if (!Ok)
      return makeError("input '" + P.Name + "' must be " +
                       (P.Optional ? "an " + P.typeStr() + " (empty or not)"
                        : P.Sequence ? "a " + P.typeStr()
                                     : P.typeStr()) +
                       ", got " + X.str());
    for (const Tensor &T : X.Seq)
      if (T.elem() != P.Type.elem())
        return makeError("input '" + P.Name + "' holds elements of " +
                         dtypeName(P.Type.elem()) + ", got " + X.str());
  }
  std::string Key;
  for (unsigned I : SpecIndex) {
    const Port &P = Inputs[I];
    const Tensor &T = In[I].T;
    if (T.elem() != P.Type.elem() || T.rank() != P.Type.rank())
      return makeError("input '" + P.Name + "' must be " + P.Type.str() +
                       ", got " + T.type().str());
    Key += T.type().str() + ":";
    if (T.elem() == DType::Str)
      for (const std::string &S : T.strings())
        Key += std::to_string(S.size()) + ":" + S;
    else
      Key.append(reinterpret_cast<const char *>(T.data()), T.byteSize());
    Key += ";";
  }
  for (unsigned I = 0; I < Inputs.size(); ++I)
    if (In[I].isTensor() && HasShape[I] &&
        In[I].T.rank() != Inputs[I].Type.rank())
      return makeError("input '" + Inputs[I].Name + "' must be " +
                       Inputs[I].typeStr() + ", got " + In[I].str());
  std::lock_guard<std::mutex> Lock(Mutex);
  std::string Base = Key;
  auto keyDims = [&] {
    Key = Base;
    for (auto [I, K] : dimsToBind())
      Key += std::to_string(In[I].T.shape()[K]) + ",";
    for (unsigned I = 0; I < Inputs.size(); ++I) {
      if (!Inputs[I].structured())
        continue;
      Key += "|" + std::to_string(In[I].K) + ":";
      auto Add = [&](const Tensor &T) { Key += elemType(I, T).str() + ";"; };
      if (In[I].isTensor())
        Add(In[I].T);
      for (const Tensor &T : In[I].Seq)
        Add(T);
    }
  };
  keyDims();
  auto It = ByKey.find(Key);
  if (It != ByKey.end()) {
    ++Stats.Hits;
    Lru.splice(Lru.begin(), Lru, It->second);
    return Lru.front().second;
  }
  bool WasAll = AllDims;
  auto V = compile(In);
  if (!V)
    return V.takeError();
  if (AllDims != WasAll) // compiled with every dim bound: key them all
    keyDims();
  ++Stats.Compiles;
  unsigned Capacity = std::max(1u, Opts.SpecializationCacheSize);
  if (Evicted.count(Key) && ++Recompiles >= Capacity && !Warned &&
      Opts.OnWarning) {
    Warned = true;
    std::string Names;
    for (const std::string &N : Stats.Inputs)
      Names += (Names.empty() ? "'" : ", '") + N + "'";
    Opts.OnWarning(
        "model '" + Path + "': warning: the cache of compiled variants "
        "thrashes: " + std::to_string(Stats.Compiles) + " compiles, " +
        std::to_string(Recompiles) + " of them for values compiled before "
        "and evicted; the values of input(s) " + Names + " keep changing "
        "among more than " + std::to_string(Capacity) + " sets (raise "
        "ModelOptions::SpecializationCacheSize, or make those inputs "
        "initializers of the model)");
  }
  Lru.emplace_front(Key, *V);
  ByKey[Key] = Lru.begin();
  while (Lru.size() > Capacity) {
    ++Stats.Evictions;
    if (Evicted.size() > 4096)
      Evicted.clear(); // bounded memory; the count may restart
    Evicted.insert(Lru.back().first);
    ByKey.erase(Lru.back().first);
    Lru.pop_back();
  }
  return *V;
}

llvm::Expected<std::vector<Tensor>>
SpecializedModel::run(llvm::ArrayRef<Tensor> In, uint64_t *PeakBytes) const {
  std::vector<RunValue> Values(In.begin(), In.end());
  for (unsigned I = 0; I < Inputs.size() && I < In.size(); ++I)
    if (Inputs[I].Sequence)
      return makeError("input '" + Inputs[I].Name + "' is a " +
                       Inputs[I].typeStr() + ": run the model with "
                       "Model::runValues");
  auto Out = runValues(Values, PeakBytes);
  if (!Out)
    return Out.takeError();
  std::vector<Tensor> R;
  for (size_t K = 0; K < Out->size(); ++K) {
    if (!(*Out)[K].isTensor())
      return makeError("output '" + Outputs[K].Name + "' is " +
                       (*Out)[K].str() + ": run the model with "
                       "Model::runValues");
    R.push_back(std::move((*Out)[K].T));
  }
  return R;
}

llvm::Expected<std::vector<RunValue>>
SpecializedModel::runValues(llvm::ArrayRef<RunValue> In,
                            uint64_t *PeakBytes) const {
  auto V = variantFor(In);
  if (!V)
    return V.takeError();
  std::vector<Tensor> Args;
  for (auto [Pos, Elem] : (*V)->Args)
    Args.push_back(Elem < 0 ? In[Pos].T : In[Pos].Seq[Elem]);
  llvm::Expected<std::vector<Tensor>> Flat = std::vector<Tensor>();
  if ((*V)->Compiled) {
    Flat = (*V)->Compiled->run(Args, PeakBytes);
  } else {
    if (PeakBytes)
      *PeakBytes = 0;
    Flat = interpret(*(*V)->F, Args);
  }
  if (!Flat)
    return Flat.takeError();
  std::vector<RunValue> Out;
  size_t At = 0;
  for (const OnnxOutputForm &F : (*V)->OutForms) {
    if (At + F.Count > Flat->size())
      return makeError("model '" + Path + "': the compiled variant returned " +
                       std::to_string(Flat->size()) + " tensors, fewer than "
                       "its outputs' forms need");
    if (F.Kind == RunValue::NoneK)
      Out.push_back(RunValue::none());
    else if (F.Kind == RunValue::TensorK)
      Out.push_back(RunValue(std::move((*Flat)[At])));
    else
      Out.push_back(RunValue::sequence(
          std::vector<Tensor>(std::make_move_iterator(Flat->begin() + At),
                              std::make_move_iterator(Flat->begin() + At +
                                                      F.Count))));
    At += F.Count;
  }
  return Out;
}

SpecializationStats SpecializedModel::stats() const {
  std::lock_guard<std::mutex> Lock(Mutex);
  SpecializationStats S = Stats;
  S.Cached = Lru.size();
  return S;
}
