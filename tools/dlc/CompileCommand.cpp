// `dlc compile`: an AOT library (-o NAME.so, or a relocatable NAME.o) with
// its C header NAME.h, or for inspection (--emit) the optimized graph IR,
// its kernel IR, the LLVM IR, host assembly or an object file with one
// function per kernel. Everything is produced in memory or in temporary
// files first, so an error leaves no output behind.
#include "Commands.h"
#include "ModelGraph.h"

#include "codegen/Aot.h"
#include "codegen/Executor.h"
#include "frontend/onnx/OnnxImporter.h"
#include "ir/Printer.h"
#include "ir/Weights.h"
#include "passes/Pass.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace dlc;

/// The file name's stem as a C identifier: other characters become '_'.
static std::string prefixFromOutput(llvm::StringRef Output) {
  std::string S;
  for (char C : llvm::sys::path::stem(Output))
    S += llvm::isAlnum(C) ? C : '_';
  if (S.empty() || llvm::isDigit(S[0]))
    S = "_" + S;
  return isCIdentifier(S) ? S : S + "_";
}

/// Writes Bytes to a temporary file next to Path (renamed over it by
/// keep()), so a failed compile never leaves a partial output.
static llvm::Expected<llvm::sys::fs::TempFile>
stage(llvm::StringRef Path, llvm::StringRef Bytes) {
  auto T = llvm::sys::fs::TempFile::create(Path + ".tmp-%%%%%%");
  if (!T)
    return makeError("cannot write '" + Path +
                     "': " + llvm::toString(T.takeError()));
  llvm::raw_fd_ostream OS(T->FD, /*shouldClose=*/false);
  OS << Bytes;
  OS.flush();
  if (OS.has_error()) {
    OS.clear_error();
    llvm::consumeError(T->discard());
    return makeError("cannot write '" + Path + "'");
  }
  return std::move(*T);
}

/// libdlc_runtime.so for the shared library to depend on: installed next to
/// the tool (PREFIX/lib) or in the build tree; empty when neither exists.
static std::string runtimeLibraryDir() {
  std::string Exe = llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&runtimeLibraryDir));
  llvm::SmallString<256> Installed(llvm::sys::path::parent_path(
      llvm::sys::path::parent_path(Exe)));
  llvm::sys::path::append(Installed, "lib");
  for (llvm::StringRef Dir : {llvm::StringRef(Installed),
                              llvm::StringRef(DLC_RUNTIME_BUILD_DIR)}) {
    llvm::SmallString<256> Lib(Dir);
    llvm::sys::path::append(Lib, "libdlc_runtime.so");
    if (llvm::sys::fs::exists(Lib))
      return Dir.str();
  }
  return "";
}

/// Links Object into the shared library Out with the system C compiler
/// driver (cc), against libdlc_runtime.so and libm. Out may be a staging
/// name; SoName is the library's final file name.
static llvm::Error linkShared(llvm::StringRef Object, llvm::StringRef Out,
                              llvm::StringRef SoName) {
  auto CC = llvm::sys::findProgramByName("cc");
  if (!CC)
    return makeError("cannot link '" + Out +
                     "': no C compiler driver 'cc' on PATH (compile to a .o "
                     "instead and link it yourself)");
  // The soname is the file's name: a program linked against NAME.so then
  // looks for NAME.so on its run path, wherever NAME.so was at link time.
  std::vector<std::string> Args = {
      *CC, "-shared", "-o", Out.str(), Object.str(),
      "-Wl,-soname," + SoName.str()};
  std::string Dir = runtimeLibraryDir();
  if (!Dir.empty())
    for (std::string A : {"-L" + Dir, "-Wl,-rpath," + Dir, std::string("-ldlc_runtime")})
      Args.push_back(A);
  Args.push_back("-lm");
  std::vector<llvm::StringRef> Refs(Args.begin(), Args.end());
  std::string Msg;
  int RC = llvm::sys::ExecuteAndWait(*CC, Refs, std::nullopt, {}, 0, 0, &Msg);
  if (RC != 0)
    return makeError("linking '" + Out + "' failed" +
                     (Msg.empty() ? "" : ": " + Msg) + " (" +
                     llvm::join(Args, " ") + ")");
  return llvm::Error::success();
}

/// `-o NAME.so` / `-o NAME.o`: the library or object plus NAME.h; for the
/// GPU with --target nvptx (Precs: the precisions it holds, the default
/// first).
llvm::Error dlc::compileAot(const CompileOptions &Opts, const Function &F,
                            bool Shared,
                            llvm::ArrayRef<GpuPrecision> Precs) {
  AotOptions A;
  if (Opts.Target == "nvptx") {
    A.GpuArch = Opts.GpuArch;
    A.Precisions.assign(Precs.begin(), Precs.end());
  }
  A.Prefix = Opts.Name.empty() ? prefixFromOutput(Opts.Output) : Opts.Name;
  if (!isCIdentifier(A.Prefix))
    return makeError("--name must be a C identifier, got '" + A.Prefix + "'");
  A.Source = llvm::sys::path::filename(Opts.Model).str();
  A.OptLevel = Opts.OptLevel;
  A.Threads = Opts.Threads;
  llvm::SmallVector<char, 0> Object;
  llvm::raw_svector_ostream OS(Object);
  if (auto E = A.GpuArch.empty() ? emitAotObject(F, A, OS)
                                 : emitGpuAotObject(F, A, OS))
    return E;
  llvm::SmallString<256> Header(Opts.Output);
  llvm::sys::path::replace_extension(Header, "h");
  auto Lib = stage(Opts.Output, Shared ? llvm::StringRef()
                                       : llvm::StringRef(Object.data(),
                                                         Object.size()));
  if (!Lib)
    return Lib.takeError();
  if (Shared) {
    // The object goes to a temporary file; cc writes the library over the
    // staged (empty) file.
    llvm::SmallString<256> Obj;
    int FD;
    if (llvm::sys::fs::createTemporaryFile("dlc-aot", "o", FD, Obj))
      return llvm::joinErrors(makeError("cannot create a temporary file"),
                              Lib->discard());
    {
      llvm::raw_fd_ostream ObjOS(FD, /*shouldClose=*/true);
      ObjOS.write(Object.data(), Object.size());
    }
    llvm::Error E = linkShared(Obj, Lib->TmpName,
                               llvm::sys::path::filename(Opts.Output));
    llvm::sys::fs::remove(Obj);
    if (E)
      return llvm::joinErrors(std::move(E), Lib->discard());
  }
  auto H = stage(Header, aotHeader(F, A));
  if (!H)
    return llvm::joinErrors(H.takeError(), Lib->discard());
  if (auto E = Lib->keep(Opts.Output))
    return llvm::joinErrors(std::move(E), H->discard());
  if (auto E = H->keep(Header)) {
    llvm::sys::fs::remove(Opts.Output);
    return E;
  }
  return llvm::Error::success();
}

