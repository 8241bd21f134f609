// The embedding API: parse, optimize, compile once; run many times.
#include "api/Model.h"

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
  std::vector<Port> Inputs, Outputs;
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
  auto I = std::make_unique<Impl>();
  I->M = std::move(*M);
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
  if (Opts.Engine != "interp") {
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
  auto M = loadModelFile(Path); // IR text or ONNX
  return fromModule(std::move(M), Path, Opts, W.seconds());
}

llvm::Expected<std::vector<Tensor>>
Model::run(llvm::ArrayRef<Tensor> Inputs, uint64_t *PeakBytes) const {
  if (P->Compiled)
    return P->Compiled->run(Inputs, PeakBytes);
  if (PeakBytes)
    *PeakBytes = 0;
  return interpret(*P->F, Inputs);
}

const std::vector<Port> &Model::inputs() const { return P->Inputs; }
const std::vector<Port> &Model::outputs() const { return P->Outputs; }
llvm::StringRef Model::engine() const { return P->Compiled ? "jit" : "interp"; }
const CompileStats &Model::compileStats() const { return P->Stats; }
