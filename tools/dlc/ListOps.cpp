// `dlc --list-ops`: the op table with the capabilities each op has. Every
// column is probed from the code, never written by hand: shape inference and
// the interpreter are run on the op's example from Ops.def.
#include "Commands.h"

#include "api/Device.h"
#include "codegen/Executor.h"
#include "interp/Interpreter.h"
#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "ir/OpExample.h"
#include "ir/Parser.h"
#include "passes/Autodiff.h"
#include "passes/Pass.h"

#include "llvm/Support/Format.h"

using namespace dlc;

/// Shape inference "exists" for an op when its Ops.def example infers the
/// documented result types.
static bool shapeInferenceWorks(const OpInfo &I) {
  if (auto E = checkExample(I)) {
    llvm::consumeError(std::move(E));
    return false;
  }
  return true;
}

/// The op's example after the standard optimization pipeline; null when it
/// does not parse or optimize.
static std::unique_ptr<Module> optimizedExample(const OpInfo &I) {
  auto M = parseModule(exampleText(I), "<example>");
  if (!M) {
    llvm::consumeError(M.takeError());
    return nullptr;
  }
  PassManager PM;
  if (auto E = PM.addPipeline("optimize"))
    llvm::report_fatal_error(std::move(E));
  if (auto E = PM.run(**M)) {
    llvm::consumeError(std::move(E));
    return nullptr;
  }
  return std::move(*M);
}

/// CPU lowering "exists" for an op when its optimized example has only ops
/// the CPU executor compiles.
static bool cpuLoweringWorks(const OpInfo &I) {
  auto M = optimizedExample(I);
  if (!M)
    return false;
  for (auto &Op : M->Functions[0]->Body)
    if (!CompiledFunction::supports(*Op))
      return false;
  return true;
}

/// How the GPU runs an op.
enum class GpuSupport { None, Kernel, Host };

/// A GPU lowering "exists" (Kernel) for an op when its optimized example
/// lowers, maps to the GPU and compiles to PTX, or, for a collective, when
/// the GPU executor takes it (on the emulation). An op the GPU executor
/// runs as a host step (strings, data-sized results without a GPU kernel)
/// is Host when the executor takes it: it runs with --device cuda, but on
/// the CPU, between launches.
static GpuSupport gpuLowering(const OpInfo &I) {
  auto M = optimizedExample(I);
  if (!M)
    return GpuSupport::None;
  const Function &F = *M->Functions[0];
  bool HostStep = false, Collectives = false;
  for (const auto &Op : F.Body) {
    Collectives |= Op->info().has(Collective);
    HostStep |= runsOnHost(*Op) && !Op->info().has(Collective) &&
                !hasGpuDataShapeKernel(*Op);
  }
  if (HostStep || Collectives) {
    auto X = compileForGpu(F, DeviceKind::CudaEmu, 0,
                           GpuMemoryPool::create(GpuDevice::emulator()));
    if (!X) {
      llvm::consumeError(X.takeError());
      return GpuSupport::None;
    }
    if (HostStep)
      return GpuSupport::Host;
  }
  auto L = lowerFunctionForGpu(F);
  if (!L) {
    llvm::consumeError(L.takeError());
    return GpuSupport::None;
  }
  auto Ptx = emitPtx(L->kernelList(), GpuTarget());
  if (!Ptx) {
    llvm::consumeError(Ptx.takeError());
    return GpuSupport::None;
  }
  return GpuSupport::Kernel;
}

/// A gradient "exists" for a primitive with a rule (non-differentiable ops
/// count: no gradient flows through them), and for a composite whose
/// decomposed example has only such ops.
static bool gradientWorks(const OpInfo &I) {
  if (!I.has(Composite))
    return hasGradientRule(I.Kind);
  auto M = parseModule(exampleText(I), "<example>");
  if (!M) {
    llvm::consumeError(M.takeError());
    return false;
  }
  if (auto E = createDecomposePass()->run(*(*M)->Functions[0])) {
    llvm::consumeError(std::move(E));
    return false;
  }
  for (auto &Op : (*M)->Functions[0]->Body)
    if (!hasGradientRule(Op->kind()))
      return false;
  return true;
}

void dlc::listOps(llvm::raw_ostream &OS, bool Markdown) {
  const char *Yes = Markdown ? "yes" : "yes";
  const char *No = Markdown ? "-" : "-";
  if (Markdown) {
    OS << "| op | shape | interp | grad | cpu | gpu | kind | summary |\n"
       << "|---|---|---|---|---|---|---|---|\n";
  } else {
    OS << llvm::format("%-24s %-6s %-6s %-6s %-6s %-6s %s\n",
                       (const char *)"op", (const char *)"shape",
                       (const char *)"interp", (const char *)"grad",
                       (const char *)"cpu", (const char *)"gpu",
                       (const char *)"kind");
  }
  unsigned Counts[7] = {0, 0, 0, 0, 0, 0, 0};
  for (const OpInfo &I : allOps()) {
    bool Shape = shapeInferenceWorks(I), Interp = interpreterSupports(I.Kind);
    bool Grad = gradientWorks(I), Cpu = cpuLoweringWorks(I);
    GpuSupport G = gpuLowering(I);
    // "host": runs with a GPU device, as a host step between launches.
    const char *Gpu = G == GpuSupport::Kernel ? Yes
                      : G == GpuSupport::Host ? "host"
                                              : No;
    Counts[5] += G == GpuSupport::Kernel;
    Counts[6] += G == GpuSupport::Host;
    Counts[4] += Grad;
    Counts[0] += Shape;
    Counts[1] += Interp;
    const char *Kind = I.has(Composite) ? "composite" : "primitive";
    Counts[2] += I.has(Composite);
    Counts[3] += Cpu;
    if (Markdown)
      OS << "| `" << I.Mnemonic << "` | " << (Shape ? Yes : No) << " | "
         << (Interp ? Yes : No) << " | " << (Grad ? Yes : No) << " | "
         << (Cpu ? Yes : No) << " | " << Gpu << " | " << Kind
         << " | " << I.Summary << " |\n";
    else
      OS << llvm::format("%-24s %-6s %-6s %-6s %-6s %-6s %s\n",
                         I.Mnemonic.str().c_str(), Shape ? Yes : No,
                         Interp ? Yes : No, Grad ? Yes : No, Cpu ? Yes : No,
                         Gpu, Kind);
  }
  if (!Markdown)
    OS << allOps().size() << " ops (" << Counts[2] << " composite): shape "
       << Counts[0] << ", interp " << Counts[1]
       << ", grad " << Counts[4] << ", cpu " << Counts[3] << ", gpu "
       << Counts[5] << " (+" << Counts[6]
       << " as host steps of the GPU executor)\n";
}