/// The model in Path (IR text or ONNX) after the optimize pipeline.
static llvm::Expected<std::unique_ptr<Module>>
loadOptimized(llvm::StringRef Path) {
  auto M = loadModelFile(Path);
  if (!M) {
    // Input dims the import needs known (an LSTM's sequence length): a
    // JIT compiles per run-time size, an artifact cannot.
    auto Dims = llvm::sys::path::extension(Path) == ".onnx"
                    ? onnxStaticDimInputs(Path)
                    : std::vector<std::pair<std::string, unsigned>>();
    if (!Dims || Dims->empty()) {
      if (!Dims)
        llvm::consumeError(Dims.takeError());
      return M.takeError();
    }
    std::vector<std::string> Names;
    for (auto &[Name, K] : *Dims)
      Names.push_back("'" + Name + "' dim " + std::to_string(K));
    return llvm::joinErrors(
        M.takeError(),
        makeError("an ahead-of-time artifact is compiled before its inputs "
                  "are known: fix input " + llvm::join(Names, ", ") +
                  " in the model (dlc run and dlc::Model compile the model "
                  "per run-time size)"));
  }
  PassManager PM;
  if (auto E = PM.addPipeline("optimize"))
    return std::move(E);
  if (auto E = PM.run(**M))
    return std::move(E);
  return M;
}

llvm::Error dlc::compileModel(const CompileOptions &Opts) {
  if (Opts.Target != "cpu" && Opts.Target != "nvptx")
    return makeError("--target must be cpu or nvptx, got '" + Opts.Target + "'");
  if (Opts.Target != "nvptx" && Opts.Precision != "fp32")
    return makeError("--precision " + Opts.Precision + " is for --target nvptx "
                     "(GPU tensor cores); the CPU computes in fp32");
  if (Opts.Target == "nvptx") {
    auto M = loadOptimized(Opts.Model);
    if (!M)
      return M.takeError();
    return compileNvptx(Opts, **M);
  }
  llvm::StringRef Ext = llvm::sys::path::extension(Opts.Output);
  bool Aot = Opts.Emit.empty();
  if (Aot && Ext != ".so" && Ext != ".o")
    return makeError("pass -o NAME.so (a shared library) or -o NAME.o (an "
                     "object file), each with NAME.h, or --emit=ir, kernel-ir, "
                     "llvm, asm or obj to inspect a stage");
  if (!Aot && Opts.Emit != "ir" && Opts.Emit != "kernel-ir" &&
      Opts.Emit != "llvm" && Opts.Emit != "asm" && Opts.Emit != "obj")
    return makeError("--emit must be ir, kernel-ir, llvm, asm or obj, got '" +
                     Opts.Emit + "'");
  if (Opts.Emit == "obj" && Opts.Output == "-")
    return makeError("--emit=obj needs an output file: pass -o FILE.o");
  auto M = loadOptimized(Opts.Model);
  if (!M)
    return M.takeError();
  if (Aot) {
    auto F = entryFunction(**M);
    if (!F)
      return F.takeError();
    return compileAot(Opts, **F, Ext == ".so", {});
  }
  // Produce everything before opening the output, so that an error leaves
  // no file behind.
  std::string Text;
  llvm::SmallVector<char, 0> Binary;
  if (Opts.Emit == "ir") {
    // Weights go to NAME.weights next to NAME.dlc (ResNet-18 inline is
    // 158 MB of text); on standard output they are elided.
    llvm::raw_string_ostream OS(Text);
    PrintOptions PO;
    if (Opts.InlineWeights) {
    } else if (Opts.Output == "-") {
      PO.ElideTensorsAbove = WeightsInlineLimit;
      OS << ElidedWeightsNote;
    } else {
      llvm::SmallString<256> Weights(Opts.Output);
      llvm::sys::path::replace_extension(Weights, "weights");
      if (Weights == Opts.Output)
        return makeError("-o '" + Opts.Output + "': the IR text needs another "
                         "name than its weights file (use .dlc)");
      if (auto E = externalizeWeights(**M, Weights, WeightsInlineLimit))
        return E;
      (*M)->WeightsFile = llvm::sys::path::filename(Weights).str();
    }
    printModule(**M, OS, PO);
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
  if (auto E = compileModel(Opts)) {
    llvm::errs() << llvm::toString(std::move(E)) << "\n";
    return 1;
  }
  return 0;
}
