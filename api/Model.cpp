// The embedding API: parse, optimize, compile once; run many times.
#include "api/Model.h"

#include "api/Specialize.h"
#include "api/Device.h"
#include "api/Profile.h"

#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "ir/Parser.h"
#include "passes/Pass.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace dlc;

struct Model::Impl {
  std::unique_ptr<Module> M;
  Function *F = nullptr;
  std::unique_ptr<CompiledFunction> Compiled; // null: the interpreter runs
  DeviceKind Device = DeviceKind::Cpu;
  std::unique_ptr<GpuExecutable> Gpu; // a GPU device's executable
  std::vector<Port> Inputs, Outputs;
  /// Set for ONNX models compiled per value of some inputs (then M is null).
  std::unique_ptr<SpecializedModel> Spec;
  std::string Engine;
  CompileStats Stats;
};

Model::Model(std::unique_ptr<Impl> I) : P(std::move(I)) {}
Model::Model(Model &&) = default;
Model &Model::operator=(Model &&) = default;
Model::~Model() = default;

llvm::Expected<Model> Model::fromText(llvm::StringRef Text, llvm::StringRef Name,
                                      const ModelOptions &Opts) {
  StopWatch W;
  auto M = parseModule(Text, Name);
  return fromModule(std::move(M), Name, Opts, W.seconds());
}

llvm::Expected<Model>
Model::fromModule(llvm::Expected<std::unique_ptr<Module>> M,
                  llvm::StringRef Name, const ModelOptions &Opts,
                  double ImportSeconds) {
  StopWatch W;
  if (!M)
    return M.takeError();
  if (Opts.Engine != "auto" && Opts.Engine != "jit" && Opts.Engine != "interp")
    return makeError("engine must be 'auto', 'jit' or 'interp', got '" +
                     Opts.Engine + "'");
  auto Device = parseDevice(Opts.Device);
  if (!Device)
    return Device.takeError();
  auto Prec = parsePrecision(Opts.Precision);
  if (!Prec)
    return Prec.takeError();
  if (auto E = checkPrecision(*Device, *Prec))
    return std::move(E);
  if (*Device != DeviceKind::Cpu && Opts.Engine == "interp")
    return makeError("engine 'interp' runs on the CPU only: use device 'cpu' "
                     "or engine 'jit'");
  auto I = std::make_unique<Impl>();
  I->M = std::move(*M);
  I->Device = *Device;
  std::string FnName = Opts.Function.empty() ? "main" : Opts.Function;
  I->F = I->M->lookup(FnName);
  if (!I->F && Opts.Function.empty() && !I->M->Functions.empty())
    I->F = I->M->Functions.front().get();
  if (!I->F)
    return makeError("model '" + Name + "' has no function '@" + FnName + "'");
  I->Stats.Import = ImportSeconds;
  PassManager PM;
  if (auto E = PM.addPipeline("optimize"))
    return std::move(E);
  StopWatch PassW;
  if (auto E = PM.run(*I->M))
    return std::move(E);
  I->Stats.Passes = PassW.seconds();
  if (I->Device != DeviceKind::Cpu) {
    auto Mem = gpuMemory(I->Device);
    if (!Mem)
      return Mem.takeError();
    auto G = compileForGpu(*I->F, I->Device, std::min(Opts.OptLevel, 3u),
                           std::move(*Mem), *Prec);
    if (!G)
      return G.takeError();
    I->Gpu = std::move(*G);
  } else if (Opts.Engine != "interp") {
    JitOptions JO;
    JO.OptLevel = std::min(Opts.OptLevel, 3u);
    JO.Threads = Opts.Threads;
    JO.UseCache = Opts.Cache;
    JO.CacheDir = Opts.CacheDir;
    JO.Stats = &I->Stats;
    auto C = CompiledFunction::compile(*I->F, JO, Opts.Threads);
    if (C)
      I->Compiled = std::move(*C);
    else if (Opts.Engine == "jit")
      return C.takeError();
    else
      llvm::consumeError(C.takeError()); // auto: fall back to the interpreter
  }
  I->Stats.Total = ImportSeconds + W.seconds();
  for (auto &V : I->F->Inputs)
    I->Inputs.push_back({V->Name, V->Type});
  for (size_t K = 0; K < I->F->Outputs.size(); ++K)
    I->Outputs.push_back({I->F->OutputNames[K], I->F->Outputs[K]->Type});
  return Model(std::move(I));
}

