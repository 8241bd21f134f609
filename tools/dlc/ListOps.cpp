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
enum class GpuSupport { None, Kernel, Host, Regions };

/// Control flow runs on the GPU (Regions: the op's logic on the host, its
/// regions as GPU executables of their own) when its optimized example,
/// compiled for the emulation, gives the interpreter's results: run with
/// the condition true and then false, trip counts of 3, '?' dims of 4.
static bool controlFlowRunsOnGpu(const Function &F) {
  auto X = compileForGpu(F, DeviceKind::CudaEmu, 0,
                         GpuMemoryPool::create(GpuDevice::emulator()));
  if (!X) {
    llvm::consumeError(X.takeError());
    return false;
  }
  for (int Flag : {1, 0}) {
    std::vector<Tensor> In;
    for (auto &V : F.Inputs) {
      llvm::SmallVector<int64_t, 4> S;
      for (const Dim &D : V->Type.dims())
        S.push_back(D.isStatic() ? D.size() : 4);
      Tensor T(V->Type.elem(), S);
      for (int64_t K = 0; K < T.numElements(); ++K)
        T.setF(K, V->Type.elem() == DType::Bool  ? Flag
                  : V->Type.elem() == DType::I64 ? 3
                                                 : 0.25 * K - 1);
      In.push_back(std::move(T));
    }
    auto Want = interpret(F, In);
    auto Got = (*X)->run(In);
    if (!Want || !Got) {
      llvm::consumeError(Want.takeError());
      llvm::consumeError(Got.takeError());
      return false;
    }
    if (Want->size() != Got->size())
      return false;
    for (size_t K = 0; K < Want->size(); ++K) {
      const Tensor &A = (*Want)[K], &B = (*Got)[K];
      if (A.type() != B.type())
        return false;
      for (int64_t E = 0; E < A.numElements(); ++E)
        if (A.getF(E) != B.getF(E))
          return false;
    }
  }
  return true;
}

/// A GPU lowering "exists" (Kernel) for an op when its optimized example
/// lowers, maps to the GPU and compiles to PTX, or, for a collective, when
/// the GPU executor takes it (on the emulation). An op the GPU executor
/// runs as a host step (strings, data-sized results without a GPU kernel)
/// is Host when the executor takes it: it runs with --device cuda, but on
/// the CPU, between launches. Control flow is Regions when it really runs
/// (controlFlowRunsOnGpu).
static GpuSupport gpuLowering(const OpInfo &I) {
  auto M = optimizedExample(I);
  if (!M)
    return GpuSupport::None;
  const Function &F = *M->Functions[0];
  if (I.has(ControlFlow))
    return controlFlowRunsOnGpu(F) ? GpuSupport::Regions : GpuSupport::None;
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
  unsigned Counts[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (const OpInfo &I : allOps()) {
    bool Shape = shapeInferenceWorks(I), Interp = interpreterSupports(I.Kind);
    bool Grad = gradientWorks(I), Cpu = cpuLoweringWorks(I);
    GpuSupport G = gpuLowering(I);
    // "host": runs with a GPU device, as a host step between launches.
    // "region": control flow whose regions run as GPU kernels.
    const char *Gpu = G == GpuSupport::Kernel    ? Yes
                      : G == GpuSupport::Host    ? "host"
                      : G == GpuSupport::Regions ? "region"
                                                 : No;
    Counts[5] += G == GpuSupport::Kernel;
    Counts[6] += G == GpuSupport::Host;
    Counts[7] += G == GpuSupport::Regions;
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
       << " as host steps of the GPU executor, +" << Counts[7]
       << " as control flow with GPU regions)\n";
}
