// `dlc run`: loads a model, optimizes it, runs it on .npy or ONNX TensorProto
// (.pb) inputs (or seeded random ones) and writes one .npy per output. ONNX
// models whose inputs feed shape-like operands run through dlc::Model, which
// compiles them for the values given; so do ONNX models with sequence or
// optional inputs or outputs (SequenceProto / OptionalProto .pb inputs; a
// sequence output writes one NAME.K.npy per element).
#include "Commands.h"

#include "api/Device.h"
#include "api/Model.h"

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Random.h"
#include "passes/Pass.h"
#include "runtime/Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace dlc;

static const struct {
  DType T;
  const char *Descr;
} NpyTypes[] = {{DType::F32, "<f4"}, {DType::F64, "<f8"}, {DType::F16, "<f2"},
                {DType::I8, "|i1"},  {DType::I16, "<i2"}, {DType::I32, "<i4"},
                {DType::I64, "<i8"}, {DType::U8, "|u1"},  {DType::U16, "<u2"},
                {DType::U32, "<u4"}, {DType::U64, "<u8"}, {DType::Bool, "|b1"}};

static std::optional<DType> dtypeFromNpy(llvm::StringRef D) {
  for (auto &E : NpyTypes)
    if (D == E.Descr || (D.size() == 3 && D.substr(1) == llvm::StringRef(E.Descr).substr(1) &&
                         (D[0] == '=' || D[0] == '|' || D[0] == '<')))
      return E.T;
  return std::nullopt;
}

static const char *npyDescr(DType T) {
  for (auto &E : NpyTypes)
    if (E.T == T)
      return E.Descr;
  return nullptr;
}

/// Output names become file names: characters outside [A-Za-z0-9_.-] turn
/// into '_'.
static std::string sanitize(llvm::StringRef Name) {
  std::string S;
  for (char C : Name)
    S += (std::isalnum((unsigned char)C) || C == '_' || C == '.' || C == '-') ? C : '_';
  return S.empty() ? "_" : S;
}

/// "4096", "512K", "2G": a byte count with an optional binary suffix.
static llvm::Expected<uint64_t> parseByteSize(llvm::StringRef S) {
  llvm::StringRef Digits = S;
  unsigned Shift = 0;
  if (!S.empty()) {
    switch (S.back()) {
    case 'K': case 'k': Shift = 10; break;
    case 'M': case 'm': Shift = 20; break;
    case 'G': case 'g': Shift = 30; break;
    case 'T': case 't': Shift = 40; break;
    default: break;
    }
    if (Shift)
      Digits = S.drop_back();
  }
  uint64_t N;
  if (Digits.getAsInteger(10, N) || N == 0 || N > (UINT64_MAX >> Shift))
    return makeError("--max-memory expects a positive byte count such as "
                     "4096, 512M or 2G, got '" + S + "'");
  return N << Shift;
}

static llvm::Expected<std::unique_ptr<Module>> loadModel(llvm::StringRef Path) {
  return loadModelFile(Path); // IR text or ONNX
}

/// In is a Value or a Port (a name and a type).
template <typename PortT>
static llvm::Expected<Tensor> loadInput(const PortT &In, llvm::StringRef File) {
  if (File.ends_with(".pb")) { // an onnx.TensorProto
    auto T = readOnnxTensorFile(File);
    if (!T)
      return makeError("input '" + In.Name + "': " +
                       llvm::toString(T.takeError()));
    if (T->elem() != In.Type.elem())
      return makeError("input '" + In.Name + "' must be " +
                       dtypeName(In.Type.elem()) + " (" + In.Type.str() +
                       "), but '" + File + "' holds " +
                       dtypeName(T->elem()));
    return T;
  }
  rt::NpyArray A;
  std::string Err;
  if (!rt::readNpy(File.str(), A, Err))
    return makeError("input '" + In.Name + "': " + Err);
  auto T = dtypeFromNpy(A.Descr);
  if (!T)
    return makeError("input '" + In.Name + "': unsupported .npy dtype '" +
                     A.Descr + "'");
  if (*T != In.Type.elem())
    return makeError("input '" + In.Name + "' must be " +
                     dtypeName(In.Type.elem()) + " (" + In.Type.str() +
                     "), but '" + File + "' holds " + dtypeName(*T));
  Tensor X(*T, A.Shape);
  if (X.byteSize() != A.Data.size())
    return makeError("input '" + In.Name + "': size mismatch in '" + File + "'");
  std::memcpy(X.data(), A.Data.data(), A.Data.size());
  return X;
}