llvm::Expected<Model> Model::fromFile(llvm::StringRef Path,
                                      const ModelOptions &Opts) {
  StopWatch W;
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!Buf || !isOnnxModel(Path, (*Buf)->getBuffer()))
    return fromModule(loadModelFile(Path), Path, Opts, W.seconds()); // IR text
  OnnxImportOptions IO;
  IO.ForceDynamic = Opts.ForceDynamic;
  auto M = importOnnx((*Buf)->getBuffer(), Path, IO);
  if (M)
    return fromModule(std::move(M), Path, Opts, W.seconds());
  // Graph inputs that feed shape-like operands: compile per value at run
  // time (a problem unrelated to them shows at the first run).
  // Likewise input dims the import needs known (an LSTM's sequence length).
  // Likewise sequence and optional inputs and outputs: compile per
  // structure of the inputs.
  auto Spec = onnxShapeOperandInputs(Path);
  auto DimSpec = onnxStaticDimInputs(Path, IO);
  auto Sig = onnxSignature(Path, IO);
  bool Structured = Sig && Sig->structured();
  if (!Sig)
    llvm::consumeError(Sig.takeError());
  if (!Spec || !DimSpec ||
      (Spec->empty() && DimSpec->empty() && !Structured) ||
      Opts.SpecializationCacheSize == 0) {
    if (!Spec)
      llvm::consumeError(Spec.takeError());
    if (!DimSpec)
      llvm::consumeError(DimSpec.takeError());
    return M.takeError();
  }
  llvm::consumeError(M.takeError());
  if (Opts.Engine != "auto" && Opts.Engine != "jit" && Opts.Engine != "interp")
    return makeError("engine must be 'auto', 'jit' or 'interp', got '" +
                     Opts.Engine + "'");
  auto I = std::make_unique<Impl>();
  auto S = SpecializedModel::create(Path, Opts, std::move(*Spec),
                                    std::move(*DimSpec), I->Inputs,
                                    I->Outputs);
  if (!S)
    return S.takeError();
  I->Spec = std::move(*S);
  I->Engine = Opts.Engine;
  return Model(std::move(I));
}

llvm::Expected<std::vector<Tensor>>
Model::run(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes) const {
  if (P->Spec)
    return P->Spec->run(Inputs, PeakBytes);
  if (P->Gpu)
    return P->Gpu->run(Inputs, PeakBytes);
  if (P->Compiled)
    return P->Compiled->run(Inputs, PeakBytes);
  if (PeakBytes)
    *PeakBytes = 0;
  return interpret(*P->F, Inputs);
}

llvm::Expected<std::vector<RunValue>>
Model::runValues(llvm::ArrayRef<RunValue> Inputs) const {
  if (P->Spec)
    return P->Spec->runValues(Inputs, nullptr);
  std::vector<Tensor> Ts;
  for (size_t I = 0; I < Inputs.size(); ++I) {
    if (!Inputs[I].isTensor())
      return makeError("input " +
                       (I < P->Inputs.size() ? "'" + P->Inputs[I].Name + "'"
                                             : std::to_string(I)) +
                       " is a tensor, got " + Inputs[I].str());
    Ts.push_back(Inputs[I].T);
  }
  auto Out = run(Ts);
  if (!Out)
    return Out.takeError();
  return std::vector<RunValue>(std::make_move_iterator(Out->begin()),
                               std::make_move_iterator(Out->end()));
}

llvm::Expected<RunProfile> Model::profile(llvm::ArrayRef<Tensor> Inputs,
                                          unsigned Runs) const {
  if (!P->Compiled || P->Device != DeviceKind::Cpu)
    return makeError("a kernel profile needs the JIT on the CPU (engine 'jit', "
                     "device 'cpu') and a model compiled once for every input "
                     "value; this one runs " +
                     std::string(P->Spec ? "specialized variants"
                                 : P->Gpu ? "on " + deviceName(P->Device).str()
                                          : "in the interpreter"));
  return profileFunction(*P->Compiled, Inputs, Runs);
}

const std::vector<Port> &Model::inputs() const { return P->Inputs; }
const std::vector<Port> &Model::outputs() const { return P->Outputs; }
llvm::StringRef Model::engine() const {
  if (P->Spec)
    return P->Engine;
  return P->Compiled || P->Gpu ? "jit" : "interp";
}
SpecializationStats Model::specialization() const {
  return P->Spec ? P->Spec->stats() : SpecializationStats();
}
llvm::StringRef Model::device() const { return deviceName(P->Device); }
const CompileStats &Model::compileStats() const { return P->Stats; }
