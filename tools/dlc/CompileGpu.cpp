// `dlc compile --target nvptx`: the model's kernels mapped to the GPU and
// emitted as PTX (the default), GPU-mapped kernel IR or NVPTX LLVM IR. The
// output is produced in memory first, so an error leaves no file behind.
#include "Commands.h"

#include "codegen/GpuEmitter.h"
#include "codegen/GpuEmulation.h"
#include "ir/IR.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace dlc;

llvm::Error dlc::compileNvptx(const CompileOptions &Opts, const Module &M) {
  std::string Emit = Opts.Emit;
  if (Emit.empty()) {
    if (llvm::sys::path::extension(Opts.Output) != ".ptx" && Opts.Output != "-")
      return makeError("--target nvptx writes PTX (-o NAME.ptx) or, with "
                       "--emit, kernel-ir or llvm; an AOT library with "
                       "embedded PTX is not built yet");
    Emit = "ptx";
  }
  if (Emit != "ptx" && Emit != "kernel-ir" && Emit != "llvm")
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
  else if (Opts.Precision != "fp32")
    return makeError("--precision must be fp32 or tf32, got '" + Opts.Precision +
                     "'");
  if (G.Tf32 && llvm::StringRef(T.Arch).substr(3) < "80")
    return makeError("--precision tf32 needs sm_80 or newer (tensor cores "
                     "with tf32), got --gpu-arch " + T.Arch);
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
