// `dlc compile --target nvptx`: the model's kernels mapped to the GPU and
// emitted as a library (or object) with embedded PTX and its C header
// (codegen/AotGpu.cpp), as PTX, GPU-mapped kernel IR or NVPTX LLVM IR. The
// output is produced in memory first, so an error leaves no file behind.
#include "Commands.h"

#include "ModelGraph.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "ir/IR.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace dlc;

llvm::Error dlc::compileNvptx(const CompileOptions &Opts, const Module &M) {
  std::string Emit = Opts.Emit;
  llvm::StringRef Ext = llvm::sys::path::extension(Opts.Output);
  bool Aot = Emit.empty() && (Ext == ".so" || Ext == ".o");
  if (Emit.empty() && !Aot) {
    if (Ext != ".ptx" && Opts.Output != "-")
      return makeError("--target nvptx writes a library with embedded PTX "
                       "(-o NAME.so, or an object file -o NAME.o, each with "
                       "NAME.h), PTX (-o NAME.ptx) or, with --emit, "
                       "kernel-ir or llvm");
    Emit = "ptx";
  }
  if (!Aot && Emit != "ptx" && Emit != "kernel-ir" && Emit != "llvm")
    return makeError("with --target nvptx, --emit must be ptx, kernel-ir or "
                     "llvm, got '" + Emit + "'");
  GpuTarget T;
  T.Arch = Opts.GpuArch;
  T.OptLevel = Opts.OptLevel;
  if (auto E = checkGpuArch(T.Arch))
    return E;
  GpuOptions G;
  if (Opts.Precision == "tf32")
    G.Tf32 = true;
  else if (Opts.Precision == "bf16")
    G.Bf16 = true;
  else if (Opts.Precision != "fp32")
    return makeError("--precision must be fp32, tf32 or bf16, got '" +
                     Opts.Precision + "'");
  if ((G.Tf32 || G.Bf16) && llvm::StringRef(T.Arch).substr(3) < "80")
    return makeError("--precision " + Opts.Precision + " needs sm_80 or newer "
                     "(tensor cores with " + Opts.Precision + "), got "
                     "--gpu-arch " + T.Arch);
  if (Aot) {
    // tf32 and bf16 artifacts carry fp32 kernels too: the C API chooses at
    // run time.
    llvm::SmallVector<GpuPrecision, 2> Precs;
    if (G.Tf32)
      Precs.push_back(GpuPrecision::Tf32);
    if (G.Bf16)
      Precs.push_back(GpuPrecision::Bf16);
    Precs.push_back(GpuPrecision::Fp32);
    auto F = entryFunction(M);
    if (!F)
      return F.takeError();
    return compileAot(Opts, **F, Ext == ".so", Precs);
  }
  std::vector<std::unique_ptr<kir::Kernel>> Owned;
  std::vector<const kir::Kernel *> Kernels;
  for (auto &F : M.Functions) {
    auto L = lowerFunctionForGpu(*F, G);
    if (!L)
      return L.takeError();
    for (auto &K : L->Kernels) {
      K->Name = F->Name + "_" + K->Name; // unique across functions
      Kernels.push_back(K.get());
      Owned.push_back(std::move(K));
    }
  }
  std::string Text;
  if (Emit == "kernel-ir") {
    for (const kir::Kernel *K : Kernels)
      Text += kir::toString(*K) + "\n";
  } else {
    auto S = Emit == "ptx" ? emitPtx(Kernels, T) : emitGpuLLVM(Kernels, T);
    if (!S)
      return S.takeError();
    Text = std::move(*S);
  }
  std::error_code EC;
  llvm::ToolOutputFile Out(Opts.Output, EC, llvm::sys::fs::OF_Text);
  if (EC)
    return makeError("cannot write '" + Opts.Output + "': " + EC.message());
  Out.os() << Text;
  Out.keep();
  return llvm::Error::success();
}
