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
  std::vector<unsigned> Args; // per input of F: its position in the model's
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
  OnnxImportOptions IO;
  IO.ForceDynamic = Opts.ForceDynamic;
  auto Sig = onnxSignature(Path, IO);
  if (!Sig)
    return Sig.takeError();
  std::unique_ptr<SpecializedModel> S(new SpecializedModel());
  S->Path = Path.str();
  S->Opts = Opts;
  for (auto &[Name, Type] : Sig->Inputs)
    S->Inputs.push_back({Name, Type});
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
  if (S->SpecIndex.empty() && S->DimIndex.empty())
    return makeError("model '" + Path + "': no graph input to specialize on");
  Inputs = S->Inputs;
  Outputs.clear();
  for (auto &[Name, Type] : Sig->Outputs)
    Outputs.push_back({Name, Type});
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
      if (!Inputs[I].Type.dim(K).isStatic())
        R.push_back({I, K});
  return R;
}

llvm::Expected<std::shared_ptr<const SpecializedModel::Variant>>
SpecializedModel::compile(llvm::ArrayRef<Tensor> In) const {
  OnnxImportOptions IO;
  IO.ForceDynamic = Opts.ForceDynamic;
  std::string Values;
  for (unsigned I : SpecIndex) {
    IO.Bind[Inputs[I].Name] = In[I];
    Values += (Values.empty() ? "" : ", ") + describe(Inputs[I].Name, In[I]);
  }
  for (auto [I, K] : dimsToBind()) {
    std::vector<int64_t> &B = IO.BindDims[Inputs[I].Name];
    B.resize(Inputs[I].Type.rank(), -1);
    B[K] = In[I].shape()[K];
    Values += (Values.empty() ? "" : ", ") + Inputs[I].Name + " dim " +
              std::to_string(K) + " = " + std::to_string(B[K]);
  }
  std::vector<Dim> Needs;
  IO.StaticDimNeeds = &Needs;
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
  auto V = std::make_shared<Variant>();
  V->M = std::move(*M);
  V->F = V->M->lookup("main");
  if (!V->F)
    return makeError("model '" + Path + "': the import gave no '@main'");
  PassManager PM;
  if (auto E = PM.addPipeline(optimizePipeline()))
    return std::move(E);
  if (auto E = PM.run(*V->M))
    return Fail(std::move(E));
  if (Opts.Engine != "interp") {
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
    for (unsigned I = 0; I < Inputs.size(); ++I)
      if (Inputs[I].Name == FI->Name)
        Pos = I;
    if (Pos == Inputs.size())
      return makeError("model '" + Path + "': input '" + FI->Name +
                       "' of the compiled variant is not a graph input");
    V->Args.push_back(Pos);
  }
  return std::shared_ptr<const Variant>(std::move(V));
}

llvm::Expected<std::shared_ptr<const SpecializedModel::Variant>>
SpecializedModel::variantFor(llvm::ArrayRef<Tensor> In) const {
  if (In.size() != Inputs.size())
    return makeError("model '" + Path + "' takes " +
                     std::to_string(Inputs.size()) + " input(s), got " +
                     std::to_string(In.size()));
  std::string Key;
  for (unsigned I : SpecIndex) {
    const Port &P = Inputs[I];
    const Tensor &T = In[I];
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
    if (In[I].rank() != Inputs[I].Type.rank())
      return makeError("input '" + Inputs[I].Name + "' must be " +
                       Inputs[I].Type.str() + ", got " + In[I].type().str());
  std::lock_guard<std::mutex> Lock(Mutex);
  std::string Base = Key;
  auto keyDims = [&] {
    Key = Base;
    for (auto [I, K] : dimsToBind())
      Key += std::to_string(In[I].shape()[K]) + ",";
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
  auto V = variantFor(In);
  if (!V)
    return V.takeError();
  std::vector<Tensor> Args;
  for (unsigned Pos : (*V)->Args)
    Args.push_back(In[Pos]);
  if ((*V)->Compiled)
    return (*V)->Compiled->run(Args, PeakBytes);
  if (PeakBytes)
    *PeakBytes = 0;
  return interpret(*(*V)->F, Args);
}

SpecializationStats SpecializedModel::stats() const {
  std::lock_guard<std::mutex> Lock(Mutex);
  SpecializationStats S = Stats;
  S.Cached = Lru.size();
  return S;
}