template <typename PortT>
static llvm::Expected<Tensor> randomInput(const PortT &In,
                                          const llvm::StringMap<int64_t> &Dims,
                                          unsigned Seed, unsigned Index) {
  llvm::SmallVector<int64_t, 4> Sizes;
  for (const Dim &D : In.Type.dims()) {
    if (D.isStatic()) {
      Sizes.push_back(D.size());
      continue;
    }
    if (D.isUnknown())
      return makeError("input '" + In.Name + "' has an unknown dim ('?'); "
                       "random inputs need named dims: pass this input as "
                       "--input " + In.Name + "=FILE.npy");
    auto It = Dims.find(D.sym());
    if (It == Dims.end())
      return makeError("input '" + In.Name + "' has dim " + D.str() +
                       "; give its size with --dim " + D.str() + "=SIZE");
    Sizes.push_back(It->second);
  }
  uint64_t Bytes = dtypeSize(In.Type.elem());
  for (int64_t S : Sizes)
    if (S && Bytes > InterpreterTensorLimit / uint64_t(S))
      return makeError("input '" + In.Name + "' would need more than 4 GiB "
                       "with these --dim sizes");
    else
      Bytes *= uint64_t(S);
  Tensor X(In.Type.elem(), Sizes);
  for (int64_t I = 0; I < X.numElements(); ++I) {
    double U = uniformAt(Seed * 1000003ull + Index, I);
    static const char *const Words[] = {"Monday", "tuesday", "a.b", "", "x y"};
    if (X.elem() == DType::Str)
      X.strings()[I] = Words[int64_t(U * 5)];
    else if (isFloat(X.elem()))
      X.setF(I, 2 * U - 1);
    else
      X.setI(I, int64_t(U * 10));
  }
  return X;
}

static void printPreview(llvm::StringRef Name, const Tensor &T) {
  llvm::outs() << Name << ": " << T.type().str() << " = [";
  int64_t N = std::min<int64_t>(T.numElements(), 8);
  for (int64_t I = 0; I < N; ++I) {
    if (I)
      llvm::outs() << ", ";
    if (T.elem() == DType::Str)
      llvm::outs() << '"' << llvm::StringRef(T.strings()[I]) << '"';
    else if (isFloat(T.elem()))
      llvm::outs() << llvm::format("%.6g", T.getF(I));
    else
      llvm::outs() << T.getI(I);
  }
  llvm::outs() << (T.numElements() > N ? ", ...]\n" : "]\n");
}

/// An ONNX model whose graph inputs feed shape-like operands that the
/// importer needs as constants, or whose input dims it needs known (an
/// LSTM's sequence length): dlc::Model compiles it for the values each run
/// gives. Else the import error E.
static llvm::Expected<Model> specializedModel(const RunOptions &Opts,
                                              llvm::Error E) {
  auto Spec = onnxShapeOperandInputs(Opts.Model);
  auto DimSpec = onnxStaticDimInputs(Opts.Model);
  auto Sig = onnxSignature(Opts.Model);
  bool Structured = Sig && Sig->structured(); // sequences, optionals
  if (!Sig)
    llvm::consumeError(Sig.takeError());
  if (!Spec || !DimSpec ||
      (Spec->empty() && DimSpec->empty() && !Structured)) {
    if (!Spec)
      llvm::consumeError(Spec.takeError());
    if (!DimSpec)
      llvm::consumeError(DimSpec.takeError());
    return std::move(E);
  }
  llvm::consumeError(std::move(E));
  std::vector<std::string> What = *Spec;
  for (auto &[Name, K] : *DimSpec)
    What.push_back(Name + " dim " + std::to_string(K));
  if (Structured)
    What.push_back("(the structure of its sequences and optionals)");
  if (Opts.PrintIR || Opts.PrintLLVM || !Opts.MaxMemory.empty())
    return makeError("--print-ir, --print-llvm and --max-memory need a model "
                     "compiled before its inputs are known, but this one is "
                     "compiled for the values of input(s) " +
                     llvm::join(What, ", ") + " at run time");
  ModelOptions MO;
  MO.Engine = Opts.Engine;
  MO.OptLevel = Opts.OptLevel;
  MO.Threads = Opts.Threads;
  return Model::fromFile(Opts.Model, MO);
}

