// `dlc test-onnx DIR...`: runs ONNX test folders (model.onnx plus
// test_data_set_N with input_K.pb / output_K.pb) through the public API, as
// onnxruntime's onnx_test_runner does: one line per case, then the total.
#include "Commands.h"

#include "api/OnnxTestFolder.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace dlc;

/// DIR itself when it is a test folder, else its subfolders that are, in
/// name order.
static std::vector<std::string> testFolders(const std::string &Dir) {
  if (isOnnxTestFolder(Dir))
    return {Dir};
  std::vector<std::string> Out;
  std::error_code EC;
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC))
    if (isOnnxTestFolder(It->path()))
      Out.push_back(It->path());
  llvm::sort(Out);
  return Out;
}

int dlc::testOnnxCommand(const TestOnnxOptions &Opts) {
  if (Opts.Engine != "jit" && Opts.Engine != "interp" && Opts.Engine != "auto") {
    llvm::errs() << "error: --engine must be 'jit', 'interp' or 'auto', got '"
                 << Opts.Engine << "'\n";
    return 1;
  }
  ModelOptions MO;
  MO.Engine = Opts.Engine;
  MO.OptLevel = Opts.OptLevel;
  MO.Threads = Opts.Threads;
  MO.ForceDynamic = Opts.Dynamic;
  MO.OnWarning = [](const std::string &W) { llvm::errs() << W << "\n"; };
  unsigned Passed = 0, Failed = 0;
  for (const std::string &Dir : Opts.Dirs) {
    if (!llvm::sys::fs::is_directory(Dir)) {
      llvm::errs() << "error: '" << Dir << "' is not a folder\n";
      return 1;
    }
    std::vector<std::string> Tests = testFolders(Dir);
    if (Tests.empty()) {
      llvm::errs() << "error: '" << Dir << "' holds no ONNX test (a folder "
                   << "with model.onnx and test_data_set_N)\n";
      return 1;
    }
    for (const std::string &T : Tests) {
      std::string Name = llvm::sys::path::filename(T).str();
      unsigned Sets = 0;
      if (llvm::Error E = runOnnxTestFolder(T, MO, &Sets)) {
        ++Failed;
        std::string Why = llvm::toString(std::move(E));
        std::replace(Why.begin(), Why.end(), '\n', ' ');
        llvm::outs() << "FAIL " << Name << ": " << Why << "\n";
      } else {
        ++Passed;
        llvm::outs() << "PASS " << Name << " (" << Sets << " data set"
                     << (Sets == 1 ? "" : "s") << ")\n";
      }
      llvm::outs().flush();
    }
  }
  llvm::outs() << "result: " << Passed << " passed, " << Failed
               << " failed, " << (Passed + Failed) << " total\n";
  return Failed ? 1 : 0;
}
