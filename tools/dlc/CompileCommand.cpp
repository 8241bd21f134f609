// `dlc compile`: the optimized graph IR, its kernel IR, the LLVM IR, host
// assembly or an object file with one function per kernel. (The AOT shared
// library with a C header and a graph entry point is the ONNX issue's work.)
#include "Commands.h"

#include "frontend/onnx/OnnxImporter.h"
#include "codegen/Executor.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace dlc;

static llvm::Error compile(const CompileOptions &Opts) {
  if (Opts.Emit != "ir" && Opts.Emit != "kernel-ir" && Opts.Emit != "llvm" &&
      Opts.Emit != "asm" && Opts.Emit != "obj")
    return makeError("--emit must be ir, kernel-ir, llvm, asm or obj, got '" +
                     Opts.Emit + "'");
  if (Opts.Emit == "obj" && Opts.Output == "-")
    return makeError("--emit=obj needs an output file: pass -o FILE.o");
  auto M = loadModelFile(Opts.Model); // IR text or ONNX
  if (!M)
    return M.takeError();
  PassManager PM;
  if (auto E = PM.addPipeline("optimize"))
    return E;
  if (auto E = PM.run(**M))
    return E;
  // Produce everything before opening the output, so that an error leaves
  // no file behind.
  std::string Text;
  llvm::SmallVector<char, 0> Binary;
  if (Opts.Emit == "ir") {
    Text = toString(**M);
  } else {
    std::vector<std::unique_ptr<kir::Kernel>> Owned;
    std::vector<const kir::Kernel *> Kernels;
    for (auto &F : (*M)->Functions) {
      auto L = lowerFunction(*F);
      if (!L)
        return L.takeError();
      for (auto &K : L->Kernels) {
        K->Name = F->Name + "_" + K->Name; // unique across functions
        Kernels.push_back(K.get());
        Owned.push_back(std::move(K));
      }
    }
    if (Opts.Emit == "kernel-ir") {
      for (const kir::Kernel *K : Kernels)
        Text += kir::toString(*K) + "\n";
    } else {
      llvm::raw_svector_ostream OS(Binary);
      EmitKind Kind = Opts.Emit == "llvm"  ? EmitKind::LLVM
                      : Opts.Emit == "asm" ? EmitKind::Asm
                                           : EmitKind::Object;
      if (auto E = emitKernels(Kernels, Opts.OptLevel, Kind, OS))
        return E;
    }
  }
  std::error_code EC;
  llvm::ToolOutputFile Out(Opts.Output, EC,
                           Opts.Emit == "obj" ? llvm::sys::fs::OF_None
                                              : llvm::sys::fs::OF_Text);
  if (EC)
    return makeError("cannot write '" + Opts.Output + "': " + EC.message());
  Out.os() << Text;
  Out.os().write(Binary.data(), Binary.size());
  Out.keep();
  return llvm::Error::success();
}

int dlc::compileCommand(const CompileOptions &Opts) {
  if (auto E = compile(Opts)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