static llvm::Error run(const RunOptions &Opts) {
  auto M = loadModel(Opts.Model);
  std::optional<Model> SM; // set: compiled per value of some inputs
  Function *F = nullptr;
  std::vector<Port> Ins;
  std::vector<std::string> OutNames;
  if (!M) {
    auto S = specializedModel(Opts, M.takeError());
    if (!S)
      return S.takeError();
    SM.emplace(std::move(*S));
    Ins = SM->inputs();
    for (const Port &P : SM->outputs())
      OutNames.push_back(P.Name);
  } else {
    F = (*M)->lookup("main");
    if (!F) {
      if ((*M)->Functions.empty())
        return makeError("model '" + Opts.Model + "' has no function");
      F = (*M)->Functions.front().get();
    }
    PassManager PM;
    if (auto E = PM.addPipeline(optimizePipeline()))
      return E;
    if (auto E = PM.run(**M))
      return E;
    if (Opts.PrintIR) {
      PrintOptions PO;
      PO.ElideTensorsAbove = WeightsInlineLimit;
      llvm::outs() << ElidedWeightsNote;
      printFunction(*F, llvm::outs(), PO);
    }
    for (auto &V : F->Inputs)
      Ins.push_back({V->Name, V->Type});
    OutNames = F->OutputNames;
  }

  llvm::StringMap<std::string> Files;
  for (const std::string &S : Opts.Inputs) {
    auto [Name, File] = llvm::StringRef(S).split('=');
    if (File.empty())
      return makeError("--input expects NAME=FILE.npy or NAME=FILE.pb, got '" +
                       S + "'");
    if (!Files.try_emplace(Name, File.str()).second)
      return makeError("--input " + Name + " is given twice");
  }
  for (auto &KV : Files) {
    bool Known = false;
    for (const Port &In : Ins)
      Known |= In.Name == KV.getKey();
    if (!Known)
      return makeError("model has no input named '" + KV.getKey() + "'");
  }
  llvm::StringMap<int64_t> Dims;
  for (const std::string &S : Opts.Dims) {
    auto [Sym, Size] = llvm::StringRef(S).split('=');
    int64_t N;
    if (Size.getAsInteger(10, N) || N < 0)
      return makeError("--dim expects SYM=SIZE, got '" + S + "'");
    bool Known = false;
    for (const Port &In : Ins)
      for (const Dim &D : In.Type.dims())
        Known |= D.isSymbol() && D.sym() == Sym;
    if (!Known)
      return makeError("--dim " + Sym + ": the model's inputs have no "
                       "symbolic dim named '" + Sym + "'");
    Dims[Sym] = N;
  }
  // Inputs from files first: their sizes also fix symbolic dims for the
  // random ones. Sequences and optionals come from SequenceProto and
  // OptionalProto files.
  std::vector<std::optional<Tensor>> Loaded(Ins.size());
  std::vector<RunValue> Values(Ins.size());
  bool Structured = false;
  for (size_t I = 0; I < Ins.size(); ++I) {
    const Port &In = Ins[I];
    auto It = Files.find(In.Name);
    if (!In.structured())
      continue;
    Structured = true;
    if (It == Files.end())
      return makeError("missing input '" + In.Name + "' (" +
                       (In.Optional ? "an " : "a ") + In.typeStr() +
                       "): pass --input " + In.Name +
                       "=FILE.pb (an onnx." +
                       (In.Optional ? "OptionalProto" : "SequenceProto") +
                       "); random inputs are tensors only");
    if (!llvm::StringRef(It->second).ends_with(".pb"))
      return makeError("input '" + In.Name + "' is " +
                       (In.Optional ? "an " : "a ") + In.typeStr() +
                       ": pass it as an onnx." +
                       (In.Optional ? "OptionalProto" : "SequenceProto") +
                       " file (.pb), got '" + It->second + "'");
    OnnxPortForm Form;
    Form.Sequence = In.Sequence;
    Form.Optional = In.Optional;
    auto V = readOnnxValueFile(It->second, Form);
    if (!V)
      return makeError("input '" + In.Name + "': " +
                       llvm::toString(V.takeError()));
    Values[I] = std::move(*V);
  }
  for (const Port &P : SM ? SM->outputs() : std::vector<Port>())
    Structured |= P.structured();
  for (size_t I = 0; I < Ins.size(); ++I) {
    const Port &In = Ins[I];
    auto It = Files.find(In.Name);
    if (It == Files.end() || In.structured())
      continue;
    auto T = loadInput(In, It->second);
    if (!T)
      return T.takeError();
    for (unsigned D = 0; D < In.Type.rank() && D < T->rank(); ++D)
      if (In.Type.dim(D).isSymbol())
        Dims.try_emplace(In.Type.dim(D).sym(), T->shape()[D]);
    Loaded[I] = std::move(*T);
  }
  std::vector<Tensor> Inputs;
  for (size_t I = 0; I < Ins.size(); ++I) {
    const Port &In = Ins[I];
    if (In.structured()) {
      Inputs.push_back(Tensor()); // in Values
      continue;
    }
    if (Loaded[I]) {
      Inputs.push_back(std::move(*Loaded[I]));
      continue;
    }
    if (!Opts.RandomInputs)
      return makeError("missing input '" + In.Name + "' (" + In.Type.str() +
                       "): pass --input " + In.Name +
                       "=FILE.npy, or --random-inputs");
    auto T = randomInput(In, Dims, Opts.Seed, I);
    if (!T)
      return T.takeError();
    Inputs.push_back(std::move(*T));
  }
  uint64_t MaxMemory = 0;
  if (!Opts.MaxMemory.empty()) {
    auto B = parseByteSize(Opts.MaxMemory);
    if (!B)
      return B.takeError();
    if (Opts.Engine != "jit")
      return makeError("--max-memory needs --engine=jit (the interpreter "
                       "does not plan its memory)");
    MaxMemory = *B;
  }
  llvm::Expected<std::vector<Tensor>> Outs = std::vector<Tensor>();
  auto Device = parseDevice(Opts.Device);
  if (!Device)
    return Device.takeError();
  auto Prec = parsePrecision(Opts.Precision);
  if (!Prec)
    return Prec.takeError();
  if (auto E = checkPrecision(*Device, *Prec))
    return E;
  if (SM && *Device != DeviceKind::Cpu)
    return makeError("--device " + Opts.Device + ": models compiled per "
                     "run-time value run on the CPU only for now");
  // What is printed and written: one entry per tensor (a sequence's
  // elements are NAME[K], written to NAME.K.npy); an empty optional only
  // prints.
  struct OutEntry {
    std::string Name, Stem; // Stem: the file's, or (T null) what it is
    const Tensor *T = nullptr;
  };
  std::vector<OutEntry> Entries;
  std::vector<RunValue> ValueOuts;
  if (SM && Structured) {
    for (size_t I = 0; I < Ins.size(); ++I)
      if (!Ins[I].structured())
        Values[I] = RunValue(std::move(Inputs[I]));
    auto VO = SM->runValues(Values);
    if (!VO)
      return VO.takeError();
    ValueOuts = std::move(*VO);
    for (size_t I = 0; I < ValueOuts.size(); ++I) {
      const RunValue &V = ValueOuts[I];
      if (V.isTensor())
        Entries.push_back({OutNames[I], sanitize(OutNames[I]), &V.T});
      else if (V.isNone())
        Entries.push_back({OutNames[I], "none (an empty optional)", nullptr});
      for (size_t K = 0; K < V.Seq.size(); ++K)
        Entries.push_back({OutNames[I] + "[" + std::to_string(K) + "]",
                           sanitize(OutNames[I]) + "." + std::to_string(K),
                           &V.Seq[K]});
      if (V.isSequence() && V.Seq.empty())
        Entries.push_back({OutNames[I], "an empty sequence", nullptr});
    }
  } else if (SM) {
    Outs = SM->run(Inputs);
  } else if (*Device != DeviceKind::Cpu) {
    auto Mem = gpuMemory(*Device);
    if (!Mem)
      return Mem.takeError();
    auto G = compileForGpu(*F, *Device, Opts.OptLevel, std::move(*Mem), *Prec);
    if (!G)
      return G.takeError();
    Outs = (*G)->run(Inputs);
  } else if (Opts.Engine == "jit") {
    JitOptions JO;
    JO.OptLevel = Opts.OptLevel;
    JO.Threads = Opts.Threads;
    JO.UseCache = Opts.Cache;
    JO.CacheDir = Opts.CacheDir;
    CompileStats Stats;
    JO.Stats = &Stats;
    StopWatch W;
    auto C = CompiledFunction::compile(*F, JO, Opts.Threads);
    if (!C)
      return C.takeError();
    (*C)->setMemoryLimit(MaxMemory);
    Stats.Total = W.seconds();
    if (Opts.Profile)
      Stats.print(llvm::errs(), true);
    if (Opts.PrintLLVM)
      llvm::outs() << (*C)->llvmIR();
    Outs = (*C)->run(Inputs);
  } else if (Opts.Engine == "interp") {
    Outs = interpret(*F, Inputs);
  } else {
    return makeError("--engine must be 'interp' or 'jit', got '" +
                     Opts.Engine + "'");
  }
  if (!Outs)
    return Outs.takeError();
  for (size_t I = 0; I < Outs->size(); ++I)
    Entries.push_back({OutNames[I], sanitize(OutNames[I]), &(*Outs)[I]});
  // Check everything that could stop the writing before anything is written.
  llvm::StringMap<std::string> FileOwner;
  for (const OutEntry &E : Entries) {
    if (Opts.OutDir.empty())
      break;
    if (!E.T)
      continue;
    if (!npyDescr(E.T->elem()))
      return makeError("output '" + E.Name + "' has type " +
                       dtypeName(E.T->elem()) +
                       ", which .npy cannot hold; nothing was written");
    auto [It, New] = FileOwner.try_emplace(E.Stem, E.Name);
    if (!New)
      return makeError("outputs '" + It->second + "' and '" + E.Name +
                       "' would both be written to " + It->getKey() +
                       ".npy; nothing was written");
  }
  if (!Opts.OutDir.empty())
    if (auto EC = llvm::sys::fs::create_directories(Opts.OutDir))
      return makeError("cannot create '" + Opts.OutDir + "': " + EC.message());
  for (const OutEntry &E : Entries) {
    if (!E.T) {
      llvm::outs() << E.Name << ": " << E.Stem << "\n";
      continue;
    }
    const Tensor &T = *E.T;
    printPreview(E.Name, T);
    if (Opts.OutDir.empty())
      continue;
    const char *Descr = npyDescr(T.elem());
    rt::NpyArray A{Descr, {T.shape().begin(), T.shape().end()}, T.bytes()};
    llvm::SmallString<128> Path(Opts.OutDir);
    llvm::sys::path::append(Path, E.Stem + ".npy");
    std::string Err;
    if (!rt::writeNpy(Path.str().str(), A, Err))
      return makeError(Err);
  }
  return llvm::Error::success();
}

int dlc::runCommand(const RunOptions &Opts) {
  if (auto E = run(Opts)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
